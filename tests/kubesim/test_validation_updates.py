"""kubesim.validation, update rules: immutable fields and what each kind lets change."""

from __future__ import annotations

import pytest

from kubesim.validation import SchemaValidator, validate_job, validate_object, validate_update
from tests.kubesim.validation_manifests import (
    PVC,
    ROLE_BINDING,
    batch_job,
    edited,
    fields,
    notebook_pod,
    pytorch_validator,
    raises,
)


@pytest.fixture(scope="module")
def sv() -> SchemaValidator:
    return pytorch_validator()


def test_pod_updates() -> None:
    old = notebook_pod()
    old["metadata"].update(uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    ok = edited(
        old,
        lambda p: (
            p["spec"]["containers"][0].update(image="quay.io/jupyter/scipy-notebook:new"),
            p["spec"]["tolerations"].append({"key": "x", "operator": "Exists"}),
            p["spec"].update(activeDeadlineSeconds=3600),
            p["metadata"]["labels"].update(extra="yes"),
        ),
    )
    assert validate_update("pods", old, ok) == []

    bad = edited(old, lambda p: p["spec"]["containers"][0]["ports"][0].update(containerPort=9999))
    [c] = validate_update("pods", old, bad)
    assert (c.reason, c.field) == ("FieldValueForbidden", "spec")
    assert c.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
        "be set to 1 if it was previously negative)\n  core.PodSpec{\n- \tContainers:"
    )

    longer = edited(old, lambda p: p["spec"].update(activeDeadlineSeconds=10))
    assert fields(
        validate_update(
            "pods", longer, edited(longer, lambda p: p["spec"].update(activeDeadlineSeconds=20))
        )
    ) == [
        (
            "spec.activeDeadlineSeconds",
            "Invalid value: 20: must be less than or equal to previous value",
        )
    ]
    assert fields(
        validate_update("pods", old, edited(old, lambda p: p["spec"]["tolerations"].pop(0)))
    ) == [
        (
            "spec.tolerations",
            "Forbidden: existing toleration can not be modified except its tolerationSeconds",
        )
    ]
    assert fields(
        validate_update(
            "pods",
            old,
            edited(old, lambda p: p["spec"]["containers"].append({"name": "x", "image": "y"})),
        )
    ) == [("spec.containers", "Forbidden: pod updates may not add or remove containers")]
    assert fields(
        validate_update(
            "pods", old, edited(old, lambda p: p["metadata"].update(name="other", uid="u2"))
        )
    ) == [
        ("metadata.name", 'Invalid value: "other": field is immutable'),
        ("metadata.uid", 'Invalid value: "u2": field is immutable'),
    ]
    # An update without uid/creationTimestamp (a plain manifest PUT) is fine: the server
    # fills them from the stored object.
    bare = edited(old, lambda p: [p["metadata"].pop(k) for k in ("uid", "creationTimestamp")])
    assert validate_update("pods", old, bare) == []
    # Equal quantities in another spelling are no change (semantic equality).
    same = edited(
        old, lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(cpu="2000m")
    )
    assert validate_update("pods", old, same) == []


