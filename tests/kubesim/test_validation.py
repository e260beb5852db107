"""kubesim.validation: writes are judged (and answered) as kube-apiserver judges them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kubesim.errors import ApiError, Cause
from kubesim.naming import validate_generate_name, validate_metadata, validate_name
from kubesim.validation import (
    UNKNOWN_FIELD,
    SchemaValidator,
    supported_versions,
    unknown_fields,
    validate_job,
    validate_object,
    validate_pod_spec,
    validate_update,
)

CRDS = Path("/work/shared/crds")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.fixture(scope="module")
def sv() -> SchemaValidator:
    v = SchemaValidator()
    v.add_crd(json.loads((CRDS / "kubeflow.org_pytorchjobs.json").read_text()))
    return v


def notebook_pod() -> dict[str, Any]:
    """What KubeSpawner creates for a user server (with teamhub's volumes and secrets)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "jupyter-alice",
            "namespace": "teamhub-alice",
            "labels": {
                "app": "jupyterhub",
                "component": "singleuser-server",
                "heritage": "jupyterhub",
                "hub.jupyter.org/servername": "",
                "hub.jupyter.org/username": "alice",
            },
            "annotations": {"hub.jupyter.org/username": "alice", "teamhub.io/teams": "ml,nlp"},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "serviceAccountName": "notebook",
            "restartPolicy": "OnFailure",
            "schedulerName": "default-scheduler",
            "nodeSelector": {"node-role.kubernetes.io/user": "true"},
            "securityContext": {
                "fsGroup": 100,
                "runAsUser": 1000,
                "runAsGroup": 100,
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [
                {
                    "name": "block-cloud-metadata",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "true"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            "containers": [
                {
                    "name": "notebook",
                    "image": "quay.io/jupyter/scipy-notebook:2024-05-27",
                    "args": ["jupyterhub-singleuser", "--ip=0.0.0.0", "--port=8888"],
                    "imagePullPolicy": "IfNotPresent",
                    "workingDir": "/home/jovyan",
                    "ports": [{"name": "notebook-port", "containerPort": 8888, "protocol": "TCP"}],
                    "env": [
                        {
                            "name": "JUPYTERHUB_API_TOKEN",
                            "valueFrom": {
                                "secretKeyRef": {"name": "creds-alice", "key": "hub-token"}
                            },
                        },
                        {"name": "OIDC_TOKEN_FILE", "value": "/var/run/teamhub/access-token"},
                        {"name": "MEM_GUARANTEE", "value": "1073741824"},
                        {
                            "name": "POD_NAME",
                            "valueFrom": {
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}
                            },
                        },
                        {"name": "team.config-path", "value": "/etc/team"},
                    ],
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
                    },
                    "volumeMounts": [
                        {"name": "home", "mountPath": "/home/jovyan"},
                        {"name": "team-data", "mountPath": "/data/team", "readOnly": True},
                        {"name": "creds", "mountPath": "/var/run/teamhub", "readOnly": True},
                        {"name": "home", "mountPath": "/opt/conf", "subPath": "conf"},
                    ],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                    },
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "true"]}}},
                    "readinessProbe": {
                        "httpGet": {"path": "/user/alice/api", "port": "notebook-port"},
                        "periodSeconds": 10,
                    },
                }
            ],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
                {
                    "name": "team-data",
                    "persistentVolumeClaim": {"claimName": "team-ml-data", "readOnly": True},
                },
                {"name": "creds", "secret": {"secretName": "creds-alice", "defaultMode": 0o400}},
            ],
            "tolerations": [
                {
                    "key": "hub.jupyter.org/dedicated",
                    "operator": "Equal",
                    "value": "user",
                    "effect": "NoSchedule",
                },
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            ],
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "hub.jupyter.org/node-purpose",
                                        "operator": "In",
                                        "values": ["user"],
                                    }
                                ]
                            },
                        }
                    ]
                }
            },
        },
    }


