"""Kubernetes resource quantities (``10Gi``, ``500m``, ``2``), just enough to check and compare.

The teams config carries sizes and quota values that end up verbatim in
PersistentVolumes, PersistentVolumeClaims and ResourceQuotas. Checking them when the
hub starts turns a typo (``10GB``) into a config error naming the key, instead of an
API error at some user's first spawn. Comparing them is needed because a user in
several teams gets, per resource, the largest quota of those teams.

This is deliberately small (the hub must not depend on kubesim, which has the full
apimachinery implementation): the syntax of ``resource.Quantity`` and its exact value.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

# The exponent form comes first so that ``1E3`` is 1000 while ``1E`` alone is one exa.
QUANTITY_PATTERN = (
    r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_RE = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$"
)

QUANTITY_HINT = "must be a Kubernetes quantity such as 10Gi, 500m or 2"


def parse_quantity(text: str) -> Decimal:
    """The exact value of ``text`` (``"1Gi"`` -> ``1073741824``); ``ValueError`` if malformed."""
    if not isinstance(text, str):
        raise TypeError(f"quantity must be a string, not {type(text).__name__}")
    m = _RE.match(text)
    if m is None:
        raise ValueError(QUANTITY_HINT)
    try:
        number = Decimal(m["number"])
    except InvalidOperation as e:  # pragma: no cover - the regex admits only numbers
        raise ValueError(QUANTITY_HINT) from e
    if m["exp"]:
        return number.scaleb(int(m["exp"][1:]))
    suffix = m["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number.scaleb(_DECIMAL[suffix])


def quantity_text(value: object) -> str:
    """The quantity as the config gives it, as a string: YAML turns ``cpu: 32`` into an int.

    Booleans are refused (``True`` is an ``int`` in Python, and ``cpu: yes`` is a typo).
    """
    if isinstance(value, bool):
        raise ValueError(QUANTITY_HINT)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(QUANTITY_HINT)
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, str):
        return value.strip()
    raise ValueError(QUANTITY_HINT)
