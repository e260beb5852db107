"""Rendering helm/teamhub with the real Helm library (helm-python-sdk, Helm 4 in-process).

The z2jh dependency is declared in Chart.yaml but not fetched (no network in CI), so the
chart is rendered with ``jupyterhub.enabled=false``: teamhub's own objects only. Where Helm
needs the dependency to be present (``lint`` reports a missing one), a copy of the chart
gets an empty stand-in ``charts/jupyterhub`` of the declared name and version.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "teamhub"
EXAMPLE_VALUES = ROOT / "helm" / "examples" / "values.yaml"
Z2JH_SCHEMA = ROOT / "helm" / "z2jh" / "values.schema.json"
RELEASE = "teamhub"
NAMESPACE = "jupyterhub"


def example_values() -> dict[str, Any]:
    """The representative install (helm/examples/values.yaml)."""
    return yaml.safe_load(EXAMPLE_VALUES.read_text())


def without_hub(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``values`` with the z2jh dependency disabled (it is not present here)."""
    out = copy.deepcopy(values or {})
    out.setdefault("jupyterhub", {})["enabled"] = False
    return out


def render_files(
    values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    """Template path -> rendered text (raises HelmValuesError / HelmRenderError)."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(without_hub(values), name=name, namespace=namespace)


def render(
    values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """Every manifest the chart renders for ``values``, parsed."""
    out = []
    for path, text in sorted(render_files(values, name=name, namespace=namespace).items()):
        if path.endswith(".txt"):
            continue
        out += [doc for doc in yaml.safe_load_all(text) if doc]
    return out


def merged_values(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chart's defaults coalesced with ``values``, as Helm hands them to templates."""
    with helm.Chart.load(CHART) as chart:
        return chart.merge_values(values or {})


def find(manifests: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]


def one(manifests: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def chart_with_dependency_stub(tmp_path: Path) -> Path:
    """A copy of the chart whose ``charts/`` holds an empty chart standing in for z2jh, so
    that ``helm lint`` (which checks declared dependencies are present) can run offline."""
    dest = tmp_path / "teamhub"
    shutil.copytree(CHART, dest)
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (dep,) = [d for d in meta["dependencies"] if d["name"] == "jupyterhub"]
    stub = dest / "charts" / "jupyterhub"
    stub.mkdir(parents=True)
    (stub / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": dep["name"], "version": dep["version"]})
    )
    return dest
