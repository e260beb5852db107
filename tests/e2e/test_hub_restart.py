"""Restarting the hub process while servers run: every server stays reachable and nothing
in Kubernetes is created (or changed) again.

Only the hub (and the proxy it runs) restarts; kubesim, the provider and the notebook pods
keep running. The restarted hub reads its database, finds alice's and dave's pods again
through KubeSpawner's state and reflectors, and puts their routes back in the new proxy.
"""

from __future__ import annotations

import time

import requests
from teamhub_hub.demo import LocalStack

from tests.e2e.conftest import Servers

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


def snapshot(stack: LocalStack, user: str) -> dict:
    """uid and resourceVersion of every object teamhub made for ``user`` that a restart
    could recreate or touch."""
    ns = f"teamhub-{user}"
    sim = stack.kubesim
    objs = {
        "namespace": sim.lookup("namespaces", "", ns),
        "pod": sim.lookup("pods", ns, f"jupyter-{user}"),
        "credentials": sim.lookup("secrets", ns, "teamhub-credentials"),
        "serviceaccount": sim.lookup("serviceaccounts", ns, "teamhub-user"),
    }
    pod = objs["pod"]
    assert pod is not None
    for v in pod["spec"]["volumes"]:
        if "persistentVolumeClaim" in v:
            name = v["persistentVolumeClaim"]["claimName"]
            objs[f"pvc {name}"] = claim = sim.lookup("persistentvolumeclaims", ns, name)
            objs[f"pv of {name}"] = sim.lookup("persistentvolumes", "", claim["spec"]["volumeName"])
    return {
        k: (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) if o else None
        for k, o in objs.items()
    }


def test_servers_survive_a_hub_restart_and_nothing_is_created_twice(
    servers: Servers, stack: LocalStack
) -> None:
    alice = servers["alice"]
    before = {u: snapshot(stack, u) for u in ("alice", "dave")}
    assert all(None not in s.values() for s in before.values()), before
    writes = {v: stack.kubesim.counters.total(verb=v) for v in WRITE_VERBS}
    hub_pid = stack.services["hub"].pid

    stack.restart_hub()
    assert stack.services["hub"].pid != hub_pid

    # The new proxy gets alice's route back from the restarted hub.
    deadline = time.monotonic() + 30
    while (r := alice.contents("GET", "home/jovyan")).status_code != 200:
        assert time.monotonic() < deadline, f"alice's server unreachable: {r.status_code}"
        time.sleep(0.2)
    assert servers["dave"].contents("GET", "teams/vision").status_code == 200
    for name in ("alice", "dave"):
        model = servers[name].api("GET", "/user").json()  # the login survived the restart
        assert model["servers"][""]["ready"] is True, model
    routes = requests.get(
        stack.proxy_api_url + "/api/routes",
        headers={"Authorization": f"token {stack.proxy_auth_token}"},
        timeout=10,
    ).json()
    pod_ip = stack.kubesim.lookup("pods", "teamhub-alice", "jupyter-alice")["status"]["podIP"]
    assert routes["/user/alice"]["target"] == f"http://{pod_ip}:8888"

    assert {u: snapshot(stack, u) for u in ("alice", "dave")} == before
    assert {v: stack.kubesim.counters.total(verb=v) for v in WRITE_VERBS} == writes
