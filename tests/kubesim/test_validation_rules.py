"""kubesim.validation, create rules: names, metadata, pod specs and per-kind rules."""

from __future__ import annotations

import copy

import pytest

from kubesim.naming import validate_generate_name, validate_metadata, validate_name
from kubesim.validation import SchemaValidator, validate_job, validate_object, validate_pod_spec
from tests.kubesim.validation_manifests import (
    PVC,
    ROLE,
    ROLE_BINDING,
    batch_job,
    fields,
    notebook_pod,
    pytorch_validator,
    raises,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.fixture(scope="module")
def sv() -> SchemaValidator:
    return pytorch_validator()


# ----------------------------------------------------------- names, metadata
def test_name_rules_per_resource() -> None:
    assert fields(validate_name("pods", "Foo")) == [
        ("metadata.name", f'Invalid value: "Foo": {SUBDOMAIN_MSG}')
    ]
    assert fields(validate_name("namespaces", "team.a")) == [
        ("metadata.name", 'Invalid value: "team.a": must not contain dots')
    ]
    [(_, msg)] = fields(validate_name("services", "x" * 64))
    assert msg == f'Invalid value: "{"x" * 64}": must be no more than 63 characters'
    assert validate_name("persistentvolumeclaims", "claim-alice.home") == []
    assert fields(validate_name("roles", "teamhub:a/b%")) == [
        ("metadata.name", "Invalid value: \"teamhub:a/b%\": may not contain '/'"),
        ("metadata.name", "Invalid value: \"teamhub:a/b%\": may not contain '%'"),
    ]
    assert validate_name("clusterroles", "system:Weird Name") == []
    assert fields(validate_name("rolebindings", "..")) == [
        ("metadata.name", "Invalid value: \"..\": may not be '..'")
    ]
    assert fields(validate_object("secrets", {"metadata": {}})) == [
        ("metadata.name", "Required value: name or generateName is required")
    ]
    assert validate_generate_name("pods", "train-") == []
    assert fields(validate_generate_name("namespaces", "Team-")) == [
        (
            "metadata.generateName",
            'Invalid value: "Team-": a lowercase RFC 1123 label must '
            "consist of lower case alphanumeric characters or '-', and must start and end with an "
            "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )
    ]
    # generateName alone is enough on create: the server generates the name from it.
    assert validate_object("configmaps", {"metadata": {"generateName": "cfg-"}}) == []


def test_metadata_labels_annotations_namespace() -> None:
    obj = {
        "metadata": {
            "name": "ok",
            "namespace": "Bad_NS",
            "labels": {"hub.jupyter.org/username": "alice", "bad key": "ok", "k": "-bad"},
            "annotations": {"big": "x" * (256 * 1024)},
        }
    }
    got = fields(validate_object("configmaps", obj, namespaced=True))
    assert got[0][0] == "metadata.namespace"
    assert got[0][1].startswith('Invalid value: "Bad_NS": a lowercase RFC 1123 label must ')
    assert got[1] == (
        "metadata.labels",
        'Invalid value: "bad key": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    )
    assert got[2][0] == "metadata.labels"
    assert got[2][1].startswith('Invalid value: "-bad": a valid label must be an empty string')
    assert got[3] == ("metadata.annotations", "Too long: may not be more than 262144 bytes")
    assert fields(validate_metadata({"metadata": {"name": "p"}}, "pods", namespaced=True)) == [
        ("metadata.namespace", "Required value")
    ]
    # Cluster-scoped: the handler clears the namespace before validation.
    assert validate_metadata({"metadata": {"name": "pv", "namespace": "X"}}, "pods", False) == []


# ----------------------------------------------------------------- pod spec
def test_container_rules() -> None:
    spec = notebook_pod()["spec"]
    c = spec["containers"][0]
    c["volumeMounts"].append({"name": "scratch", "mountPath": "/data/team"})
    c["resources"]["requests"]["cpu"] = "2000m"
    c["resources"]["limits"]["cpu"] = "1"
    c["resources"]["requests"]["nvidia.com/gpu"] = "2"
    c["env"].append({"name": "A=B", "value": "x"})
    c["env"].append(
        {
            "name": "TOKEN",
            "value": "x",
            "valueFrom": {"secretKeyRef": {"name": "creds-alice", "key": "token"}},
        }
    )
    c["ports"].append({"containerPort": 70000, "name": "notebook-port", "protocol": "TCP"})
    spec["initContainers"][0]["name"] = "notebook"
    assert fields(validate_pod_spec(spec)) == [
        ("spec.containers[0].ports[1].name", 'Duplicate value: "notebook-port"'),
        (
            "spec.containers[0].ports[1].containerPort",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "spec.containers[0].env[5].name",
            'Invalid value: "A=B": a valid environment variable name must consist only of '
            "printable ASCII characters other than '='",
        ),
        (
            "spec.containers[0].env[6].valueFrom",
            'Invalid value: "": may not be specified when `value` is not empty',
        ),
        ("spec.containers[0].volumeMounts[4].name", 'Not found: "scratch"'),
        (
            "spec.containers[0].volumeMounts[4].mountPath",
            'Invalid value: "/data/team": must be unique',
        ),
        (
            "spec.containers[0].resources.requests",
            'Invalid value: "2": must be less than or equal to cpu limit of 1',
        ),
        (
            "spec.containers[0].resources.requests",
            'Invalid value: "2": must be equal to nvidia.com/gpu limit of 1',
        ),
        ("spec.initContainers[0].name", 'Duplicate value: "notebook"'),
    ]


def test_volume_and_pod_level_rules() -> None:
    spec = notebook_pod()["spec"]
    spec["volumes"] += [
        {"name": "home", "emptyDir": {}},
        {"name": "both", "emptyDir": {}, "hostPath": {"path": "/x"}},
        {"name": "none"},
        {"name": "cm", "configMap": {"defaultMode": 0o1000}},
    ]
    spec["restartPolicy"] = "Sometimes"
    spec["tolerations"].append({"operator": "Equal", "value": "x"})
    spec["containers"][0]["image"] = ""
    got = fields(validate_pod_spec(spec))
    assert got == [
        ("spec.volumes[3].name", 'Duplicate value: "home"'),
        ("spec.volumes[4].emptyDir", "Forbidden: may not specify more than 1 volume type"),
        ("spec.volumes[5]", "Required value: must specify a volume type"),
        ("spec.volumes[6].configMap.name", "Required value"),
        (
            "spec.volumes[6].configMap.defaultMode",
            "Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
        ),
        ("spec.containers[0].image", "Required value"),
        (
            "spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            "spec.tolerations[2].operator",
            'Invalid value: "Equal": operator must be Exists when '
            '`key` is empty, which means "match all values and all '
            'keys"',
        ),
    ]
    # A template may leave the image empty (a Pod may not).
    assert validate_pod_spec(batch_job()["spec"]["template"]["spec"], "spec.template.spec") == []


def test_job_rules() -> None:
    job = batch_job()
    del job["spec"]["template"]["spec"]["restartPolicy"]
    job["spec"]["parallelism"] = -1
    del job["spec"]["completions"]
    job["spec"]["template"]["metadata"]["labels"]["job-name"] = "x" * 64
    assert fields(validate_job(job)) == [
        ("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.completions", "Required value: when completion mode is Indexed"),
        (
            "spec.template.labels",
            f'Invalid value: "{"x" * 64}": must be no more than 63 characters',
        ),
        (
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Always": supported values: "OnFailure", "Never"',
        ),
    ]


def test_pvc_rbac_and_secret_rules(sv: SchemaValidator) -> None:
    pvc = copy.deepcopy(PVC)
    pvc["spec"]["accessModes"] = []
    del pvc["spec"]["resources"]
    err = raises(sv.check_write, "persistentvolumeclaims", pvc)
    assert err.message == (
        'PersistentVolumeClaim "team-ml-data" is invalid: [spec.accessModes: Required value: at '
        "least 1 access mode is required, spec.resources[storage]: Required value]"
    )
    role = copy.deepcopy(ROLE)
    role["rules"].append({"resources": ["pods"], "verbs": []})
    assert fields(validate_object("roles", role)) == [
        ("rules[3].verbs", "Required value: verbs must contain at least one value"),
        ("rules[3].apiGroups", "Required value: resource rules must supply at least one api group"),
    ]
    rb = copy.deepcopy(ROLE_BINDING)
    rb["roleRef"]["kind"] = "Rol"
    assert fields(validate_object("rolebindings", rb)) == [
        ("roleRef.kind", 'Unsupported value: "Rol": supported values: "Role", "ClusterRole"')
    ]
    tls = {
        "kind": "Secret",
        "metadata": {"name": "t"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA==", "bad key": "eA=="},
    }
    assert [f for f, _ in fields(validate_object("secrets", tls))] == [
        "data[bad key]",
        "data[tls.key]",
    ]