def batch_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "train-3f9a",
            "namespace": "teamhub-alice",
            "labels": {"teamhub.io/owner": "alice", "teamhub.io/backend": "job"},
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": 2,
            "parallelism": 2,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {"teamhub.io/submission": "3f9a"}},
                "spec": {
                    "restartPolicy": "Never",
                    "subdomain": "train-3f9a",
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "quay.io/jupyter/pytorch-notebook:cuda12",
                            "command": ["torchrun", "train.py"],
                            "env": [{"name": "MASTER_ADDR", "value": "train-3f9a-0.train-3f9a"}],
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                            "volumeMounts": [{"name": "home", "mountPath": "/home/jovyan"}],
                        }
                    ],
                    "volumes": [
                        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}
                    ],
                },
            },
        },
    }


ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "teamhub:notebook", "namespace": "teamhub-alice"},
    "rules": [
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "watch", "delete"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods", "pods/log", "events"],
            "verbs": ["get", "list", "watch"],
        },
        {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs"], "verbs": ["*"]},
    ],
}
ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "notebook", "namespace": "teamhub-alice"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "teamhub:notebook",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "notebook", "namespace": "teamhub-alice"}],
}
PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "team-ml-data", "namespace": "teamhub-alice"},
    "spec": {
        "accessModes": ["ReadOnlyMany"],
        "resources": {"requests": {"storage": "100Gi"}},
        "storageClassName": "",
        "volumeName": "teamhub-ml-data-alice",
    },
}
NETPOL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "notebook-ingress", "namespace": "teamhub-alice"},
    "spec": {
        "podSelector": {"matchLabels": {"component": "singleuser-server"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "teamhub"}
                        },
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "component", "operator": "In", "values": ["proxy", "hub"]}
                            ]
                        },
                    }
                ],
                "ports": [{"port": 8888, "protocol": "TCP"}],
            }
        ],
    },
}


def pytorch_job() -> dict[str, Any]:
    replica = {
        "replicas": 1,
        "restartPolicy": "OnFailure",
        "template": {
            "metadata": {"labels": {"teamhub.io/submission": "77"}},
            "spec": {
                "containers": [
                    {
                        "name": "pytorch",
                        "image": "quay.io/jupyter/pytorch-notebook:cuda12",
                        "command": ["python", "train.py"],
                        "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}},
                    }
                ]
            },
        },
    }
    worker = copy.deepcopy(replica)
    worker["replicas"] = 3
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "ddp-77", "namespace": "teamhub-alice"},
        "spec": {
            "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 2},
            "nprocPerNode": "auto",
            "pytorchReplicaSpecs": {"Master": replica, "Worker": worker},
        },
    }


def fields(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in causes]


