"""Quantities parse, round and print exactly as apimachinery's resource.Quantity does."""

from decimal import Decimal

import pytest

from kubesim.quantity import (
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    canonical_quantity,
    effective_limits,
    effective_requests,
    format_quantity,
    milli_value,
    parse_quantity,
    pod_resources,
    quantity_format,
    value,
)


@pytest.mark.parametrize(
    ("text", "exact", "fmt", "canonical"),
    [
        ("500m", "0.5", "DecimalSI", "500m"),
        ("0.5", "0.5", "DecimalSI", "500m"),
        (".5", "0.5", "DecimalSI", "500m"),
        ("1000m", "1", "DecimalSI", "1"),
        ("2", "2", "DecimalSI", "2"),
        ("12000", "12000", "DecimalSI", "12k"),
        ("1G", "1000000000", "DecimalSI", "1G"),
        ("1Gi", "1073741824", "BinarySI", "1Gi"),
        ("512Mi", "536870912", "BinarySI", "512Mi"),
        ("1.5Gi", "1610612736", "BinarySI", "1536Mi"),
        ("1536", "1536", "DecimalSI", "1536"),
        ("1e3", "1000", "DecimalExponent", "1e3"),
        ("1.5e-3", "0.0015", "DecimalExponent", "1500e-6"),
        ("-500m", "-0.5", "DecimalSI", "-500m"),
        ("7Ei", str(7 * 2**60), "BinarySI", "7Ei"),
        ("1E", str(10**18), "DecimalSI", "1E"),
        ("0.0001Ki", "0.1024", "DecimalSI", "102400u"),  # BinarySI below 1 prints as DecimalSI
        ("0", "0", "DecimalSI", "0"),
        (" 1 ", "1", "DecimalSI", "1"),  # JSON strings are trimmed before parsing
    ],
)
def test_parse_and_canonical_form(text: str, exact: str, fmt: str, canonical: str) -> None:
    assert parse_quantity(text) == Decimal(exact)
    assert quantity_format(text) == fmt
    assert canonical_quantity(text) == canonical
    # The canonical form is a fixed point: storing it again changes nothing.
    assert canonical_quantity(canonical) == canonical
    assert parse_quantity(canonical) == Decimal(exact)


def test_numbers_are_accepted_like_json_numbers() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.25) == Decimal("0.25")
    assert canonical_quantity(0.25) == "250m"


def test_values_below_nano_round_up_to_one_nano() -> None:
    assert parse_quantity("0.1n") == Decimal("1e-9")
    assert canonical_quantity("1e-12") == "1e-9"
    assert parse_quantity("-1.5n") == Decimal("-2e-9")  # away from zero


@pytest.mark.parametrize("text", ["abc", "1.2.3", "1Kb", "", "1 2"])
def test_malformed_quantities_quote_the_regular_expression(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_quantity(text)
    assert str(err.value) == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    assert str(err.value) == ERR_FORMAT_WRONG


@pytest.mark.parametrize("text", ["1K", "1e", "1m3", "1i", "5mi"])
def test_unknown_suffixes(text: str) -> None:
    with pytest.raises(ValueError, match=r"^unable to parse quantity's suffix$"):
        parse_quantity(text)
    assert ERR_SUFFIX == "unable to parse quantity's suffix"


def test_format_hints() -> None:
    assert format_quantity(Decimal(2**30), "memory") == "1Gi"
    assert format_quantity(Decimal(2**30), "requests.memory") == "1Gi"
    assert format_quantity(Decimal(10**9), "limits.memory") == "1G"
    assert format_quantity(
        Decimal(10 * 2**30), "fast.storageclass.storage.k8s.io/requests.storage"
    ) == ("10Gi")
    assert format_quantity(Decimal("0.5"), "requests.cpu") == "500m"
    assert format_quantity(Decimal(2), "cpu") == "2"
    assert format_quantity(Decimal(1024), "count/pods") == "1024"
    assert format_quantity(Decimal(1500), "DecimalExponent") == "1500"
    assert format_quantity(Decimal(15000), "DecimalExponent") == "15e3"
    assert format_quantity(Decimal(1536), "BinarySI") == "1536"
    assert format_quantity(Decimal(0), "memory") == "0"


def test_value_and_milli_value_round_away_from_zero() -> None:
    assert value(parse_quantity("1.2")) == 2
    assert value(parse_quantity("-1.2")) == -2
    assert milli_value(parse_quantity("100m")) == 100
    assert milli_value(parse_quantity("0.0001")) == 1


def _c(name: str, requests=None, limits=None, **extra):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "resources": res, **extra}


def test_effective_requests_take_init_container_peak() -> None:
    pod = {
        "spec": {
            "initContainers": [_c("init", {"cpu": "2", "memory": "1Gi"})],
            "containers": [
                _c("a", {"cpu": "500m", "memory": "256Mi"}),
                _c("b", {"cpu": "250m", "memory": "2Gi"}),
            ],
        }
    }
    req = effective_requests(pod)
    assert req["cpu"] == 2  # init container wins for cpu
    assert req["memory"] == parse_quantity("2304Mi")  # containers' sum wins for memory


def test_sidecars_keep_running_alongside_later_init_containers() -> None:
    pod = {
        "spec": {
            "initContainers": [
                _c("sidecar", {"cpu": "1"}, restartPolicy="Always"),
                _c("setup", {"cpu": "2"}),
            ],
            "containers": [_c("main", {"cpu": "500m"})],
        }
    }
    # setup runs next to the sidecar: 1 + 2 = 3 > 1 (sidecar) + 0.5 (main).
    assert effective_requests(pod)["cpu"] == 3


def test_limits_default_requests_and_overhead() -> None:
    pod = {
        "spec": {
            "containers": [_c("gpu", limits={"nvidia.com/gpu": "1", "cpu": "2"})],
            "overhead": {"cpu": "100m", "memory": "64Mi"},
        }
    }
    assert effective_requests(pod) == {
        "nvidia.com/gpu": 1,
        "cpu": Decimal("2.1"),
        "memory": 64 * 2**20,
    }
    # Overhead only raises limits that are set.
    assert effective_limits(pod) == {"nvidia.com/gpu": 1, "cpu": Decimal("2.1")}


def test_scheduler_defaults_fill_unset_requests_only() -> None:
    pod = {"spec": {"containers": [_c("a"), _c("b", {"cpu": "0"})]}}
    defaults = {"cpu": Decimal("0.1"), "memory": Decimal(200 * 2**20)}
    assert pod_resources(pod, "requests", defaults) == {
        "cpu": Decimal("0.1"),  # b set cpu explicitly to 0: kept
        "memory": Decimal(400 * 2**20),
    }
