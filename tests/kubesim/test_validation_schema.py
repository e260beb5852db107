"""kubesim.validation, decoding stage: schemas, unknown fields, Go decoder errors, CRDs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.errors import Cause
from kubesim.validation import UNKNOWN_FIELD, SchemaValidator, supported_versions, unknown_fields
from tests.kubesim.validation_manifests import (
    NETPOL,
    PVC,
    ROLE,
    ROLE_BINDING,
    batch_job,
    fields,
    notebook_pod,
    pytorch_job,
    pytorch_validator,
    raises,
)


@pytest.fixture(scope="module")
def sv() -> SchemaValidator:
    return pytorch_validator()


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