def raises(fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    return info.value


# ------------------------------------------------------------------ versions
def test_versions_pick_latest_not_newer_and_reject_unsupported() -> None:
    assert supported_versions()[-1] == "1.37"
    assert SchemaValidator("v1.36.4").version == "1.36"
    lo, hi = supported_versions()[0], supported_versions()[-1]
    for bad in ("1.99", "1.2"):
        with pytest.raises(ValueError, match=f"has schemas for {lo} to {hi}"):
            SchemaValidator(bad)


# ------------------------------------------------------------ valid manifests
@pytest.mark.parametrize(
    ("resource", "obj"),
    [
        ("pods", notebook_pod()),
        ("jobs", batch_job()),
        ("roles", ROLE),
        ("rolebindings", ROLE_BINDING),
        ("persistentvolumeclaims", PVC),
        ("networkpolicies", NETPOL),
        ("pytorchjobs", pytorch_job()),
    ],
)
def test_real_manifests_pass(sv: SchemaValidator, resource: str, obj: dict[str, Any]) -> None:
    assert sv.validate(obj) == []
    assert sv.check_write(resource, copy.deepcopy(obj), namespaced=True) == []


def test_unknown_kind_is_an_error_not_a_pass(sv: SchemaValidator) -> None:
    assert not sv.has_schema("kubeflow.org/v1", "TFJob")
    assert sv.has_schema("kubeflow.org/v1", "PyTorchJob")
    with pytest.raises(KeyError):
        sv.validate({"apiVersion": "kubeflow.org/v1", "kind": "TFJob"})


# --------------------------------------------------------------- decoding
def test_unknown_fields_are_400_strict_decoding_errors_in_document_order(
    sv: SchemaValidator,
) -> None:
    pod = notebook_pod()
    pod["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    pod["spec"]["foo"] = 1
    pod["metadata"]["labelz"] = {}
    causes = sv.validate(pod)
    assert unknown_fields(causes) == [
        "metadata.labelz",
        "spec.containers[0].imagePullPolicyy",
        "spec.foo",
    ]
    assert causes[0] == Cause(UNKNOWN_FIELD, 'unknown field "metadata.labelz"', "metadata.labelz")
    err = raises(sv.check_write, "pods", pod)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "metadata.labelz", unknown field "spec.containers[0].imagePullPolicyy", '
        'unknown field "spec.foo"'
    )


def test_warn_and_ignore_drop_unknown_fields(sv: SchemaValidator) -> None:
    pod = notebook_pod()
    pod["spec"]["foo"] = 1
    assert sv.check_write("pods", pod, field_validation="Warn") == ['unknown field "spec.foo"']
    assert "foo" not in pod["spec"]
    pod["spec"]["containers"][0]["bar"] = {"x": 1}
    assert sv.check_write("pods", pod, field_validation="Ignore") == []
    assert "bar" not in pod["spec"]["containers"][0]


def test_wrong_json_type_is_400_with_gos_decoder_message(sv: SchemaValidator) -> None:
    pod = notebook_pod()
    pod["spec"]["containers"][0]["ports"][0]["containerPort"] = "8888"
    err = raises(sv.check_write, "pods", pod)
    assert (err.code, err.message) == (
        400,
        (
            'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into '
            "Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"
        ),
    )
    [c] = [c for c in sv.validate(pod) if c.reason == "FieldValueTypeInvalid"]
    assert c.field == "spec.containers[0].ports[0].containerPort"

    job = batch_job()
    job["spec"]["template"]["spec"]["containers"] = {"name": "x"}
    assert raises(sv.check_write, "jobs", job).message.endswith(
        "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers"
        " of type []v1.Container"
    )
    job["spec"]["template"]["spec"]["containers"] = [{"name": "x", "image": "i", "tty": "yes"}]
    assert raises(sv.check_write, "jobs", job).message.startswith(
        'Job in version "v1" cannot be handled as a Job: json: cannot unmarshal string into Go '
        "struct field Container.spec.template.spec.containers.tty of type bool"
    )


def test_bad_quantity_is_400_with_parse_error(sv: SchemaValidator) -> None:
    pod = notebook_pod()
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "two"
    err = raises(sv.check_write, "pods", pod)
    assert err.code == 400
    assert err.message == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    [c] = sv.validate(pod)
    assert c.field == "spec.containers[0].resources.requests[cpu]"


def test_secret_data_must_be_base64(sv: SchemaValidator) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "data": {"token": "bm90IGJhc2U2NA==", "bad": "abc$"},
    }
    err = raises(sv.check_write, "secrets", secret)
    assert err.message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


def test_missing_and_null_required_fields_are_422(sv: SchemaValidator) -> None:
    pod = notebook_pod()
    del pod["spec"]["containers"]
    err = raises(sv.check_write, "pods", pod)
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == 'Pod "jupyter-alice" is invalid: spec.containers: Required value'
    assert err.status()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]

    pod = notebook_pod()
    pod["spec"]["containers"][0]["name"] = None
    assert fields(sv.validate(pod)) == [("spec.containers[0].name", "Required value")]


# ------------------------------------------------------------------- CRDs
def test_crd_misspelled_field_is_rejected_as_unknown(sv: SchemaValidator) -> None:
    job = pytorch_job()
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["replica"] = 2
    err = raises(sv.check_write, "pytorchjobs", job)
    assert (err.code, err.message) == (
        400,
        (
            'PyTorchJob in version "v1" cannot be handled as a PyTorchJob: strict decoding error: '
            'unknown field "spec.pytorchReplicaSpecs.Worker.replica"'
        ),
    )


def test_crd_wrong_type_is_422_like_kube_openapi(sv: SchemaValidator) -> None:
    job = pytorch_job()
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = "three"
    err = raises(sv.check_write, "pytorchjobs", job)
    assert err.code == 422
    assert err.message == (
        'PyTorchJob.kubeflow.org "ddp-77" is invalid: spec.pytorchReplicaSpecs.Worker.replicas: '
        'Invalid value: "string": spec.pytorchReplicaSpecs.Worker.replicas in body must be of '
        'type integer: "string"'
    )
    assert err.status()["details"]["causes"][0]["reason"] == "FieldValueTypeInvalid"


