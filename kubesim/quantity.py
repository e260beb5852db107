"""Resource quantities (``500m``, ``1Gi``, ``1e3``) and resource lists, as apimachinery has them.

Why exactness matters here: quota and scheduler messages print quantities
(``requested: requests.memory=1Gi``), and the API echoes every quantity it stores
in canonical form (``1000m`` comes back as ``1``, ``0.5`` as ``500m``). Clients and
tests compare those strings, so this module follows ``k8s.io/apimachinery``'s
``resource.Quantity`` rules: the accepted syntax and its error messages, rounding
up to a nano unit, and the three output formats with their canonicalisation.

Values are plain :class:`decimal.Decimal`; the *format* (how a value was written)
is carried separately, as the API does, because Decimal arithmetic cannot keep it.

The resource-list helpers at the end compute a pod's effective requests and limits,
the one formula the scheduler, the kubelet and the quota evaluator all depend on.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any

DECIMAL_SI = "DecimalSI"  # 12M, 500m
BINARY_SI = "BinarySI"  # 12Mi
DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
FORMATS = (DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT)

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_DECIMAL_SUFFIXES.update({"P": 15, "E": 18})
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BIN_BY_EXP = {v // 10: k for k, v in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_NANO = Decimal("1e-9")
_MAX_INT64 = Decimal(2**63 - 1)
# Wide enough that no realistic quantity is rounded by Decimal itself.
_CTX = Context(prec=200)

# Resource names whose values are bytes: printed in BinarySI when that is exact.
_BYTE_RESOURCES = {"memory", "storage", "ephemeral-storage"}


def _scan(s: str) -> tuple[str, str]:
    """Split ``s`` into number and suffix the way apimachinery's scanner does.

    It is more lenient than the regex it quotes in its error (``-`` alone is 0, ``.5``
    and ``5.`` are numbers), so the scanner, not the regex, decides what is valid.
    """
    pos, end = 0, len(s)
    if pos < end and s[0] in "+-":
        pos += 1
    start = pos
    while pos < end and s[pos].isdigit() and s[pos].isascii():
        pos += 1
    if pos < end and s[pos] == ".":
        pos += 1
        while pos < end and s[pos].isdigit() and s[pos].isascii():
            pos += 1
    # "5." and ".5" are numbers; a bare sign or "." is zero, as in Go's scanner.
    number = s[:start] + (s[start:pos].rstrip(".") or "0")
    if number[start:].startswith("."):
        number = s[:start] + "0" + number[start:]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos].isdigit() and s[pos].isascii():
        pos += 1
    if pos != end:
        raise ValueError(ERR_FORMAT_WRONG)
    return number, s[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) for a suffix, or ValueError(ERR_SUFFIX)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        if re.fullmatch(r"[+-]?[0-9]+", digits) and abs(int(digits)) < 2**31:
            return 10, int(digits), DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _parse(s: str | int | float | Decimal) -> tuple[Decimal, str]:
    if isinstance(s, bool):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(s, float):
        s = repr(s)
    return _parse_text(str(s).strip())  # the API trims JSON strings before parsing


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> tuple[Decimal, str]:
    # Cached: the scheduler, quota and kubelet parse the same few strings ("500m", "1Gi")
    # on every pass over every pod; Decimal results are immutable. Errors are not cached.
    if not text:
        raise ValueError(ERR_FORMAT_WRONG)
    number, suffix = _scan(text)
    base, exponent, fmt = _interpret(suffix)
    with localcontext(_CTX):
        try:
            amount = Decimal(number)
        except InvalidOperation as e:
            raise ValueError(ERR_NUMERIC) from e
        amount = amount.scaleb(exponent) if base == 10 else amount * (2**exponent)
        negative = amount < 0
        amount = abs(amount)
        # Non-zero values round *up* to 1n: asking for a tiny amount still gets some.
        if amount:
            amount = amount.quantize(_NANO, rounding=ROUND_UP)
        if fmt == BINARY_SI and amount > _MAX_INT64:
            amount = _MAX_INT64
        if fmt == BINARY_SI and 0 < amount < 1:
            fmt = DECIMAL_SI
        if negative:
            amount = -amount
        return _normalize(amount), fmt


def _normalize(d: Decimal) -> Decimal:
    """Strip trailing zeros but never switch to exponent notation for integers."""
    with localcontext(_CTX):
        n = d.normalize()
        if n == 0:
            return Decimal(0)
        if n.as_tuple().exponent > 0:  # type: ignore[operator]
            n = n.quantize(Decimal(1))
        return n


def parse_quantity(s: str | int | float | Decimal) -> Decimal:
    """Parse a quantity (``"500m"``, ``"1Gi"``, ``"1e3"``, ``2``) into its exact value.

    Raises ValueError with apimachinery's own message: ``quantities must match the
    regular expression '...'``, ``unable to parse quantity's suffix`` or ``unable to
    parse numeric part of quantity``.
    """
    return _parse(s)[0]


def quantity_format(s: str | int | float | Decimal) -> str:
    """The format the API records for ``s``: DecimalSI, BinarySI or DecimalExponent."""
    return _parse(s)[1]


def canonical_quantity(s: str | int | float | Decimal) -> str:
    """``s`` as the API echoes it back after storing it (``"1000m"`` -> ``"1"``)."""
    value, fmt = _parse(s)
    return format_quantity(value, fmt)


def _decimal_mantissa(d: Decimal) -> tuple[int, int]:
    """(integer mantissa, exponent multiple of 3) with trailing zeros moved out."""
    sign, digits, exp = d.as_tuple()
    mantissa = int("".join(map(str, digits))) if digits else 0
    exp = int(exp)
    while mantissa and mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    while exp % 3:
        mantissa *= 10
        exp -= 1
    if exp < -9:  # below nano cannot come from parsing; print it in nano units
        mantissa = -(-mantissa // 10 ** (-9 - exp))
        exp = -9
    return (-mantissa if sign else mantissa), exp


def _hint_format(d: Decimal, hint: str) -> str:
    if hint in FORMATS:
        return hint
    name = hint.rsplit("/", 1)[-1] if ".storageclass.storage.k8s.io/" in hint else hint
    for prefix in ("requests.", "limits."):
        name = name.removeprefix(prefix)
    is_bytes = name in _BYTE_RESOURCES or name.startswith("hugepages-")
    if is_bytes and d == d.to_integral_value() and d and int(d) % 1024 == 0:
        return BINARY_SI
    return DECIMAL_SI


@functools.lru_cache(maxsize=4096)
def format_quantity(d: Decimal | int, hint: str = DECIMAL_SI) -> str:
    """Render ``d`` the way the API prints a quantity (status, quota and event messages).

    ``hint`` is a format name (``"DecimalSI"``, ``"BinarySI"``, ``"DecimalExponent"``)
    or a resource name. For a resource name the format is guessed as the API would
    have recorded it for the usual spelling: byte resources (``memory``,
    ``requests.storage``, ``hugepages-2Mi`` ...) print in BinarySI when the value is
    a whole multiple of 1024 (``1Gi``, ``512Mi``), everything else in DecimalSI
    (``500m``, ``2``, ``1G``). Pass the format itself when you know it.

    Cached: quota status re-renders the same few values at every write in a namespace,
    and the text depends only on the value (equal Decimals print alike) and the hint.
    """
    with localcontext(_CTX):
        d = Decimal(d)
        if d == 0:
            return "0"
        fmt = _hint_format(d, hint)
        if fmt == BINARY_SI:
            if -1024 < d < 1024 or d != d.to_integral_value():
                fmt = DECIMAL_SI  # never lose precision, never print 0.5Ki
            else:
                n, exp = int(d), 0
                while n % 1024 == 0 and exp < 6:
                    n //= 1024
                    exp += 1
                return f"{n}{_BIN_BY_EXP[exp]}" if exp else str(n)
        mantissa, exp = _decimal_mantissa(d)
        if fmt == DECIMAL_EXPONENT:
            return f"{mantissa}e{exp}" if exp else str(mantissa)
        if exp > 18:  # beyond Exa there is no suffix: keep the digits
            mantissa *= 10 ** (exp - 18)
            exp = 18
        return f"{mantissa}{_DEC_BY_EXP[exp]}"


def value(d: Decimal) -> int:
    """Whole units, rounded away from zero (Go's ``Quantity.Value``)."""
    return int(Decimal(d).to_integral_value(rounding=ROUND_UP))


def milli_value(d: Decimal) -> int:
    """Thousandths, rounded away from zero (Go's ``Quantity.MilliValue``, used for cpu)."""
    return int((Decimal(d) * 1000).to_integral_value(rounding=ROUND_UP))


# ---------------------------------------------------------------- resource lists of pods


def resource_list(rl: dict[str, Any] | None) -> dict[str, Decimal]:
    """A ``ResourceList`` (``{"cpu": "500m"}``) as exact values."""
    return {k: parse_quantity(v) for k, v in (rl or {}).items()}


def container_resources(c: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """A container's (requests, limits) after API defaulting: a limit without a request
    is also the request, so callers need not depend on the server having defaulted."""
    res = c.get("resources") or {}
    limits = resource_list(res.get("limits"))
    requests = {**limits, **resource_list(res.get("requests"))}
    return requests, limits


def add_resources(total: dict[str, Decimal], more: dict[str, Decimal]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, Decimal(0)) + v


def _max_resources(total: dict[str, Decimal], other: dict[str, Decimal]) -> None:
    for k, v in other.items():
        if k not in total or v > total[k]:
            total[k] = v


def pod_resources(
    pod: dict[str, Any], kind: str = "requests", defaults: dict[str, Decimal] | None = None
) -> dict[str, Decimal]:
    """A pod's total ``requests`` or ``limits``: containers summed, init containers at
    their peak, sidecars (``restartPolicy: Always`` init containers) kept running,
    pod-level resources and overhead applied.

    This is ``PodRequests``/``PodLimits`` from component-helpers (the sidecar KEP
    formula), which the scheduler, the kubelet and the quota evaluator all share.
    ``defaults`` fills resources a container leaves unset (the scheduler's scoring
    assumes 100m cpu and 200Mi memory).
    """
    which = 0 if kind == "requests" else 1
    spec = pod.get("spec") or {}
    result: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        rl = dict(container_resources(c)[which])
        for k, v in (defaults or {}).items():
            rl.setdefault(k, v)
        add_resources(result, rl)
    sidecars: dict[str, Decimal] = {}
    init_peak: dict[str, Decimal] = {}
    for c in spec.get("initContainers") or []:
        rl = dict(container_resources(c)[which])
        for k, v in (defaults or {}).items():
            rl.setdefault(k, v)
        if c.get("restartPolicy") == "Always":
            add_resources(result, rl)
            add_resources(sidecars, rl)
            current = dict(sidecars)
        else:
            current = dict(rl)
            add_resources(current, sidecars)
        _max_resources(init_peak, current)
    _max_resources(result, init_peak)
    pod_level = resource_list((spec.get("resources") or {}).get(("requests", "limits")[which]))
    for k, v in pod_level.items():
        if k in ("cpu", "memory") or k.startswith("hugepages-"):
            result[k] = v
    overhead = resource_list(spec.get("overhead"))
    for k, v in overhead.items():
        if which == 0:
            result[k] = result.get(k, Decimal(0)) + v
        elif result.get(k):  # overhead only raises limits that are set and non-zero
            result[k] += v
    return result


def effective_requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    """The pod's effective requests (max of init containers vs sum of containers, + overhead)."""
    return pod_resources(pod, "requests")


def effective_limits(pod: dict[str, Any]) -> dict[str, Decimal]:
    """The pod's effective limits, same formula; overhead only added to set limits."""
    return pod_resources(pod, "limits")
