"""Label and field selectors accept, reject and match exactly as kube-apiserver does."""

from __future__ import annotations

import pytest

from kubesim.errors import ApiError
from kubesim.selectors import (
    FIELD_SELECTORS,
    field_value,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

KEY_NAME_ERR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def bad(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    return info.value


# -- label selector syntax ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("", ""),
        ("  ", ""),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("app!=web", "app!=web"),
        ("tier,!canary", "!canary,tier"),  # requirements sorted by key
        ("env in (prod, dev)", "env in (dev,prod)"),
        ("env notin (qa)", "env notin (qa)"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("in in (in,notin)", "in in (in,notin)"),  # keywords are plain values after '('
        ("gpu>1,mem<64", "gpu>1,mem<64"),
        ("example.com/team=ml", "example.com/team=ml"),
        ("app=", "app="),  # empty value
    ],
)
def test_valid_label_selectors_normalize_like_go(text: str, normalized: str) -> None:
    assert str(parse_label_selector(text)) == normalized


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b)", "found ')', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": {KEY_NAME_ERR}'),
        ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_ERR}'),
        (
            "a>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_invalid_label_selectors_answer_400_with_the_real_message(text: str, message: str) -> None:
    assert bad(parse_label_selector, text).message == message


def test_label_key_prefix_is_validated_as_dns_subdomain() -> None:
    err = bad(parse_label_selector, "Example.com/team")
    assert err.message.startswith('unable to parse requirement: <nil>: Invalid value: "Example')
    assert "prefix part a lowercase RFC 1123 subdomain must consist of" in err.message
    err = bad(parse_label_selector, "a/b/c")
    assert "a valid label key must consist of" in err.message
    assert "with an optional DNS subdomain prefix and '/'" in err.message


# -- label selector matching -------------------------------------------------------------------

POD_LABELS = {"app": "web", "tier": "frontend", "gpus": "4"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),  # != matches when the key is absent
        ("app in (web,db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("gpus>2", True),
        ("gpus<4", False),
        ("app>2", False),  # non-numeric label never satisfies gt/lt
        ("app=web,tier=backend", False),  # requirements are ANDed
        ("tier in ()", False),  # "()" means "the empty string"
    ],
)
def test_label_selector_matching(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(POD_LABELS) is expected


def test_empty_value_selector_matches_empty_label_only() -> None:
    sel = parse_label_selector("role in ()")
    assert sel.matches({"role": ""})
    assert not sel.matches({})


def test_requires_exact_match_reports_pinned_values() -> None:
    sel = parse_label_selector("app=web,env in (prod),tier in (a,b)")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("env") == "prod"
    assert sel.requires_exact_match("tier") is None
    assert sel.requires_exact_match("other") is None


# -- metav1.LabelSelector ----------------------------------------------------------------------


def test_metav1_selector_combines_match_labels_and_expressions() -> None:
    sel = label_selector_from_dict(
        {
            "matchLabels": {"job-name": "train"},
            "matchExpressions": [
                {"key": "role", "operator": "In", "values": ["worker", "chief"]},
                {"key": "evicted", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "stage", "operator": "NotIn", "values": ["test"]},
            ],
        }
    )
    base = {"job-name": "train", "role": "worker", "team": "ml"}
    assert sel.matches(base)
    assert not sel.matches({**base, "role": "ps"})
    assert not sel.matches({**base, "evicted": "true"})
    assert not sel.matches({k: v for k, v in base.items() if k != "team"})
    assert not sel.matches({**base, "stage": "test"})


def test_null_label_value_in_metav1_selector_means_empty_string() -> None:
    sel = label_selector_from_dict({"matchLabels": {"gpu": None}})
    assert sel.matches({"gpu": ""})
    assert not sel.matches({"gpu": "a100"})


def test_nil_metav1_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert not label_selector_from_dict(None).matches({"a": "b"})
    assert label_selector_from_dict({}).matches({"a": "b"})
    assert label_selector_from_dict({"matchLabels": {}, "matchExpressions": []}).matches({})


@pytest.mark.parametrize(
    ("sel", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): "
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: '
            "values set must be empty for exists and does not exist",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid label selector operator',
        ),
        ({"matchLabels": {"bad key": "v"}}, f'key: Invalid value: "bad key": {KEY_NAME_ERR}'),
    ],
)
def test_invalid_metav1_selectors(sel: dict, message: str) -> None:
    assert bad(label_selector_from_dict, sel).message == message