def test_crd_required_int_or_string_pattern_and_metadata(sv: SchemaValidator) -> None:
    job = pytorch_job()
    del job["spec"]["pytorchReplicaSpecs"]
    assert fields(sv.validate(job)) == [("spec.pytorchReplicaSpecs", "Required value")]

    job = pytorch_job()
    tpl = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    tpl["resources"]["limits"]["memory"] = "8 GB"
    tpl["resources"]["requests"] = {"cpu": True}
    f = "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].resources"
    pattern = (
        "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?"
        "(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
    )
    assert sorted(fields(sv.validate(job))) == [
        (
            f + ".limits.memory",
            f"Invalid value: \"8 GB\": {f}.limits.memory in body should match '{pattern}'",
        ),
        (
            f + ".requests.cpu",
            f'Invalid value: "boolean": {f}.requests.cpu in body must be of '
            'type integer,string: "boolean"',
        ),
    ]

    job = pytorch_job()
    job["metadata"]["labels"] = {"ok": 1}
    err = raises(sv.check_write, "pytorchjobs", job)
    assert err.message == (
        'PyTorchJob in version "v1" cannot be handled as a PyTorchJob: json: cannot unmarshal '
        "number into Go struct field ObjectMeta.metadata.labels of type string"
    )


def test_structural_schema_extensions() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {
                                        "size": {"type": "string", "enum": ["small", "large"]},
                                        "count": {"type": "integer", "minimum": 1, "maximum": 10},
                                        "port": {
                                            "x-kubernetes-int-or-string": True,
                                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                                        },
                                        "extra": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                        "template": {
                                            "type": "object",
                                            "x-kubernetes-embedded-resource": True,
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                    },
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
    sv = SchemaValidator()
    assert sv.add_crd(crd) == [("example.com/v1", "Widget")]
    good = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "n"},
        "spec": {
            "size": "small",
            "count": 3,
            "port": "http",
            "extra": {"anything": {"goes": [1]}},
            "template": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x"},
                "data": {"a": "b"},
            },
        },
    }
    assert sv.validate(good) == []
    bad = copy.deepcopy(good)
    bad["spec"].update(size="huge", count=11, port=1.5)
    bad["spec"]["template"] = {"kind": "ConfigMap"}
    assert sorted(fields(sv.validate(bad))) == [
        ("spec.count", "Invalid value: 11: spec.count in body should be less than or equal to 10"),
        (
            "spec.port",
            'Invalid value: "number": spec.port in body must be of type integer,string: "number"',
        ),
        ("spec.size", 'Unsupported value: "huge": supported values: "small", "large"'),
        ("spec.template.apiVersion", "Required value: must not be empty"),
    ]
    sv.remove_crd(crd)
    assert not sv.has_schema("example.com/v1", "Widget")


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


# ------------------------------------------------------------------ updates
def _with(obj: dict[str, Any], fn: Any) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    fn(new)
    return new


def test_pod_updates() -> None:
    old = notebook_pod()
    old["metadata"].update(uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    ok = _with(
        old,
        lambda p: (
            p["spec"]["containers"][0].update(image="quay.io/jupyter/scipy-notebook:new"),
            p["spec"]["tolerations"].append({"key": "x", "operator": "Exists"}),
            p["spec"].update(activeDeadlineSeconds=3600),
            p["metadata"]["labels"].update(extra="yes"),
        ),
    )
    assert validate_update("pods", old, ok) == []

    bad = _with(old, lambda p: p["spec"]["containers"][0]["ports"][0].update(containerPort=9999))
    [c] = validate_update("pods", old, bad)
    assert (c.reason, c.field) == ("FieldValueForbidden", "spec")
    assert c.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
        "be set to 1 if it was previously negative)\n  core.PodSpec{\n- \tContainers:"
    )

    longer = _with(old, lambda p: p["spec"].update(activeDeadlineSeconds=10))
    assert fields(
        validate_update(
            "pods", longer, _with(longer, lambda p: p["spec"].update(activeDeadlineSeconds=20))
        )
    ) == [
        (
            "spec.activeDeadlineSeconds",
            "Invalid value: 20: must be less than or equal to previous value",
        )
    ]
    assert fields(
        validate_update("pods", old, _with(old, lambda p: p["spec"]["tolerations"].pop(0)))
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
            _with(old, lambda p: p["spec"]["containers"].append({"name": "x", "image": "y"})),
        )
    ) == [("spec.containers", "Forbidden: pod updates may not add or remove containers")]
    assert fields(
        validate_update(
            "pods", old, _with(old, lambda p: p["metadata"].update(name="other", uid="u2"))
        )
    ) == [
        ("metadata.name", 'Invalid value: "other": field is immutable'),
        ("metadata.uid", 'Invalid value: "u2": field is immutable'),
    ]
    # An update without uid/creationTimestamp (a plain manifest PUT) is fine: the server
    # fills them from the stored object.
    bare = _with(old, lambda p: [p["metadata"].pop(k) for k in ("uid", "creationTimestamp")])
    assert validate_update("pods", old, bare) == []
    # Equal quantities in another spelling are no change (semantic equality).
    same = _with(
        old, lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(cpu="2000m")
    )
    assert validate_update("pods", old, same) == []


