"""The prebuilt JupyterLab extension: built, complete, current, and seen by JupyterLab.

``labextension/build.sh`` builds it into ``labextension/teamhub/labextension`` (the wheel
ships that folder to ``share/jupyter/labextensions/teamhub-jupyterlab``); ``./dev`` runs
it with ``--install-into .venv``, which puts the same files where ``pip install`` of the
wheel would. These tests fail when the build is missing or older than its sources (so the
suite never passes on a stale bundle), and ask ``jupyter labextension list`` itself whether
JupyterLab finds the extension and accepts it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "labextension"
BUILT = SOURCE / "teamhub" / "labextension"
NAME = "teamhub-jupyterlab"
REBUILD = "run labextension/build.sh (./dev test does)"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _built_package() -> dict:
    path = BUILT / "package.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the extension was not built; {REBUILD}")
    return json.loads(path.read_text())


def _source_version() -> str:
    return json.loads((SOURCE / "package.json").read_text())["version"]


def _labextension_list(env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """``jupyter labextension list``: the lines under each folder it lists."""
    exe = Path(sys.executable).parent / "jupyter-labextension"
    proc = subprocess.run(
        [str(exe), "list"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=True,
    )
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in (proc.stdout + proc.stderr).splitlines():
        line = ANSI.sub("", raw).rstrip()
        if line.startswith("/"):
            current = sections.setdefault(str(Path(line).resolve()), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return sections


def test_built_extension_is_complete() -> None:
    pkg = _built_package()
    assert pkg["name"] == NAME
    assert pkg["version"] == _source_version()
    build = pkg["jupyterlab"]["_build"]
    assert (BUILT / build["load"]).is_file(), f"the remote entry {build['load']} is missing"
    assert build["extension"] == "./extension"
    assert build["style"] == "./style"
    assert (BUILT / "static" / "style.js").is_file()
    install = json.loads((BUILT / "install.json").read_text())
    assert install == {
        "packageManager": "python",
        "packageName": "teamhub",
        "uninstallInstructions": install["uninstallInstructions"],
    }


def test_bundle_shares_jupyterlab_core_instead_of_copying_it() -> None:
    """Core packages are singletons JupyterLab provides; a copy in the bundle would mean
    two JupyterLabs (broken tokens) and a huge download."""
    static = BUILT / "static"
    entry = (BUILT / _built_package()["jupyterlab"]["_build"]["load"]).read_text()
    for shared in ("@jupyterlab/application", "@jupyterlab/apputils", "@lumino/widgets"):
        assert shared in entry, f"{shared} is not declared shared"
    total = sum(p.stat().st_size for p in static.rglob("*.js"))
    assert total < 1_000_000, f"the bundle is {total} bytes: a core package was bundled?"


def test_build_is_newer_than_its_sources() -> None:
    built_at = (BUILT / "package.json").stat().st_mtime if (BUILT / "package.json").exists() else 0
    sources = [
        *(SOURCE / "src").rglob("*.ts"),
        *(SOURCE / "style").rglob("*"),
        SOURCE / "package.json",
        SOURCE / "package-lock.json",
    ]
    stale = [
        str(p.relative_to(ROOT)) for p in sources if p.is_file() and p.stat().st_mtime > built_at
    ]
    assert not stale, f"changed since the last build: {stale[:5]}; {REBUILD}"


def test_jupyterlab_accepts_the_built_extension(tmp_path: Path) -> None:
    """The built folder as JupyterLab finds it in a data directory: listed, enabled, OK
    (JupyterLab checks the package metadata and the shared-package versions)."""
    data = tmp_path / "data"
    shutil.copytree(BUILT, data / "labextensions" / NAME)
    sections = _labextension_list({"JUPYTER_PATH": str(data)})
    lines = sections.get(str((data / "labextensions").resolve()), [])
    version = re.escape(_source_version())
    wanted = re.compile(rf"{NAME} v{version} enabled OK \(python, teamhub\)")
    assert any(wanted.fullmatch(ln) for ln in lines), f"not listed as enabled and OK: {sections}"


def test_installed_in_this_environment() -> None:
    """``jupyter labextension list`` in this environment shows the extension enabled, and
    the installed files are the current build."""
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / NAME
    assert (installed / "package.json").is_file(), (
        f"{installed} is missing: install the wheel, or run "
        "labextension/build.sh --install-into .venv (./dev does)"
    )
    installed_pkg = json.loads((installed / "package.json").read_text())
    assert installed_pkg["jupyterlab"]["_build"] == _built_package()["jupyterlab"]["_build"], (
        f"{installed} holds an older build; {REBUILD}"
    )
    sections = _labextension_list()
    lines = sections.get(str(installed.parent.resolve()), [])
    assert any(ln.startswith(f"{NAME} v") and " enabled OK" in ln for ln in lines), sections
