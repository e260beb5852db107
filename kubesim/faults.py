"""Request counters and fault injection, switchable at run time from Python.

Tests and benchmarks use the counters to assert "no polling" and "N requests per spawn";
the faults let them check that clients survive what real clusters do: slow responses,
5xx/429 answers, watch streams that drop, and tokens that expire.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ErrorRule:
    code: int  # 500, 503 or 429
    rate: float  # 0..1
    verbs: frozenset[str] = frozenset()  # empty: all verbs
    resources: frozenset[str] = frozenset()  # plural names, "pods/log" style; empty: all


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every API request
    errors: list[ErrorRule] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add_error(
        self,
        code: int,
        rate: float,
        verbs: set[str] | None = None,
        resources: set[str] | None = None,
    ) -> ErrorRule:
        if code not in (429, 500, 503):
            raise ValueError("injected error codes are 429, 500 or 503")
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        rule = ErrorRule(code, rate, frozenset(verbs or ()), frozenset(resources or ()))
        self.errors.append(rule)
        return rule

    def clear(self) -> None:
        self.latency = 0.0
        self.errors.clear()

    def pick_error(self, verb: str, resource: str) -> int | None:
        for rule in self.errors:
            if rule.verbs and verb not in rule.verbs:
                continue
            if rule.resources and resource not in rule.resources:
                continue
            if self._rng.random() < rule.rate:
                return rule.code
        return None


@dataclass
class Counters:
    """Requests served, by (verb, resource, namespace); ``resource`` includes subresource."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def record(self, verb: str, resource: str, namespace: str) -> None:
        self.requests[(verb, resource, namespace)] += 1

    def total(
        self, verb: str | None = None, resource: str | None = None, namespace: str | None = None
    ) -> int:
        return sum(
            n
            for (v, r, ns), n in self.requests.items()
            if (verb is None or v == verb)
            and (resource is None or r == resource)
            and (namespace is None or ns == namespace)
        )

    def by_verb(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (v, _, _), n in self.requests.items():
            out[v] += n
        return dict(out)

    def reset(self) -> None:
        self.requests.clear()
