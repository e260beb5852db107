"""Pod Security admission: the checks and messages of the real PodSecurity plugin."""

from __future__ import annotations

import copy

import pytest

from kubesim import podsecurity as ps


def spawner_pod() -> dict:
    """A pod as KubeSpawner builds it for a restricted namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "jupyter-alice",
            "labels": {"component": "singleuser-server", "hub.jupyter.org/username": "alice"},
            "annotations": {"hub.jupyter.org/username": "alice"},
        },
        "spec": {
            "securityContext": {
                "fsGroup": 100,
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [
                {
                    "name": "block-metadata",
                    "image": "busybox",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    },
                }
            ],
            "containers": [
                {
                    "name": "notebook",
                    "image": "quay.io/jupyter/base-notebook",
                    "ports": [{"containerPort": 8888, "name": "notebook-port"}],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsUser": 1000,
                    },
                    "readinessProbe": {"httpGet": {"path": "/api", "port": 8888}},
                }
            ],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
                {"name": "config", "configMap": {"name": "user-config"}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "token", "projected": {"sources": []}},
                {"name": "creds", "secret": {"secretName": "alice-creds"}},
            ],
        },
    }


def check(pod: dict, level: str) -> list[str]:
    return [str(v) for v in ps.check_pod(pod["metadata"], pod["spec"], level)]


def notebook(pod: dict) -> dict:
    return pod["spec"]["containers"][0]


@pytest.mark.parametrize("level", ps.LEVELS)
def test_spawner_pod_passes_every_level(level):
    assert check(spawner_pod(), level) == []


def test_bare_pod_message_matches_the_real_plugin():
    meta, spec = {"name": "x"}, {"containers": [{"name": "c", "image": "busybox"}]}
    violations = ps.check_pod(meta, spec, "restricted")
    assert [v.check for v in violations] == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "runAsNonRoot",
        "seccompProfile_restricted",
    ]
    assert ps.forbidden_message("x", "restricted", violations) == (
        'pods "x" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )
    assert ps.check_pod(meta, spec, "baseline") == []


def test_nfs_volume_is_restricted_only():
    pod = spawner_pod()
    pod["spec"]["volumes"].append({"name": "team", "nfs": {"server": "nfs", "path": "/t"}})
    assert check(pod, "restricted") == [
        'restricted volume types (volume "team" uses restricted volume type "nfs")'
    ]
    assert check(pod, "baseline") == []


def test_several_restricted_volumes_are_counted():
    pod = spawner_pod()
    pod["spec"]["volumes"] += [
        {"name": "a", "nfs": {"server": "s", "path": "/"}},
        {"name": "b", "gitRepo": {"repository": "r"}},
        {"name": "c"},
    ]
    assert check(pod, "restricted") == [
        'restricted volume types (volumes "a", "b", "c" use restricted volume types '
        '"gitRepo", "nfs", "unknown")'
    ]


def test_host_path_volume():
    pod = spawner_pod()
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}})
    assert check(pod, "baseline") == ['hostPath volumes (volume "host")']
    # restricted replaces the baseline hostPath check with its volume-type check
    assert check(pod, "restricted") == [
        'restricted volume types (volume "host" uses restricted volume type "hostPath")'
    ]


def test_privileged_container():
    pod = spawner_pod()
    notebook(pod)["securityContext"]["privileged"] = True
    expected = 'privileged (container "notebook" must not set securityContext.privileged=true)'
    assert check(pod, "baseline") == [expected]
    assert check(pod, "restricted") == [expected]
    assert check(pod, "privileged") == []


def test_run_as_user_zero():
    pod = spawner_pod()
    pod["spec"]["securityContext"]["runAsUser"] = 0
    assert check(pod, "restricted") == ["runAsUser=0 (pod must not set runAsUser=0)"]
    notebook(pod)["securityContext"]["runAsUser"] = 0
    assert check(pod, "restricted") == [
        'runAsUser=0 (pod and container "notebook" must not set runAsUser=0)'
    ]
    assert check(pod, "baseline") == []


def test_missing_seccomp_profile():
    pod = spawner_pod()
    del pod["spec"]["securityContext"]["seccompProfile"]
    assert check(pod, "restricted") == [
        'seccompProfile (pod or containers "block-metadata", "notebook" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    ]
    assert check(pod, "baseline") == []
    for c in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
        c["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "p"}
    assert check(pod, "restricted") == []


def test_unconfined_seccomp_is_reported_once():
    pod = spawner_pod()
    pod["spec"]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    expected = (
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'
    )
    assert check(pod, "baseline") == [expected]
    assert check(pod, "restricted") == [expected]


def test_run_as_non_root():
    pod = spawner_pod()
    notebook(pod)["securityContext"]["runAsNonRoot"] = False
    assert check(pod, "restricted") == [
        'runAsNonRoot != true (container "notebook" must not set '
        "securityContext.runAsNonRoot=false)"
    ]
    pod = spawner_pod()
    del pod["spec"]["securityContext"]["runAsNonRoot"]
    assert check(pod, "restricted") == [
        'runAsNonRoot != true (pod or containers "block-metadata", "notebook" must set '
        "securityContext.runAsNonRoot=true)"
    ]
    for c in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
        c["securityContext"]["runAsNonRoot"] = True
    assert check(pod, "restricted") == []


def test_capabilities():
    pod = spawner_pod()
    notebook(pod)["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN", "CHOWN"]}
    assert check(pod, "baseline") == [
        'non-default capabilities (container "notebook" must not include "SYS_ADMIN" in '
        "securityContext.capabilities.add)"
    ]
    assert check(pod, "restricted") == [
        'unrestricted capabilities (container "notebook" must set '
        'securityContext.capabilities.drop=["ALL"]; container "notebook" must not include '
        '"CHOWN", "SYS_ADMIN" in securityContext.capabilities.add)'
    ]


def test_host_namespaces_and_ports():
    pod = spawner_pod()
    pod["spec"].update(hostPID=True, hostNetwork=True, hostIPC=True)
    notebook(pod)["ports"] = [{"containerPort": 80, "hostPort": 8080}, {"hostPort": 443}]
    assert check(pod, "baseline") == [
        "host namespaces (hostIPC, hostNetwork, hostPID)",
        'hostPort (container "notebook" uses hostPorts 443, 8080)',
    ]


def test_sysctls_proc_mount_and_host_process():
    pod = spawner_pod()
    pod["spec"]["securityContext"]["sysctls"] = [
        {"name": "net.ipv4.tcp_keepalive_time", "value": "60"},
        {"name": "kernel.msgmax", "value": "1"},
        {"name": "net.core.somaxconn", "value": "1"},
    ]
    notebook(pod)["securityContext"]["procMount"] = "Unmasked"
    pod["spec"]["securityContext"]["windowsOptions"] = {"hostProcess": True}
    assert check(pod, "baseline") == [
        'procMount (container "notebook" must not set securityContext.procMount to "Unmasked")',
        "forbidden sysctls (kernel.msgmax, net.core.somaxconn)",
        "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
    ]


def test_selinux_and_apparmor():
    pod = spawner_pod()
    pod["spec"]["securityContext"]["seLinuxOptions"] = {"user": "bad"}
    notebook(pod)["securityContext"]["seLinuxOptions"] = {"type": "spc_t"}
    notebook(pod)["securityContext"]["appArmorProfile"] = {"type": "Unconfined"}
    pod["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/notebook"] = (
        "unconfined"
    )
    assert check(pod, "baseline") == [
        'forbidden AppArmor profiles (container "notebook" and annotation must not set AppArmor '
        'profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/'
        'notebook="unconfined"")',
        'seLinuxOptions (pod and container "notebook" set forbidden '
        'securityContext.seLinuxOptions: type "spc_t"; user may not be set)',
    ]
    pod = spawner_pod()
    notebook(pod)["securityContext"]["seLinuxOptions"] = {"type": "container_engine_t"}
    notebook(pod)["securityContext"]["appArmorProfile"] = {"type": "RuntimeDefault"}
    assert check(pod, "restricted") == []


def test_probe_host():
    pod = spawner_pod()
    notebook(pod)["livenessProbe"] = {"tcpSocket": {"host": "10.0.0.1", "port": 22}}
    assert check(pod, "baseline") == [
        'probe or lifecycle host (container "notebook" uses probe or lifecycle host "10.0.0.1")'
    ]


def test_windows_pods_skip_linux_only_restricted_checks():
    spec = {"os": {"name": "windows"}, "containers": [{"name": "w", "image": "i"}]}
    spec["securityContext"] = {"runAsNonRoot": True}
    assert ps.check_pod({}, spec, "restricted") == []


def test_baseline_allows_what_restricted_forbids():
    pod = spawner_pod()
    pod["spec"]["securityContext"] = {}
    pod["spec"]["initContainers"] = []
    notebook(pod)["securityContext"] = {"runAsUser": 0, "capabilities": {"add": ["CHOWN"]}}
    pod["spec"]["volumes"].append({"name": "team", "nfs": {"server": "s", "path": "/"}})
    assert check(pod, "baseline") == []
    assert [v.check for v in ps.check_pod(pod["metadata"], pod["spec"], "restricted")] == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "restrictedVolumes",
        "runAsNonRoot",
        "runAsUser",
        "seccompProfile_restricted",
    ]


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError):
        ps.check_pod({}, {}, "strict")


@pytest.mark.parametrize(
    ("labels", "enforce", "warn"),
    [
        (None, "privileged:latest", "privileged:latest"),
        ({"other": "x"}, "privileged:latest", "privileged:latest"),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, "baseline:latest", "baseline:latest"),
        (
            {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/enforce-version": "v1.30",
                "pod-security.kubernetes.io/warn": "restricted",
            },
            "baseline:v1.30",
            "restricted:latest",
        ),
        ({"pod-security.kubernetes.io/enforce": "bogus"}, "restricted:latest", "restricted:latest"),
        (
            {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "privileged",
            },
            "restricted:latest",
            "privileged:latest",
        ),
    ],
)
def test_namespace_policy(labels, enforce, warn):
    policy = ps.namespace_policy(labels)
    assert (str(policy.enforce), str(policy.warn)) == (enforce, warn)
    assert ps.namespace_level(labels) == enforce.split(":")[0]


def job(template_spec: dict) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"template": {"metadata": {}, "spec": template_spec}},
    }


def test_workloads_only_warn():
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    bad = job({"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"})
    assert [v.check for v in ps.check_pod_template(bad, "restricted")] == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "runAsNonRoot",
        "seccompProfile_restricted",
    ]
    warnings = ps.admit_workload(bad, restricted)
    assert len(warnings) == 1
    assert warnings[0].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "c" must set securityContext.allowPrivilegeEscalation=false)'
    )
    assert ps.admit_workload(bad, {}) == []
    good = job(spawner_pod()["spec"])
    assert ps.admit_workload(good, restricted) == []
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": copy.deepcopy(bad["spec"])}}}
    assert len(ps.check_pod_template(cron, "restricted")) == 4
    assert ps.check_pod_template({"kind": "ConfigMap", "data": {}}, "restricted") == []


def test_admit_pod_enforces_then_warns():
    pod = spawner_pod()
    pod["spec"]["volumes"].append({"name": "team", "nfs": {"server": "s", "path": "/"}})
    error, warnings = ps.admit_pod(pod, {"pod-security.kubernetes.io/enforce": "restricted"})
    assert error == (
        'pods "jupyter-alice" is forbidden: violates PodSecurity "restricted:latest": '
        'restricted volume types (volume "team" uses restricted volume type "nfs")'
    )
    assert warnings == []
    labels = {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    error, warnings = ps.admit_pod(pod, labels)
    assert error is None
    assert warnings == [
        'would violate PodSecurity "restricted:latest": restricted volume types '
        '(volume "team" uses restricted volume type "nfs")'
    ]


def test_significant_pod_updates():
    old = spawner_pod()
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["x"] = "y"
    assert not ps.is_significant_pod_update(new, old)
    notebook(new)["image"] = "other"
    assert ps.is_significant_pod_update(new, old)
