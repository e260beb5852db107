"""Label values and object names: always valid, deterministic and collision-free."""

from __future__ import annotations

import re

import pytest
from kubespawner.slugs import is_valid_label
from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects import names

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

AWKWARD_USERS = [
    "alice",
    "Alice@Example.org",
    "bob.smith",
    "1st-user",
    "-dash-",
    "x" * 200,
    "名前",
    "a--b",
    "a---deadbeef",
]


@pytest.mark.parametrize("user", AWKWARD_USERS)
def test_user_label_value_is_a_valid_label(user):
    value = L.escape_label_value(user)
    assert is_valid_label(value) and len(value) <= 63


def test_user_label_keeps_valid_names_and_escapes_others_distinctly():
    assert L.escape_label_value("alice") == "alice"
    assert L.escape_label_value("bob.smith") == "bob.smith"
    escaped = {L.escape_label_value(u) for u in AWKWARD_USERS}
    assert len(escaped) == len(AWKWARD_USERS)
    # A name that looks like an escaped one is escaped itself, so it cannot collide.
    assert L.escape_label_value("a---deadbeef") != "a---deadbeef"


def test_common_labels_and_selector_agree():
    labels = L.common_labels("Alice@Example.org", L.COMPONENT_VOLUME)
    selector = L.user_selector("Alice@Example.org", L.COMPONENT_VOLUME)
    assert selector == ",".join(f"{k}={v}" for k, v in labels.items())
    assert labels[L.MANAGED_BY] == "teamhub"
    assert all(k.startswith(("teamhub.io/", "app.kubernetes.io/")) for k in labels)


def test_team_labels_one_per_team_sorted_and_annotation_lists_them():
    assert L.team_labels(["vision", "nlp", "vision"]) == {
        "team.teamhub.io/nlp": "true",
        "team.teamhub.io/vision": "true",
    }
    assert L.user_annotations("Alice", ["vision", "nlp"]) == {
        "teamhub.io/user": "Alice",
        "teamhub.io/teams": "nlp,vision",
    }


def test_pod_labels_do_not_claim_managed_by():
    # KubeSpawner labels its pods managed-by: kubespawner; teamhub must not fight it.
    labels = L.pod_labels("alice", ["vision"])
    assert L.MANAGED_BY not in labels
    assert labels[L.COMPONENT] == L.COMPONENT_NOTEBOOK
    assert labels["team.teamhub.io/vision"] == "true"


@pytest.mark.parametrize("user", AWKWARD_USERS)
def test_namespace_name_is_a_dns_label(user):
    ns = names.namespace_name("teamhub", user)
    assert DNS_LABEL.match(ns) and len(ns) <= 63
    assert ns.startswith("teamhub-")


def test_namespace_name_matches_kubespawner_username_slug():
    from kubespawner.slugs import safe_slug

    for user in AWKWARD_USERS:
        assert names.namespace_name("teamhub", user) == f"teamhub-{safe_slug(user, max_length=48)}"
    assert names.namespace_name("teamhub", "alice") == "teamhub-alice"


def test_namespace_names_are_distinct_and_long_prefixes_still_fit():
    users = [*AWKWARD_USERS, "alice@example.org", "alice-example-org"]
    assert len({names.namespace_name("teamhub", u) for u in users}) == len(users)
    long_prefix = "p" * 40
    ns = names.namespace_name(long_prefix, "x" * 100)
    assert len(ns) <= 63 and DNS_LABEL.match(ns)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("Team_Hub", "not a DNS-1123 label"), ("p" * 51, "too long")],
)
def test_bad_namespace_prefix_is_named(prefix, message):
    with pytest.raises(ValueError, match=rf"namespacePrefix: .*{message}"):
        names.namespace_name(prefix, "alice")


def test_volume_names_are_unambiguous_where_hyphens_would_collide():
    # team "a-b" volume "c" vs team "a" volume "b-c": same hyphen-join, different names.
    assert names.volume_pvc_name("a-b", "c") != names.volume_pvc_name("a", "b-c")
    assert names.volume_pv_name("ns-a", "b", "c") != names.volume_pv_name("ns", "a-b", "c")
    assert names.volume_pod_volume_name("a-b", "c") != names.volume_pod_volume_name("a", "b-c")


def test_longest_possible_pv_name_fits_without_truncation():
    n63 = "n" * 63
    pv = names.volume_pv_name(n63, "s" * 63, "v" * 63)
    assert len(pv) == 199 and DNS_SUBDOMAIN.match(pv)
    assert pv == f"teamhub.{n63}.{'s' * 63}.{'v' * 63}"


def test_pod_volume_names_are_dns_labels_even_for_long_names():
    for parts in [("vision", "data"), ("t" * 63, "v" * 63)]:
        v = names.volume_pod_volume_name(*parts)
        c = names.credential_pod_volume_name(*parts)
        assert DNS_LABEL.match(v) and len(v) <= 63
        assert DNS_LABEL.match(c) and len(c) <= 63
    assert names.volume_pod_volume_name("t" * 63, "a" * 63) != names.volume_pod_volume_name(
        "t" * 63, "a" * 62 + "b"
    )


@pytest.mark.parametrize("bad", ["Vision", "a.b", "-x", "", "x" * 64, None])
def test_names_reject_non_dns_labels_naming_the_field(bad):
    with pytest.raises(ValueError, match="not a DNS-1123 label"):
        names.volume_pvc_name("vision", bad)
    with pytest.raises(ValueError, match="volume scope"):
        names.volume_pvc_name(bad, "data")


def test_credential_secret_name_per_server():
    assert names.credential_secret_name() == "teamhub-credentials"
    named = names.credential_secret_name("GPU Box")
    assert named.startswith("teamhub-credentials--") and DNS_SUBDOMAIN.match(named)
    assert named != names.credential_secret_name("gpu-box")
