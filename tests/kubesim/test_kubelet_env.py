"""kubesim.kubelet.env: container environment as the kubelet computes it."""

from __future__ import annotations

import base64

import pytest

from kubesim.kubelet.env import (
    ContainerConfigError,
    container_env,
    expand,
    expand_command,
    field_ref_value,
    format_map,
    resource_field_value,
    service_env,
)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


POD = {
    "metadata": {
        "name": "web-0",
        "namespace": "team",
        "uid": "u-1",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": 'say "hi"\n'},
    },
    "spec": {"nodeName": "node-1", "serviceAccountName": "builder", "containers": []},
}
SECRET = {"metadata": {"name": "creds"}, "data": {"user": b64("alice"), "pw": b64("s3cr$t")}}
CM = {"metadata": {"name": "conf"}, "data": {"MODE": "fast", "LEVEL": "3"}}


def env_of(container: dict, pod: dict = POD, **kw) -> dict[str, str]:
    objs = {("secret", "creds"): SECRET, ("cm", "conf"): CM}
    args = {
        "get_secret": lambda n: objs.get(("secret", n)),
        "get_configmap": lambda n: objs.get(("cm", n)),
        "services": {},
        "pod_ips": ["127.1.0.9"],
        "host_ips": ["10.0.0.1"],
    }
    args.update(kw)
    return container_env(pod, {"name": "c", **container}, **args)


# ------------------------------------------------------------------ expansion
@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(A)-$(B)", "1-two"),
        ("$$(A)", "$(A)"),  # escaped
        ("$$$(A)", "$1"),
        ("$(MISSING)", "$(MISSING)"),  # unknown stays verbatim
        ("$(A", "$(A"),  # unclosed
        ("cost: $5", "cost: $5"),
        ("end$", "end$"),
        ("$()", "$()"),
    ],
)
def test_expand_like_kubernetes(text: str, want: str) -> None:
    look = {"A": "1", "B": "two"}.get
    assert expand(text, look) == want


def test_env_expands_only_earlier_variables() -> None:
    env = env_of(
        {
            "env": [
                {"name": "LATE_REF", "value": "x-$(LATER)"},
                {"name": "FIRST", "value": "one"},
                {"name": "SECOND", "value": "$(FIRST)-two"},
                {"name": "LATER", "value": "late"},
            ]
        }
    )
    assert env["SECOND"] == "one-two"
    assert env["LATE_REF"] == "x-$(LATER)"


def test_command_and_args_expand_against_env() -> None:
    c = {"command": ["echo", "$(GREETING)"], "args": ["$$(GREETING)", "$(NOPE)"]}
    assert expand_command(c, {"GREETING": "hi"}) == ["echo", "hi", "$(GREETING)", "$(NOPE)"]


# ------------------------------------------------------------------ valueFrom
def test_secret_and_configmap_key_refs() -> None:
    env = env_of(
        {
            "env": [
                {"name": "U", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "MODE"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
                {"name": "NOEXP", "value": "$(PW)"},
            ]
        }
    )
    assert (env["U"], env["M"], env["PW"], env["NOEXP"]) == ("alice", "fast", "s3cr$t", "s3cr$t")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        (
            {"secretKeyRef": {"name": "creds", "key": "k"}},
            "couldn't find key k in Secret team/creds",
        ),
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        (
            {"configMapKeyRef": {"name": "conf", "key": "k"}},
            "couldn't find key k in ConfigMap team/conf",
        ),
    ],
)
def test_missing_required_ref_is_a_config_error(ref: dict, message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        env_of({"env": [{"name": "X", "valueFrom": ref}]})
    assert str(e.value) == message
    assert e.value.reason == "CreateContainerConfigError"


def test_optional_missing_refs_leave_variable_undefined() -> None:
    env = env_of(
        {
            "env": [
                {
                    "name": "A",
                    "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}},
                },
                {
                    "name": "B",
                    "valueFrom": {
                        "configMapKeyRef": {"name": "conf", "key": "k", "optional": True}
                    },
                },
            ],
            "envFrom": [{"secretRef": {"name": "gone", "optional": True}}],
        }
    )
    assert "A" not in env and "B" not in env


def test_env_from_with_prefix_and_env_overrides() -> None:
    env = env_of(
        {
            "envFrom": [
                {"configMapRef": {"name": "conf"}, "prefix": "CFG_"},
                {"secretRef": {"name": "creds"}},
            ],
            "env": [{"name": "user", "value": "override-$(CFG_MODE)"}],
        }
    )
    assert env["CFG_MODE"] == "fast" and env["CFG_LEVEL"] == "3"
    assert env["pw"] == "s3cr$t"
    assert env["user"] == "override-fast"
    with pytest.raises(ContainerConfigError, match='secret "gone" not found'):
        env_of({"envFrom": [{"secretRef": {"name": "gone"}}]})


# ------------------------------------------------------------------ field refs
@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("metadata.name", "web-0"),
        ("metadata.namespace", "team"),
        ("metadata.uid", "u-1"),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['note']", 'say "hi"\n'),
        ("spec.nodeName", "node-1"),
        ("spec.serviceAccountName", "builder"),
        ("status.podIP", "127.1.0.9"),
        ("status.podIPs", "127.1.0.9,fd00::9"),
        ("status.hostIP", "10.0.0.1"),
        ("metadata.labels", 'app="web"\ntier="front"'),
        ("metadata.annotations", 'note="say \\"hi\\"\\n"'),
    ],
)
def test_field_refs(path: str, want: str) -> None:
    got = field_ref_value(POD, path, pod_ips=["127.1.0.9", "fd00::9"], host_ips=["10.0.0.1"])
    assert got == want