def test_pvc_and_pv_updates() -> None:
    bound = _with(
        PVC, lambda p: p.update(status={"phase": "Bound", "capacity": {"storage": "100Gi"}})
    )
    grow = _with(bound, lambda p: p["spec"]["resources"]["requests"].update(storage="200Gi"))
    assert validate_update("persistentvolumeclaims", bound, grow) == []
    shrink = _with(bound, lambda p: p["spec"]["resources"]["requests"].update(storage="50Gi"))
    assert fields(validate_update("persistentvolumeclaims", bound, shrink)) == [
        ("spec.resources.requests.storage", "Forbidden: field can not be less than status.capacity")
    ]
    pending = _with(PVC, lambda p: p["spec"].pop("volumeName"))
    assert validate_update("persistentvolumeclaims", pending, PVC) == []  # binding sets it
    unbound_grow = _with(
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
    claimed = _with(pv, lambda p: p["spec"].update(claimRef={"name": "c", "namespace": "n"}))
    assert validate_update("persistentvolumes", pv, claimed) == []
    moved = _with(pv, lambda p: p["spec"]["nfs"].update(path="/other"))
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
    changed = _with(
        job, lambda j: j["spec"]["template"]["spec"]["containers"][0].update(image="other")
    )
    [c] = validate_update("jobs", job, changed)
    assert c.field == "spec.template" and c.message.endswith(": field is immutable")
    assert fields(
        validate_update(
            "jobs",
            job,
            _with(job, lambda j: j["spec"].update(completionMode="NonIndexed", completions=3)),
        )
    ) == [
        ("spec.completions", "Invalid value: 3: field is immutable"),
        ("spec.completionMode", 'Invalid value: "NonIndexed": field is immutable'),
    ]
    assert (
        validate_update(
            "jobs", job, _with(job, lambda j: j["spec"].update(completions=4, parallelism=4))
        )
        == []
    )
    suspended = _with(job, lambda j: j["spec"].update(suspend=True))
    assert (
        validate_update(
            "jobs",
            suspended,
            _with(
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
            _with(secret, lambda s: s.update(data={"a": "eQ=="}, type="kubernetes.io/tls")),
        )
    ) == [
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable'),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
    ]
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}}
    assert fields(validate_update("configmaps", cm, _with(cm, lambda c: c.pop("immutable")))) == [
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
            "services", svc, _with(svc, lambda s: s["spec"].update(clusterIP="10.96.0.11"))
        )
    ) == [("spec.clusterIPs[0]", 'Invalid value: ["10.96.0.11"]: may not change once set')]
    assert fields(
        validate_update(
            "rolebindings",
            ROLE_BINDING,
            _with(ROLE_BINDING, lambda r: r["roleRef"].update(name="admin")),
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
    new = _with(old, lambda p: p["spec"].update(hostname="Bad"))
    err = raises(sv.check_write, "pods", new, old)
    assert err.code == 422
    assert err.message.startswith(
        'Pod "jupyter-alice" is invalid: [spec.hostname: Invalid value: "Bad": a lowercase RFC '
        "1123 label must consist of"
    )
    assert [c["field"] for c in err.status()["details"]["causes"]] == ["spec.hostname", "spec"]
