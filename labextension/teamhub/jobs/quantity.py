"""Kubernetes resource quantities (``"500m"``, ``"4Gi"``, ``"1e3"``), parsed to exact
decimals so a job's requests can be compared with the user's quota *before* anything is
created (the notebook package cannot use the hub's parser; the grammar is small).

The grammar is the API's (``k8s.io/apimachinery/pkg/api/resource``): a signed decimal
number followed by a binary suffix (``Ki`` .. ``Ei``), a decimal SI suffix (``n u m k M G T
P E``) or a decimal exponent (``e3``, ``E-2``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: object) -> Decimal:
    """The exact value of a quantity (``"1.5Gi"`` -> ``1610612736``); ints and floats are
    taken as plain numbers. ``ValueError`` for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a quantity")
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    m = _QUANTITY.match(value)
    if not m:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity (a number with an optional suffix such "
            "as m, k, M, G, Ki, Mi, Gi)"
        )
    try:
        num = Decimal(m.group("num"))
    except InvalidOperation as e:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"{value!r} is not a quantity") from e
    suffix = m.group("suffix") or ""
    if suffix in _BINARY:
        return num * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return num.scaleb(int(suffix[1:]))
    return num.scaleb(_DECIMAL[suffix])


def cpu_string(value: object) -> str:
    """A CPU amount as the API writes it: ``2`` -> ``"2"``, ``0.5`` -> ``"500m"``; strings
    are checked and kept."""
    if isinstance(value, str):
        parse_quantity(value)
        return value
    q = parse_quantity(value)
    if q == q.to_integral_value():
        return str(int(q))
    milli = q * 1000
    if milli != milli.to_integral_value():
        raise ValueError(f"{value!r}: CPU amounts are counted in whole millicores (0.001)")
    return f"{int(milli)}m"


def memory_string(value: object) -> str:
    """A memory amount: ints are bytes; strings are checked and kept."""
    if isinstance(value, str):
        parse_quantity(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{value!r} is not a memory amount: use a string such as '4Gi' or bytes")


def format_quantity(value: Decimal, binary: bool = False) -> str:
    """A readable rendering for messages (``Decimal(2**33)`` -> ``"8Gi"`` with ``binary``)."""
    if binary and value > 0:
        for suffix, size in reversed(_BINARY.items()):
            if value % size == 0:
                return f"{int(value // size)}{suffix}"
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