def test_unsupported_field_path() -> None:
    with pytest.raises(ContainerConfigError, match=r"unsupported fieldPath: spec\.bogus"):
        field_ref_value(POD, "spec.bogus", pod_ips=[], host_ips=[])


def test_field_ref_env() -> None:
    env = env_of(
        {
            "env": [
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "URL", "value": "http://$(IP):8888"},
            ]
        }
    )
    assert env["URL"] == "http://127.1.0.9:8888"
    assert format_map({"b": "2", "a": "1"}) == 'a="1"\nb="2"'


# ------------------------------------------------------------------ resources
C = {
    "resources": {
        "limits": {"cpu": "1500m", "memory": "1Gi"},
        "requests": {"cpu": "250m", "memory": "100Mi"},
    }
}


@pytest.mark.parametrize(
    ("resource", "divisor", "want"),
    [
        ("limits.cpu", None, "2"),  # rounded up to whole cores
        ("limits.cpu", "1m", "1500"),
        ("requests.cpu", "100m", "3"),
        ("limits.memory", None, str(1024**3)),
        ("limits.memory", "1Mi", "1024"),
        ("requests.memory", "1Gi", "1"),
        ("requests.ephemeral-storage", None, "0"),
    ],
)
def test_resource_field_ref(resource: str, divisor: str | None, want: str) -> None:
    assert resource_field_value(C, resource, divisor) == want


def test_unset_limits_default_to_node_allocatable() -> None:
    assert resource_field_value({}, "limits.cpu", "1m", {"cpu": "4"}) == "4000"
    assert resource_field_value({}, "limits.memory", "1Ki", {"memory": "2Gi"}) == "2097152"
    with pytest.raises(ContainerConfigError, match=r"unsupported container resource : limits\.x"):
        resource_field_value({}, "limits.x", None)


# ------------------------------------------------------------------ services
def test_service_links_and_master_service() -> None:
    svcs = [
        {
            "metadata": {"name": "my-db", "namespace": "team"},
            "spec": {
                "clusterIP": "10.96.0.5",
                "ports": [
                    {"port": 5432, "name": "pg"},
                    {"port": 9187, "protocol": "TCP", "name": "metrics"},
                ],
            },
        },
        {
            "metadata": {"name": "headless", "namespace": "team"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        },
        {
            "metadata": {"name": "other", "namespace": "elsewhere"},
            "spec": {"clusterIP": "10.96.0.6", "ports": [{"port": 80}]},
        },
    ]
    env = service_env(POD, svcs, "127.0.0.1", 6443)
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "6443"
    assert env["KUBERNETES_PORT"] == "tcp://127.0.0.1:6443"
    assert env["MY_DB_SERVICE_HOST"] == "10.96.0.5"
    assert env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_METRICS"] == "9187"
    assert env["MY_DB_PORT_9187_TCP_ADDR"] == "10.96.0.5"
    assert env["MY_DB_PORT"] == "tcp://10.96.0.5:5432"
    assert not any(k.startswith(("HEADLESS_", "OTHER_")) for k in env)

    no_links = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    env = service_env(no_links, svcs, "127.0.0.1", 6443)
    assert "KUBERNETES_SERVICE_HOST" in env and "MY_DB_SERVICE_HOST" not in env


def test_container_env_beats_service_env() -> None:
    env = env_of(
        {
            "env": [
                {"name": "KUBERNETES_SERVICE_PORT", "value": "1"},
                {"name": "X", "value": "$(KUBERNETES_SERVICE_HOST)"},
            ]
        },
        services={"KUBERNETES_SERVICE_PORT": "6443", "KUBERNETES_SERVICE_HOST": "h"},
    )
    assert env["KUBERNETES_SERVICE_PORT"] == "1"
    assert env["X"] == "h"