# -- field selectors ---------------------------------------------------------------------------

POD = {
    "kind": "Pod",
    "metadata": {"name": "jupyter-alice", "namespace": "team-a"},
    "spec": {"nodeName": "gpu-1", "restartPolicy": "Never"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}]},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=jupyter-alice", True),
        ("metadata.name==jupyter-alice", True),
        ("metadata.name!=jupyter-alice", False),
        ("status.phase!=Running,spec.nodeName=gpu-1", False),
        ("status.phase=Running,spec.nodeName=gpu-1", True),
        ("spec.nodeName=", False),
        ("spec.hostNetwork=false", True),  # unset bool selects as "false"
        ("status.podIP=10.0.0.7", True),  # the first of status.podIPs
        ("spec.host=gpu-1", True),  # old v1 clients' name for spec.nodeName
    ],
)
def test_pod_field_selectors(text: str, expected: bool) -> None:
    assert parse_field_selector(text, resource="pods").matches(POD) is expected


def test_unscheduled_pod_matches_empty_node_name() -> None:
    pending = {**POD, "spec": {}}
    assert parse_field_selector("spec.nodeName=", resource="pods").matches(pending)


def test_escaped_values_and_syntax_errors() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert sel.matches({"metadata": {"name": "a,b=c\\d"}})
    assert bad(parse_field_selector, "metadata.name").message == (
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
    )
    assert bad(parse_field_selector, "a=b=c").message == (
        "invalid field selector: unescaped character in value: 61"
    )
    assert bad(parse_field_selector, r"a=b\x").message == (
        "invalid field selector: invalid escape sequence: \\x"
    )


def test_unsupported_field_labels() -> None:
    assert bad(parse_field_selector, "spec.replicas=1", {"metadata.name"}).message == (
        "field label not supported: spec.replicas"
    )
    assert bad(parse_field_selector, "spec.foo=1", resource="pods").message == (
        "field label not supported: spec.foo"
    )
    # Kinds without their own conversion function use the default one's wording.
    assert bad(parse_field_selector, "data.x=1", resource="configmaps").message == (
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    # Namespaces and nodes are cluster-scoped: no metadata.namespace there.
    bad(parse_field_selector, "metadata.namespace=x", resource="namespaces")
    parse_field_selector("status.phase=Active", resource="namespaces")


def test_supported_field_sets() -> None:
    assert supported_fields("configmaps") == {"metadata.name", "metadata.namespace"}
    assert "spec.nodeName" in supported_fields("pods")
    assert "involvedObject.uid" in supported_fields("events")
    assert supported_fields("secrets") == {"metadata.name", "metadata.namespace", "type"}
    assert supported_fields("jobs.batch") == FIELD_SELECTORS["jobs"]
    supported_fields("pods").add("mutated")
    assert "mutated" not in supported_fields("pods")


def test_event_field_selectors_as_kubespawner_uses_them() -> None:
    event = {
        "kind": "Event",
        "metadata": {"name": "jupyter-alice.17a", "namespace": "team-a"},
        "involvedObject": {"kind": "Pod", "name": "jupyter-alice", "uid": "u-1"},
        "reason": "FailedScheduling",
        "type": "Warning",
        "reportingComponent": "default-scheduler",
    }
    sel = parse_field_selector(
        "involvedObject.kind=Pod,involvedObject.name=jupyter-alice", resource="events"
    )
    assert sel.matches(event)
    assert not sel.matches({**event, "involvedObject": {"kind": "Pod", "name": "bob"}})
    # "source" falls back to reportingComponent when source.component is unset.
    assert field_value(event, "source") == "default-scheduler"
    assert field_value({**event, "source": {"component": "kubelet"}}, "source") == "kubelet"


def test_field_values_of_other_kinds() -> None:
    assert field_value({"kind": "Job", "status": {"succeeded": 2}}, "status.successful") == "2"
    assert field_value({"kind": "Job", "status": {}}, "status.successful") == "0"
    assert field_value({"kind": "Node", "spec": {}}, "spec.unschedulable") == "false"
    assert field_value({"kind": "Node", "spec": {"unschedulable": True}}, "spec.unschedulable") == (
        "true"
    )
    assert field_value({"kind": "Secret", "type": "Opaque"}, "type") == "Opaque"
    assert field_value({"kind": "Namespace", "metadata": {"name": "a"}}, "metadata.namespace") == ""
