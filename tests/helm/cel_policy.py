"""Evaluate a rendered ValidatingAdmissionPolicy the way kube-apiserver does, with cel-python.

kubesim does not implement admission policies, so the chart's policy is checked here: its
match constraints and conditions select the request, its variables are evaluated in order
and its validations give Kubernetes' verdict (the failed validations' messages, in order).
cel-python implements standard CEL (with RE2 ``matches``, as Kubernetes); the two Kubernetes
string-library functions the policy uses, ``substring`` and ``join``, are provided below
with Kubernetes' semantics. An expression that errors raises here: under the policy's
``failurePolicy: Fail`` Kubernetes would refuse the pod, so for a valid pod that is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes


def _substring(s: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = str(s)
    return celtypes.StringType(text[int(start) :] if end is None else text[int(start) : int(end)])


def _join(items: Any, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(str(sep).join(str(x) for x in items))


FUNCTIONS = {"substring": _substring, "join": _join}


@dataclass
class Verdict:
    matched: bool
    denials: list[str]

    @property
    def allowed(self) -> bool:
        return not self.denials


class Policy:
    def __init__(self, policy: dict) -> None:
        self.env = celpy.Environment()
        spec = policy["spec"]
        self.spec = spec
        self.conditions = [self._compile(m["expression"]) for m in spec.get("matchConditions", [])]
        self.variables = [(v["name"], self._compile(v["expression"])) for v in spec["variables"]]
        self.validations = [
            (
                self._compile(v["expression"]),
                self._compile(v["messageExpression"]) if "messageExpression" in v else None,
                v.get("message", ""),
            )
            for v in spec["validations"]
        ]

    def _compile(self, expression: str) -> Any:
        return self.env.program(self.env.compile(expression), functions=FUNCTIONS)

    def _selected(self, namespace: dict, operation: str, resource: str) -> bool:
        labels = namespace["metadata"].get("labels") or {}
        constraints = self.spec["matchConstraints"]
        wanted = constraints["namespaceSelector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in wanted.items()):
            return False
        return any(
            operation in rule["operations"] and resource in rule["resources"]
            for rule in constraints["resourceRules"]
        )

    def admit(
        self, pod: dict, namespace: dict, operation: str = "CREATE", resource: str = "pods"
    ) -> Verdict:
        if not self._selected(namespace, operation, resource):
            return Verdict(False, [])
        activation: dict[str, Any] = {
            "object": celpy.json_to_cel(pod),
            "namespaceObject": celpy.json_to_cel(namespace),
            "request": celpy.json_to_cel(
                {"namespace": namespace["metadata"]["name"], "operation": operation}
            ),
        }
        if not all(bool(c.evaluate(activation)) for c in self.conditions):
            return Verdict(False, [])
        variables: dict[str, Any] = {}
        for name, program in self.variables:
            activation["variables"] = celtypes.MapType(
                {celtypes.StringType(k): v for k, v in variables.items()}
            )
            variables[name] = program.evaluate(activation)
        activation["variables"] = celtypes.MapType(
            {celtypes.StringType(k): v for k, v in variables.items()}
        )
        denials = []
        for check, message_expression, message in self.validations:
            if not bool(check.evaluate(activation)):
                text = message
                if message_expression is not None:
                    text = str(message_expression.evaluate(activation))
                denials.append(text)
        return Verdict(True, denials)
