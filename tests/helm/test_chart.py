"""The chart renders, lints strictly and produces objects every supported Kubernetes
(1.32 to 1.37) accepts; its values schema is generated from the model and names the bad key;
what it hands to Zero to JupyterHub passes z2jh's own schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from teamhub_hub.teams import TeamsConfig, teams_config_schema

from tests.helm.chart import (
    CHART,
    ROOT,
    Z2JH_SCHEMA,
    chart_with_dependency_stub,
    example_values,
    find,
    merged_values,
    one,
    render,
    render_files,
    without_hub,
)

KUBERNETES_VERSIONS = ["1.32", "1.33", "1.34", "1.35", "1.36", "1.37"]
VALUE_SETS = {"defaults": lambda: {}, "example": example_values}
#: Custom resources no schema of kubernetes-validate covers (checked in test_kueue_*).
CUSTOM_GROUPS = ("kueue.x-k8s.io/",)


def load_generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "helm_generate_schema", ROOT / "helm" / "generate_schema.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ lint and validation
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
@pytest.mark.parametrize("kube", ["1.32", "1.37"])
def test_lint_is_clean_in_strict_mode(tmp_path: Path, values: str, kube: str) -> None:
    chart = chart_with_dependency_stub(tmp_path)
    report = helm.lint(
        chart, without_hub(VALUE_SETS[values]()), strict=True, kube_version=f"v{kube}.0"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_chart_declares_z2jh_as_a_dependency_and_kubernetes_1_30() -> None:
    with helm.Chart.load(CHART) as chart:
        meta = chart.metadata
        assert chart.dependencies == []  # declared, not vendored
    assert meta["dependencies"] == [
        {
            "name": "jupyterhub",
            "version": "4.4.0",
            "repository": "https://hub.jupyter.org/helm-chart/",
            "condition": "jupyterhub.enabled",
        }
    ]
    # ValidatingAdmissionPolicy v1 is GA from 1.30; install refuses older clusters.
    assert meta["kubeVersion"] == ">=1.30.0-0"
    assert helm.dependency_list(CHART)[0]["status"] == "missing"  # nothing under charts/


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
@pytest.mark.parametrize("kube", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_kubernetes(values: str, kube: str) -> None:
    manifests = render(VALUE_SETS[values]())
    builtin = [m for m in manifests if not m["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert {m["kind"] for m in builtin} >= {
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for m in builtin:
        kubernetes_validate.validate(m, kube, strict=True)


def test_kueue_objects_only_when_enabled_and_shaped_for_kueue_v1beta1() -> None:
    assert find(render(), "ClusterQueue") == []
    manifests = render(example_values())
    flavors = {f["metadata"]["name"]: f for f in find(manifests, "ResourceFlavor")}
    assert set(flavors) == {"default-flavor", "gpu-a100"}
    assert flavors["gpu-a100"]["spec"]["nodeLabels"] == {
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"
    }
    assert "spec" not in flavors["default-flavor"]
    vision = one(manifests, "ClusterQueue", "teamhub-team-vision")
    assert vision["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    spec = vision["spec"]
    # Admits the workloads of every member of the team: namespaces the hub labels.
    assert spec["namespaceSelector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "teamhub",
        "teamhub.io/component": "namespace",
        "team.teamhub.io/vision": "true",
    }
    assert spec["cohort"] == "research"
    (group,) = spec["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    quotas = {
        f["name"]: {r["name"]: r["nominalQuota"] for r in f["resources"]} for f in group["flavors"]
    }
    # Every flavor covers every resource of the group (Kueue requires it): 0 when unset.
    assert quotas == {
        "default-flavor": {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "0"},
        "gpu-a100": {"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "8"},
    }


# ------------------------------------------------------------------ the values schema
def test_committed_values_schema_is_generated_and_current() -> None:
    gen = load_generator()
    assert gen.is_current(), (
        "stale helm/teamhub/values.schema.json: run python helm/generate_schema.py --write"
    )
    assert gen.main(["--check"]) == 0


def test_values_schema_embeds_the_teams_config_schema_and_is_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    teams = teams_config_schema()
    # Not written twice: the model's schema, moved under $defs.
    for name, definition in teams["$defs"].items():
        assert schema["$defs"][name] == definition
    assert schema["$defs"]["TeamsConfig"]["properties"] == teams["properties"]
    assert schema["properties"]["teamsConfig"]["$ref"] == "#/$defs/TeamsConfig"

    def objects(node: Any) -> list[dict]:
        found = []
        if isinstance(node, dict):
            if "properties" in node or "patternProperties" in node:
                found.append(node)
            for value in node.values():
                found += objects(value)
        elif isinstance(node, list):
            for value in node:
                found += objects(value)
        return found

    closed = objects({k: v for k, v in schema.items() if k != "properties"})
    closed += [schema] + [
        p for k, p in schema["properties"].items() if k not in ("jupyterhub", "global")
    ]
    for obj in closed:
        if "$ref" not in obj:
            assert obj.get("additionalProperties") is False, obj


def test_the_charts_default_namespace_prefix_is_the_models() -> None:
    default = TeamsConfig.model_fields["namespace_prefix"].default
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["teamsConfig"]["namespacePrefix"] == default
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert f'default "{default}"' in helpers


BAD_VALUES = [
    # (values file, what Helm's message must name)
    (
        "teamsConfig:\n  teams:\n    vision:\n      groups: [vision]\n"
        "      volumes:\n        - name: data\n          mountPath: data\n"
        "          source: {nfs: {server: nfs, path: /x}}\n",
        "/teamsConfig/teams/vision/volumes/0/mountPath",
    ),
    (
        "teamsConfig:\n  teams:\n    vision:\n      groups: [vision]\n      imagez: []\n",
        "'imagez'",
    ),
    ("teamconfig: {}\n", "'teamconfig'"),
    ("teamsConfig:\n  teams:\n    Vision: {groups: [v]}\n", "'Vision'"),
    ("admissionPolicy:\n  validationActions: [Block]\n", "/admissionPolicy/validationActions/0"),
    (
        "kueue:\n  enabled: true\n  teams:\n    vision:\n      flavors:\n"
        "        default-flavor: {cpu: lots}\n",
        "/kueue/teams/vision/flavors/default-flavor/cpu",
    ),
]


@pytest.mark.parametrize(("text", "named"), BAD_VALUES)
def test_a_bad_values_file_fails_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "bad-values.yaml"
    path.write_text(text)
    values = helm.values_from_yaml(path.read_text())
    with pytest.raises(helm.HelmValuesError) as err:
        render_files(values)
    assert named in str(err.value)
    report = helm.lint(chart_with_dependency_stub(tmp_path), without_hub(values), strict=True)
    assert any(named in e for e in report["errors"]), report


# ------------------------------------------------------------------ template checks
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"kueue": {"enabled": True, "teams": {"robots": {"flavors": {"default-flavor": {}}}}}},
            'kueue.teams.robots: there is no team "robots" in teamsConfig.teams',
        ),
        (
            {
                "teamsConfig": {"teams": {"vision": {"groups": ["v"]}}},
                "kueue": {"enabled": True, "teams": {"vision": {"flavors": {"h100": {"cpu": 1}}}}},
            },
            "kueue.teams.vision.flavors.h100: not among kueue.resourceFlavors (default-flavor)",
        ),
        (
            {"teamsConfig": {"teams": {"vision": {"groups": ["v"], "images": ["repo/[ab]*"]}}}},
            'teamsConfig.teams.vision.images: "repo/[ab]*"',
        ),
        (
            {
                "teamsConfig": {"teams": {"vision": {"groups": ["v"], "clusterQueue": "gpus"}}},
                "kueue": {
                    "enabled": True,
                    "teams": {"vision": {"flavors": {"default-flavor": {}}}},
                },
            },
            'teamsConfig.teams.vision.clusterQueue is "gpus", but kueue.teams.vision creates '
            'the ClusterQueue "teamhub-team-vision"',
        ),
    ],
)
def test_inconsistent_values_fail_at_render_with_a_message(change: dict, message: str) -> None:
    with pytest.raises(helm.HelmRenderError) as err:
        render_files(change)
    assert message in str(err.value)


def test_replacing_the_hubs_extra_volumes_must_keep_the_teams_config() -> None:
    values = copy.deepcopy(merged_values({}))
    with helm.Chart.load(CHART) as chart:  # the chart's own settings pass the check
        assert chart.render(values, name="teamhub", namespace="jupyterhub")
    values["jupyterhub"]["hub"]["extraVolumes"] = [{"name": "mine", "emptyDir": {}}]
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmRenderError) as err:
        # jupyterhub enabled (the check only matters then); the dependency is absent here.
        chart.render(values, name="teamhub", namespace="jupyterhub")
    assert 'must include a volume of the ConfigMap "teamhub-teams"' in str(err.value)
    values["jupyterhub"]["hub"]["extraVolumes"] = [
        {"name": "teams", "configMap": {"name": "teamhub-teams"}}
    ]
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmRenderError) as err:
        chart.render(values, name="teamhub", namespace="jupyterhub")
    assert 'must mount the volume "teams" at /usr/local/etc/teamhub' in str(err.value)


@pytest.mark.parametrize(
    ("release", "jupyterhub", "expected"),
    [
        ("teamhub", {}, "hub"),  # z2jh's default fullnameOverride ""
        ("prod", {"fullnameOverride": None}, "prod-jupyterhub-hub"),
        ("jupyterhub-prod", {"fullnameOverride": None}, "jupyterhub-prod-hub"),
        ("prod", {"fullnameOverride": "th"}, "th-hub"),
        ("prod", {"hub": {"serviceAccount": {"name": "hubby"}}}, "hubby"),
        ("prod", {"hub": {"serviceAccount": {"create": False}}}, "default"),
    ],
)
def test_rbac_binds_the_hub_serviceaccount_z2jh_creates(
    release: str, jupyterhub: dict, expected: str
) -> None:
    bindings = find(
        render({"jupyterhub": jupyterhub}, name=release, namespace="hubns"), "ClusterRoleBinding"
    )
    assert len(bindings) == 2
    for b in bindings:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": expected, "namespace": "hubns"}]


def test_everything_cluster_scoped_is_named_per_release() -> None:
    a = {
        m["metadata"]["name"]
        for m in render(example_values(), name="a")
        if "namespace" not in m["metadata"]
    }
    b = {
        m["metadata"]["name"]
        for m in render(example_values(), name="b")
        if "namespace" not in m["metadata"]
    }
    # ResourceFlavors are shared by design (Kueue's node classes); ClusterQueues are named
    # by the namespace prefix, which two installs must not share anyway.
    shared = {"default-flavor", "gpu-a100", "teamhub-team-vision", "teamhub-team-nlp"}
    assert a & b == shared


# ------------------------------------------------------------------ values for z2jh
def z2jh_schema_without_required() -> dict:
    """z2jh's schema minus `required`: the keys it requires come from z2jh's own defaults,
    which Helm merges under ours before validating; every key we set is still checked."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            # The keyword is a list; a dict is a property named "required" (e.g. in
            # singleuser.extraNodeAffinity) and stays.
            return {
                k: strip(v)
                for k, v in node.items()
                if not (k == "required" and isinstance(v, list))
            }
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(json.loads(Z2JH_SCHEMA.read_text()))