def test_pvc_and_pv_updates() -> None:
    bound = edited(
        PVC, lambda p: p.update(status={"phase": "Bound", "capacity": {"storage": "100Gi"}})
    )
    grow = edited(bound, lambda p: p["spec"]["resources"]["requests"].update(storage="200Gi"))
    assert validate_update("persistentvolumeclaims", bound, grow) == []
    shrink = edited(bound, lambda p: p["spec"]["resources"]["requests"].update(storage="50Gi"))
    assert fields(validate_update("persistentvolumeclaims", bound, shrink)) == [
        ("spec.resources.requests.storage", "Forbidden: field can not be less than status.capacity")
    ]
    pending = edited(PVC, lambda p: p["spec"].pop("volumeName"))
    assert validate_update("persistentvolumeclaims", pending, PVC) == []  # binding sets it
    unbound_grow = edited(
        pending, lambda p: p["spec"]["resources"]["requests"].update(storage="200Gi")
    )
    [c] = validate_update("persistentvolumeclaims", pending, unbound_grow)
    assert (c.field, c.message.split("\n")[0]) == (
        "spec",
        (
            "Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims"
        ),
    )

    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv"},
        "spec": {
            "capacity": {"storage": "1Ti"},
            "accessModes": ["ReadOnlyMany"],
            "nfs": {"server": "nfs.example.com", "path": "/ml"},
            "persistentVolumeReclaimPolicy": "Retain",
        },
    }
    assert validate_object("persistentvolumes", pv) == []
    claimed = edited(pv, lambda p: p["spec"].update(claimRef={"name": "c", "namespace": "n"}))
    assert validate_update("persistentvolumes", pv, claimed) == []
    moved = edited(pv, lambda p: p["spec"]["nfs"].update(path="/other"))
    [c] = validate_update("persistentvolumes", pv, moved)
    assert c.field == "spec.persistentvolumesource"
    assert c.message.startswith(
        "Forbidden: spec.persistentvolumesource is immutable after creation\n"
    )


def test_job_secret_configmap_service_rolebinding_updates() -> None:
    job = batch_job()
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}
    job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = "u"
    assert validate_job(job) == []
    changed = edited(
        job, lambda j: j["spec"]["template"]["spec"]["containers"][0].update(image="other")
    )
    [c] = validate_update("jobs", job, changed)
    assert c.field == "spec.template" and c.message.endswith(": field is immutable")
    assert fields(
        validate_update(
            "jobs",
            job,
            edited(job, lambda j: j["spec"].update(completionMode="NonIndexed", completions=3)),
        )
    ) == [
        ("spec.completions", "Invalid value: 3: field is immutable"),
        ("spec.completionMode", 'Invalid value: "NonIndexed": field is immutable'),
    ]
    assert (
        validate_update(
            "jobs", job, edited(job, lambda j: j["spec"].update(completions=4, parallelism=4))
        )
        == []
    )
    suspended = edited(job, lambda j: j["spec"].update(suspend=True))
    assert (
        validate_update(
            "jobs",
            suspended,
            edited(
                suspended,
                lambda j: j["spec"]["template"]["spec"].update(nodeSelector={"gpu": "a100"}),
            ),
        )
        == []
    )

    secret = {"kind": "Secret", "metadata": {"name": "s"}, "immutable": True, "data": {"a": "eA=="}}
    assert fields(
        validate_update(
            "secrets",
            secret,
            edited(secret, lambda s: s.update(data={"a": "eQ=="}, type="kubernetes.io/tls")),
        )
    ) == [
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable'),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
    ]
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}}
    assert fields(validate_update("configmaps", cm, edited(cm, lambda c: c.pop("immutable")))) == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set")
    ]

    svc = {
        "kind": "Service",
        "metadata": {"name": "train-3f9a"},
        "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 29500}]},
    }
    assert validate_object("services", svc) == []
    assert fields(
        validate_update(
            "services", svc, edited(svc, lambda s: s["spec"].update(clusterIP="10.96.0.11"))
        )
    ) == [("spec.clusterIPs[0]", 'Invalid value: ["10.96.0.11"]: may not change once set')]
    assert fields(
        validate_update(
            "rolebindings",
            ROLE_BINDING,
            edited(ROLE_BINDING, lambda r: r["roleRef"].update(name="admin")),
        )
    ) == [
        (
            "roleRef",
            'Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role",'
            '"name":"admin"}: cannot change roleRef',
        )
    ]


def test_check_write_update_answers_422(sv: SchemaValidator) -> None:
    old = notebook_pod()
    new = edited(old, lambda p: p["spec"].update(hostname="Bad"))
    err = raises(sv.check_write, "pods", new, old)
    assert err.code == 422
    assert err.message.startswith(
        'Pod "jupyter-alice" is invalid: [spec.hostname: Invalid value: "Bad": a lowercase RFC '
        "1123 label must consist of"
    )
    assert [c["field"] for c in err.status()["details"]["causes"]] == ["spec.hostname", "spec"]
