"""JSON merge, JSON and strategic merge patches give what kube-apiserver gives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.errors import ApiError
from kubesim.patch import (
    PatchMeta,
    SchemaLookup,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)

REJECTED = "the server rejected our request due to an error in our request"


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "jupyter-alice",
            "namespace": "team-a",
            "labels": {"app": "jupyterhub", "component": "singleuser-server"},
            "finalizers": ["teamhub.io/volumes"],
        },
        "spec": {
            "containers": [
                {
                    "name": "notebook",
                    "image": "teamhub/notebook:1.0",
                    "env": [{"name": "JUPYTERHUB_USER", "value": "alice"}],
                },
                {"name": "sidecar", "image": "teamhub/creds:1.0"},
            ],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "home-alice"}},
                {"name": "team", "persistentVolumeClaim": {"claimName": "team-a"}},
            ],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        },
    }


@pytest.fixture(scope="module")
def pod_schema() -> SchemaLookup:
    schema = SchemaLookup.for_kind("v1", "Pod")
    assert schema is not None
    return schema


def smp(patch: Any, schema: SchemaLookup, original: dict | None = None) -> dict:
    return strategic_merge_patch(original or pod(), patch, schema)


def containers(obj: dict) -> dict[str, dict]:
    return {c["name"]: c for c in obj["spec"]["containers"]}


def api_error(fn, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


# -- schema lookup -----------------------------------------------------------------------------


def test_schema_lookup_reads_patch_metadata_from_bundled_schemas(pod_schema) -> None:
    assert pod_schema.name == "io.k8s.api.core.v1.Pod"
    assert pod_schema.patch_meta(["spec", "containers"]) == PatchMeta(("merge",), "name")
    assert pod_schema.patch_meta(["spec", "volumes"]) == PatchMeta(("merge", "retainKeys"), "name")
    assert pod_schema.patch_meta(["spec", "volumes"]).strategy == "merge"
    assert pod_schema.patch_meta(["metadata", "ownerReferences"]).merge_key == "uid"
    # finalizers: a primitive list merged as a set, with no merge key
    assert pod_schema.patch_meta(["metadata", "finalizers"]) == PatchMeta(("merge",), "")
    # tolerations carry no strategy: the list is replaced
    assert pod_schema.patch_meta(["spec", "tolerations"]) == PatchMeta()
    # lists are stepped through: containers -> Container -> env -> EnvVar
    env, meta = pod_schema.lookup(["spec", "containers", "env"])
    assert env is not None and env.name == "io.k8s.api.core.v1.EnvVar"
    assert meta == PatchMeta(("merge",), "name")
    assert pod_schema.lookup(["spec", "containers", "ports"])[1].merge_key == "containerPort"
    assert pod_schema.lookup(["spec", "nope"]) == (None, PatchMeta())


def test_schema_lookup_by_group_version_kind() -> None:
    job = SchemaLookup.for_kind("batch/v1", "Job")
    assert job is not None and job.name == "io.k8s.api.batch.v1.Job"
    deploy = SchemaLookup.for_kind("apps/v1", "Deployment")
    assert deploy is not None and deploy.patch_meta(["spec", "strategy"]).retain_keys
    pdb = SchemaLookup.for_kind("policy/v1", "PodDisruptionBudget")
    assert pdb is not None and pdb.patch_meta(["spec", "selector"]).strategy == "replace"
    assert SchemaLookup.for_kind("teamhub.io/v1", "TeamVolume") is None  # custom resource
    assert SchemaLookup.for_kind("v1", "Job") is None  # wrong group
    # The 2 MB definitions file is loaded once per version.
    assert job.defs is deploy.defs
    with pytest.raises(ValueError):
        SchemaLookup.for_kind("v1", "Pod", k8s_version="0.1")


def test_schema_lookup_follows_cross_file_refs() -> None:
    defs = {
        "Root": {"properties": {"items": {"$ref": "/api/_definitions.json#/$defs/List"}}},
        "List": {
            "type": "array",
            "items": {"$ref": "#/$defs/Item"},
        },
        "Item": {"properties": {"name": {"type": "string"}}},
    }
    root = SchemaLookup(defs, "Root")
    item, _ = root.child("items")
    assert item is not None and item.name == "Item"
    assert "name" in item.schema["properties"]


# -- strategic merge patch: lists merged by key -------------------------------------------------


def test_patch_container_image_by_name(pod_schema) -> None:
    original = pod()
    patch = {"spec": {"containers": [{"name": "sidecar", "image": "teamhub/creds:2.0"}]}}
    out = smp(patch, pod_schema, original)
    assert containers(out)["sidecar"]["image"] == "teamhub/creds:2.0"
    assert containers(out)["notebook"] == pod()["spec"]["containers"][0]
    assert [c["name"] for c in out["spec"]["containers"]] == ["notebook", "sidecar"]
    assert original == pod()  # inputs are not mutated


def test_add_env_var_to_one_container(pod_schema) -> None:
    patch = {"spec": {"containers": [{"name": "notebook", "env": [{"name": "GPU", "value": "1"}]}]}}
    out = smp(patch, pod_schema)
    # Like the real server, an item the live list lacks is placed before the untouched ones.
    assert containers(out)["notebook"]["env"] == [
        {"name": "GPU", "value": "1"},
        {"name": "JUPYTERHUB_USER", "value": "alice"},
    ]
    assert "env" not in containers(out)["sidecar"]


def test_set_element_order_puts_new_items_where_the_client_wants(pod_schema) -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [
                {"name": "notebook"},
                {"name": "sidecar"},
                {"name": "x"},
            ],
            "containers": [{"name": "x", "image": "busybox"}],
        }
    }
    out = smp(patch, pod_schema)
    assert [c["name"] for c in out["spec"]["containers"]] == ["notebook", "sidecar", "x"]
    order = [{"name": "sidecar"}, {"name": "notebook"}]
    reordered = smp({"spec": {"$setElementOrder/containers": order}}, pod_schema)
    assert [c["name"] for c in reordered["spec"]["containers"]] == ["sidecar", "notebook"]


def test_set_element_order_must_list_patched_items(pod_schema) -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "notebook"}],
            "containers": [{"name": "x", "image": "busybox"}],
        }
    }
    err = api_error(smp, patch, pod_schema)
    assert err.code == 500
    assert err.message.startswith("the order in patch list:\n[map[image:busybox name:x]]\n")


def test_delete_volume_with_patch_delete(pod_schema) -> None:
    out = smp({"spec": {"volumes": [{"name": "team", "$patch": "delete"}]}}, pod_schema)
    assert out["spec"]["volumes"] == [
        {"name": "home", "persistentVolumeClaim": {"claimName": "home-alice"}}
    ]


def test_patch_replace_directive_replaces_the_list(pod_schema) -> None:
    patch = {"spec": {"volumes": [{"name": "scratch", "emptyDir": {}}, {"$patch": "replace"}]}}
    assert smp(patch, pod_schema)["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_retain_keys_swaps_a_volume_source(pod_schema) -> None:
    patch = {
        "spec": {
            "volumes": [
                {"name": "team", "$retainKeys": ["name", "emptyDir"], "emptyDir": {"medium": ""}}
            ]
        }
    }
    vols = {v["name"]: v for v in smp(patch, pod_schema)["spec"]["volumes"]}
    assert vols["team"] == {"name": "team", "emptyDir": {"medium": ""}}
    bad = {"spec": {"volumes": [{"name": "team", "$retainKeys": ["name"], "emptyDir": {}}]}}
    err = api_error(smp, bad, pod_schema)
    assert (err.code, err.message) == (400, "invalid patch format of retainKeys")


def test_list_without_strategy_is_replaced(pod_schema) -> None:
    patch = {"spec": {"tolerations": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]}}
    assert smp(patch, pod_schema)["spec"]["tolerations"] == patch["spec"]["tolerations"]


# -- strategic merge patch: maps and primitive lists --------------------------------------------


def test_labels_null_deletes_and_others_merge(pod_schema) -> None:
    out = smp({"metadata": {"labels": {"component": None, "team": "a"}}}, pod_schema)
    assert out["metadata"]["labels"] == {"app": "jupyterhub", "team": "a"}


def test_finalizers_merge_as_a_set(pod_schema) -> None:
    out = smp({"metadata": {"finalizers": ["teamhub.io/volumes", "kubernetes"]}}, pod_schema)
    assert out["metadata"]["finalizers"] == ["teamhub.io/volumes", "kubernetes"]  # patch order
    # union without duplicates; an item the server did not have comes before the untouched ones
    out = smp({"metadata": {"finalizers": ["kubernetes"]}}, pod_schema)
    assert out["metadata"]["finalizers"] == ["kubernetes", "teamhub.io/volumes"]
    gone = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["teamhub.io/volumes"]}}
    assert smp(gone, pod_schema)["metadata"]["finalizers"] == []
    typo = {"metadata": {"$deleteFromPrimitiveListX/finalizers": ["teamhub.io/volumes"]}}
    err = api_error(smp, typo, pod_schema)
    assert (err.code, err.message) == (400, "invalid patch format of primitive list")


def test_set_element_order_on_a_primitive_list(pod_schema) -> None:
    order = ["teamhub.io/volumes", "kubernetes"]
    patch = {"metadata": {"$setElementOrder/finalizers": order, "finalizers": ["kubernetes"]}}
    assert smp(patch, pod_schema)["metadata"]["finalizers"] == order
    patch = {"metadata": {"$setElementOrder/finalizers": ["a"], "finalizers": ["kubernetes"]}}
    assert api_error(smp, patch, pod_schema).message == (
        "the order in patch list:\n[kubernetes]\n doesn't match $setElementOrder list:\n[a]"
    )


def test_map_directives(pod_schema) -> None:
    out = smp({"metadata": {"labels": {"$patch": "replace", "only": "this"}}}, pod_schema)
    assert out["metadata"]["labels"] == {"only": "this"}
    out = smp({"metadata": {"labels": {"$patch": "delete"}}}, pod_schema)
    assert out["metadata"]["labels"] == {}
    out = smp({"metadata": {"annotations": {"$patch": "delete"}}}, pod_schema)
    assert "annotations" not in out["metadata"]


def test_new_fields_drop_nulls_and_directives(pod_schema) -> None:
    patch = {"spec": {"securityContext": {"runAsUser": 1000, "fsGroup": None}}}
    assert smp(patch, pod_schema)["spec"]["securityContext"] == {"runAsUser": 1000}
    new = {"spec": {"containers": [{"name": "extra", "image": "x", "command": None}]}}
    assert containers(smp(new, pod_schema))["extra"] == {"name": "extra", "image": "x"}


def test_retain_keys_strategy_on_deployment_strategy() -> None:
    schema = SchemaLookup.for_kind("apps/v1", "Deployment")
    deploy = {
        "kind": "Deployment",
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    }
    plain = strategic_merge_patch(deploy, {"spec": {"strategy": {"type": "Recreate"}}}, schema)
    assert plain["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(deploy, patch, schema)["spec"]["strategy"] == {"type": "Recreate"}


def test_replace_strategy_on_pdb_selector() -> None:
    schema = SchemaLookup.for_kind("policy/v1", "PodDisruptionBudget")
    pdb = {"spec": {"selector": {"matchLabels": {"app": "hub", "tier": "web"}}}}
    out = strategic_merge_patch(pdb, {"spec": {"selector": {"matchLabels": {"a": "b"}}}}, schema)
    assert out["spec"]["selector"] == {"matchLabels": {"a": "b"}}


# -- strategic merge patch: errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        (["not", "a", "map"], 400, (
            "json: cannot unmarshal array into Go value of type map[string]interface {}")),
        ({"spec": {"containers": [{"image": "x"}]}}, 500,
         "map: map[image:x] does not contain declared merge key: name"),
        ({"spec": {"containers": [{"name": "notebook", "$patch": "merge"}]}}, 500,
         "merging lists cannot yet be specified in the patch"),
        ({"spec": {"volumes": [{"name": "home", "$patch": "explode"}]}}, 500,
         "unknown patch type: explode in map: map[$patch:explode name:home]"),
        ({"metadata": {"finalizers": [1]}}, 500,
         "list element types are not identical: [[teamhub.io/volumes] [1]]"),
        ({"metadata": {"$setElementOrder/finalizers": "x"}}, 500,
         "expected a []interface {}, but received a string"),
    ],
)  # fmt: skip
def test_smp_errors(pod_schema, patch: Any, code: int, message: str) -> None:
    err = api_error(smp, patch, pod_schema)
    assert (err.code, err.message) == (code, message)


def test_smp_list_of_lists_is_unprocessable(pod_schema) -> None:
    original = pod()
    original["metadata"]["finalizers"] = []
    err = api_error(smp, {"metadata": {"finalizers": [["a"]]}}, pod_schema, original)
    assert (err.code, err.reason, err.message) == (422, "Invalid", REJECTED)


# -- JSON patch --------------------------------------------------------------------------------


def test_json_patch_applies_operations_in_order() -> None:
    original = pod()
    ops = [
        {"op": "test", "path": "/spec/containers/0/name", "value": "notebook"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "teamhub/notebook:2.0"},
        {"op": "add", "path": "/metadata/labels/team", "value": "a"},
        {"op": "remove", "path": "/spec/tolerations"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "x"},
    ]
    out = json_patch(original, ops)
    assert out["spec"]["containers"][0]["image"] == "teamhub/notebook:2.0"
    assert out["metadata"]["labels"]["team"] == "a"
    assert "tolerations" not in out["spec"]
    assert out["metadata"]["finalizers"] == ["teamhub.io/volumes", "x"]
    assert original == pod()
    assert json_patch(original, None) == original  # a null body decodes as no operations


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/metadata/name", "value": "jupyter-bob"}],
        [{"op": "remove", "path": "/metadata/annotations"}],
        [{"op": "replace", "path": "/spec/missing", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
        [{"op": "add", "path": "/spec/containers/9", "value": {}}],
    ],
)
def test_failing_json_patch_is_the_generic_422(ops: list) -> None:
    original = pod()
    err = api_error(json_patch, original, ops)
    assert (err.code, err.reason, err.message) == (422, "Invalid", REJECTED)
    assert err.status()["message"] == REJECTED
    assert original == pod()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "add"}, "cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
        ("x", "cannot unmarshal string into Go value of type []handlers.jsonPatchOp"),
        ([1], "cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
        (
            [{"op": True}],
            "cannot unmarshal bool into Go struct field jsonPatchOp.op of type string",
        ),
    ],
)
def test_json_patch_body_that_is_not_a_list_of_ops_is_400(body: Any, message: str) -> None:
    err = api_error(json_patch, pod(), body)
    assert (err.code, err.message) == (400, f"error decoding patch: json: {message}")


def test_json_patch_operation_limit() -> None:
    ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001
    assert api_error(json_patch, pod(), ops).code == 413


# -- JSON merge patch --------------------------------------------------------------------------


def test_merge_patch_rfc7386() -> None:
    original = pod()
    patch = {
        "metadata": {"labels": {"component": None, "team": "a"}, "annotations": {"x": "1"}},
        "spec": {"tolerations": [], "nodeSelector": {"gpu": "a100", "drop": None}},
    }
    out = json_merge_patch(original, patch)
    assert out["metadata"]["labels"] == {"app": "jupyterhub", "team": "a"}
    assert out["metadata"]["annotations"] == {"x": "1"}
    assert out["spec"]["tolerations"] == []  # lists are replaced, never merged
    assert out["spec"]["nodeSelector"] == {"gpu": "a100"}  # nulls in new maps are dropped
    assert out["spec"]["containers"] == pod()["spec"]["containers"]
    assert original == pod()
    assert json_merge_patch(original, {"spec": None}) == {
        k: v for k, v in pod().items() if k != "spec"
    }
    # a scalar replaced by an object takes the object without its nulls
    assert json_merge_patch({"a": 1}, {"a": {"b": None, "c": 2}}) == {"a": {"c": 2}}


def test_merge_patch_containers_list_is_replaced_wholesale() -> None:
    out = json_merge_patch(pod(), {"spec": {"containers": [{"name": "only", "image": "x"}]}})
    assert out["spec"]["containers"] == [{"name": "only", "image": "x"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Invalid JSON Patch"),
        ([{"op": "add"}], (
            "error decoding patch: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}")),
        (3, (
            "error decoding patch: json: cannot unmarshal number into Go value of type "
            "map[string]interface {}")),
    ],
)  # fmt: skip
def test_merge_patch_body_must_be_an_object(body: Any, message: str) -> None:
    err = api_error(json_merge_patch, pod(), body)
    assert (err.code, err.message) == (400, message)


def test_patch_functions_do_not_share_structure_with_the_patch(pod_schema) -> None:
    patch = {"metadata": {"annotations": {"a": "1"}}}
    for fn in (json_merge_patch, lambda o, p: strategic_merge_patch(o, p, pod_schema)):
        out = fn(pod(), copy.deepcopy(patch))
        out["metadata"]["annotations"]["a"] = "changed"
        assert patch == {"metadata": {"annotations": {"a": "1"}}}