def z2jh_errors(values: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(z2jh_schema_without_required())
    return [
        "/".join(map(str, e.absolute_path)) + ": " + e.message
        for e in validator.iter_errors(values)
    ]


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_values_handed_to_z2jh_pass_its_schema(values: str) -> None:
    handed = merged_values(VALUE_SETS[values]())["jupyterhub"]
    assert handed["hub"]["config"]["JupyterHub"]["spawner_class"]  # the chart's own presets
    assert z2jh_errors(handed) == []


def test_a_typo_in_the_values_for_z2jh_is_caught() -> None:
    handed = merged_values(
        {"jupyterhub": {"hub": {"confg": {}}, "singleuser": {"storage": {"tpye": "none"}}}}
    )
    errors = z2jh_errors(handed["jupyterhub"])
    assert any(e.startswith("hub: ") and "'confg'" in e for e in errors), errors
    assert any(e.startswith("singleuser/storage: ") and "'tpye'" in e for e in errors), errors


def test_z2jh_schema_copy_matches_the_shared_reference() -> None:
    shared = ROOT.parent / "shared" / "z2jh" / "values.schema.json"
    if not shared.exists():
        pytest.skip("no ../shared beside this checkout")
    assert json.loads(Z2JH_SCHEMA.read_text()) == json.loads(shared.read_text())
