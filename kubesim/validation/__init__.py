"""Validation of every write, as kube-apiserver validates it.

Two stages, as on a real server. *Decoding* (schemas from ``kubernetes-validate`` for the
built-in types, the ``openAPIV3Schema`` for custom resources) fails with 400 BadRequest:
wrong JSON types, unparsable quantities and, under ``fieldValidation=Strict``, unknown
fields. *Validation* (the hand-written rules of ``pkg/apis/*/validation``: names, labels,
container names, volume mounts, requests <= limits, immutable fields) fails with 422
Invalid and a cause per field. ``SchemaValidator.check_write`` runs both and raises the
``ApiError`` the real server would answer with.

Modules: ``schema`` (loading kubernetes-validate's definitions, CRD structural schemas,
kubesim's decoder keywords), ``fastcheck`` (the compiled "is it valid?" answer that lets a
valid object skip ``jsonschema``), ``causes`` (schema errors into 400 messages or 422 causes),
``validator`` (``SchemaValidator``, ``check_write``), ``podspec`` / ``objects`` /
``updates`` (the hand-written create and update rules) and ``common`` (what those share).
Name and metadata rules are in ``kubesim.naming``; quantities in ``kubesim.quantity``.
"""

from kubesim.validation.causes import UNKNOWN_FIELD, unknown_fields
from kubesim.validation.objects import validate_job, validate_object
from kubesim.validation.podspec import validate_pod_spec
from kubesim.validation.schema import supported_versions
from kubesim.validation.updates import validate_update
from kubesim.validation.validator import SchemaValidator, check_write

__all__ = [
    "UNKNOWN_FIELD",
    "SchemaValidator",
    "check_write",
    "supported_versions",
    "unknown_fields",
    "validate_job",
    "validate_object",
    "validate_pod_spec",
    "validate_update",
]
