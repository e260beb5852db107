"""TeamSpawner in-process against kubesim (instant kubelet): what a start creates, that a
second start changes nothing, that leaving a team removes that team's objects, that
tampered choices are refused before anything is created, and what stop leaves behind.
kubesim serves Kueue's LocalQueues here, and the vision team has a ClusterQueue.

The full stack (real hub, proxy, OIDC login, process kubelet) is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from tornado import web

from kubesim.sim import KubeSim
from tests.spawner.spawner_support import (
    FakeUser,
    core_api,
    make_spawner,
    spawner_kubesim,
    stop_reflectors,  # noqa: F401 (an autouse fixture)
    teams_config,
)

# KubeSpawner's reflectors are shared per class and live on the loop that started them:
# one loop for the module, as in the hub.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    secret = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    with spawner_kubesim(tmp_path_factory.mktemp("spawner"), secret, kueue=True) as s:
        yield s


@pytest.fixture
def core(sim: KubeSim) -> client.CoreV1Api:
    return core_api(sim)


def names(items: Any) -> set[str]:
    return {i.metadata.name for i in items}


def b64d(s: str) -> str:
    return base64.b64decode(s).decode()


def local_queues(core: client.CoreV1Api, ns: str) -> dict[str, dict]:
    """The Kueue LocalQueues of a namespace: name -> spec."""
    custom = client.CustomObjectsApi(core.api_client)
    items = custom.list_namespaced_custom_object("kueue.x-k8s.io", "v1beta1", ns, "localqueues")
    return {q["metadata"]["name"]: q["spec"] for q in items["items"]}


async def test_start_creates_the_users_world_and_stop_removes_credentials(sim, core) -> None:
    user = FakeUser("alice", ["vision"])
    sp = make_spawner(user)
    url = await sp.start()
    assert url.endswith(":8888")
    # The credential Secret's values were sent, not kept: the running server's spawner
    # holds no copy of the OIDC token (the hub keeps it only in the encrypted auth state).
    assert "oidc-alice" not in repr(vars(sp))
    ns = "teamhub-alice"
    assert sp.namespace == ns
    labels = core.read_namespace(ns).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert names(core.list_namespaced_service_account(ns).items) >= {"teamhub-user"}
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    assert names(rbac.list_namespaced_role(ns).items) == {"teamhub-user"}
    pvcs = {p.metadata.name: p for p in core.list_namespaced_persistent_volume_claim(ns).items}
    assert set(pvcs) == {"home", "global.datasets", "vision.data", "vision.models"}
    secret = core.read_namespaced_secret("teamhub-credentials", ns)
    assert b64d(secret.data["oidc-access-token"]) == "oidc-alice"
    assert b64d(secret.data["jupyterhub-api-token"]) == "hub-token-for-alice"
    assert b64d(secret.data["vision.s3.AWS_SECRET_ACCESS_KEY"]) == "s3cr3t"

    pod = core.read_namespaced_pod(sp.pod_name, ns)
    assert pod.spec.service_account_name == "teamhub-user"
    assert pod.spec.security_context.run_as_non_root is True
    env = {e.name: e for e in pod.spec.containers[0].env}
    # The hub token reaches the pod by reference: `get pod` does not show it.
    assert env["JUPYTERHUB_API_TOKEN"].value is None
    assert env["JUPYTERHUB_API_TOKEN"].value_from.secret_key_ref.name == "teamhub-credentials"
    assert "hub-token-for-alice" not in str(pod.to_dict())
    # The notebook finds itself and what it may use without extra API rights.
    assert env["TEAMHUB_POD_NAME"].value_from.field_ref.field_path == "metadata.name"
    described = json.loads(pod.metadata.annotations["teamhub.io/entitlements"])
    assert described["teams"] == ["vision"]
    assert described["images"] == ["quay.io/jupyter/*"]
    assert "s3cr3t" not in pod.metadata.annotations["teamhub.io/entitlements"]
    mounts = {m.mount_path: m for m in pod.spec.containers[0].volume_mounts}
    assert mounts["/teams/vision/models"].read_only is True
    # The team's Kueue queue, and the notebook is told about it.
    assert local_queues(core, ns) == {
        "vision": {"clusterQueue": "teamhub-team-vision", "stopPolicy": "None"}
    }
    assert described["queues"] == {"vision": "teamhub-team-vision"}
    assert not mounts["/teams/vision/data"].read_only
    assert mounts["/data/public"].read_only is True

    # teamhub's steps come before the pod's events in the spawn progress.
    messages = [e["message"] async for e in sp.progress()]
    assert messages[0].startswith("Preparing namespace teamhub-alice")
    assert "identity" in messages[1]

    await sp.stop()
    assert sp.pod_name not in names(core.list_namespaced_pod(ns).items)
    assert "teamhub-credentials" not in names(core.list_namespaced_secret(ns).items)
    # Data stays.
    assert "vision.data" in names(core.list_namespaced_persistent_volume_claim(ns).items)


async def test_second_start_writes_nothing_and_leaving_a_team_prunes_it(sim, core) -> None:
    user = FakeUser("dave", ["vision"])
    sp = make_spawner(user)
    await sp.start()
    await sp.stop()
    sim.counters.reset()
    sp = make_spawner(user)
    await sp.start()
    writes = {
        k: v
        for k, v in sim.counters.by_verb().items()
        if k in ("update", "patch", "delete", "deletecollection")
    }
    assert writes == {}, writes  # everything already right
    # One listing per kind instead of a create (409) and a read per object: the namespace
    # (409, read), 9 listings, the credential Secret (deleted at stop) and the pod. (The
    # home claim's StorageClass is read once per few seconds, for all starts: not counted.)
    made = {
        (verb, resource): n
        for (verb, resource, _), n in sim.counters.requests.items()
        if resource != "storageclasses"
    }
    assert sum(n for (verb, _), n in made.items() if verb == "list") == 9
    assert {k: n for k, n in made.items() if k[0] != "list"} == {
        ("create", "namespaces"): 1,
        ("get", "namespaces"): 1,
        ("create", "secrets"): 1,
        ("create", "pods"): 1,
    }
    await sp.stop()

    user.auth_state["teamhub"]["groups"] = []  # dave left vision
    sp = make_spawner(user)
    await sp.start()
    ns = "teamhub-dave"
    assert names(core.list_namespaced_persistent_volume_claim(ns).items) == {
        "home",
        "global.datasets",
    }
    pvs = [pv.metadata.name for pv in core.list_persistent_volume().items if ns in pv.metadata.name]
    assert pvs == [f"teamhub.{ns}.global.datasets"]
    assert local_queues(core, ns) == {}
    secret = core.read_namespaced_secret("teamhub-credentials", ns)
    assert not any(k.startswith("vision.") for k in secret.data)
    await sp.stop()


async def test_tampered_profile_or_image_is_refused_before_anything_is_created(sim, core) -> None:
    bob = FakeUser("erin", ["nlp"])
    sp = make_spawner(bob, profile="gpu")
    with pytest.raises(web.HTTPError) as e:
        await sp.start()
    assert e.value.status_code == 400
    assert "Profile 'gpu' is not available to erin" in e.value.log_message
    assert "teamhub-erin" not in names(core.list_namespace().items)

    alice = FakeUser("frank", ["vision"])
    sp = make_spawner(alice)
    sp.image = "docker.io/evil/miner:latest"
    with pytest.raises(web.HTTPError) as e:
        await sp.start()
    assert e.value.status_code == 400
    assert "Image 'docker.io/evil/miner:latest' is not allowed for frank" in e.value.log_message
    assert "teamhub-frank" not in names(core.list_namespace().items)


async def test_missing_admin_secret_is_named_and_creates_nothing(sim, core, tmp_path: Path):
    user = FakeUser("gina", ["vision"])
    sp = make_spawner(user)
    sp.hub_namespace = "nowhere"
    with pytest.raises(web.HTTPError) as e:
        await sp.start()
    assert "Secret 'vision-s3' not found in namespace 'nowhere'" in e.value.log_message
    assert "teamhub-gina" not in names(core.list_namespace().items)


async def test_refreshed_token_reaches_the_running_servers_secret(sim, core) -> None:
    user = FakeUser("hana", ["vision"])
    sp = make_spawner(user)
    await sp.start()
    await sp.update_access_token("oidc-token-2")
    secret = core.read_namespaced_secret("teamhub-credentials", "teamhub-hana")
    assert b64d(secret.data["oidc-access-token"]) == "oidc-token-2"
    assert b64d(secret.data["jupyterhub-api-token"]) == "hub-token-for-hana"
    await sp.stop()
    await sp.update_access_token("oidc-token-3")  # stopped: nothing to update, no error


async def test_a_team_moved_to_another_cluster_queue_gets_its_local_queue_replaced(
    sim, core
) -> None:
    user = FakeUser("ivan", ["vision"])
    sp = make_spawner(user)
    await sp.start()
    await sp.stop()
    ns = "teamhub-ivan"
    # An admin holds ivan's queue: the hub leaves what it does not set alone.
    custom = client.CustomObjectsApi(core.api_client)
    custom.patch_namespaced_custom_object(
        "kueue.x-k8s.io", "v1beta1", ns, "localqueues", "vision", {"spec": {"stopPolicy": "Hold"}}
    )
    sp = make_spawner(user)
    await sp.start()
    await sp.stop()
    assert local_queues(core, ns)["vision"]["stopPolicy"] == "Hold"
    # spec.clusterQueue is immutable in Kueue: the queue is deleted and created again.
    moved = teams_config()
    moved["teams"]["vision"]["clusterQueue"] = "gpu-pool"
    sp = make_spawner(user, teams=moved)
    await sp.start()
    assert local_queues(core, ns) == {"vision": {"clusterQueue": "gpu-pool", "stopPolicy": "None"}}
    await sp.stop()


async def test_pod_security_level_is_checked_when_configured(sim: KubeSim) -> None:
    """A bad level stops the hub at start-up, naming the setting; baseline is allowed (the
    namespace labels themselves: tests/spawner/test_objects_identity.py)."""
    from traitlets import TraitError

    sp = make_spawner(FakeUser("plsec", ["vision"]))
    with pytest.raises(TraitError, match="pod_security_level must be one of restricted, baseline"):
        sp.pod_security_level = "privileged"
    sp.pod_security_level = "baseline"
    assert sp.pod_security_level == "baseline"


async def test_modify_pod_hook_gets_a_typed_pod_and_its_changes_are_created(sim, core) -> None:
    """KubeSpawner's hook contract holds: the hook gets a V1Pod with typed models (teamhub
    sends the pod's JSON as built only when nobody touched it), and what it changes is
    what the API server receives, teamhub's additions included."""
    from kubernetes_asyncio.client import V1EnvVar, V1Pod

    seen: list[V1Pod] = []

    def hook(spawner: Any, pod: V1Pod) -> V1Pod:
        seen.append(pod)
        pod.metadata.labels["hooked"] = "yes"
        pod.spec.containers[0].env.append(V1EnvVar(name="FROM_HOOK", value="1"))
        return pod

    sp = make_spawner(FakeUser("jade", ["vision"]), traits={"modify_pod_hook": hook})
    await sp.start()
    assert isinstance(seen[0], V1Pod)
    pod = core.read_namespaced_pod(sp.pod_name, "teamhub-jade")
    assert pod.metadata.labels["hooked"] == "yes"
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["FROM_HOOK"].value == "1"
    assert env["JUPYTERHUB_API_TOKEN"].value_from.secret_key_ref.name == "teamhub-credentials"
    assert pod.spec.service_account_name == "teamhub-user"
    await sp.stop()


async def test_a_leftover_pod_of_the_same_name_is_replaced(sim, core) -> None:
    """KubeSpawner's answer to 409 on the pod create (stop the old pod, create again)
    works with teamhub's pod create, which answers JSON rather than a V1Pod."""
    user = FakeUser("kira", ["vision"])
    sp = make_spawner(user)
    await sp.start()
    first = core.read_namespaced_pod(sp.pod_name, "teamhub-kira").metadata.uid
    # The hub lost track of it (e.g. its state was reset): a new spawner starts over.
    sp = make_spawner(user)
    await sp.start()
    again = core.read_namespaced_pod(sp.pod_name, "teamhub-kira")
    assert again.metadata.uid != first
    assert again.status.phase == "Running"
    # Stopping the old pod mid-start kept the credential Secret the new pod needs.
    assert core.read_namespaced_secret("teamhub-credentials", "teamhub-kira").data
    await sp.stop()


async def _until(check: Any, what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _pending(core: client.CoreV1Api, ns: str, name: str) -> bool:
    try:
        return core.read_namespaced_pod(name, ns).status.phase == "Pending"
    except client.ApiException:
        return False


def _set_unschedulable(core: client.CoreV1Api, value: bool) -> None:
    for node in core.list_node().items:
        core.patch_node(node.metadata.name, {"spec": {"unschedulable": value}})


async def _until_released(core: client.CoreV1Api, pv_name: str) -> None:
    def released() -> bool:
        return core.read_persistent_volume(pv_name).status.phase == "Released"

    await _until(released, f"PersistentVolume {pv_name} Released")


async def _delete_namespace(core: client.CoreV1Api, ns: str) -> None:
    """Delete a namespace as an admin would, and wait until it is gone."""
    core.delete_namespace(ns)

    def gone() -> bool:
        try:
            core.read_namespace(ns)
        except client.ApiException as e:
            return e.status == 404
        return False

    await _until(gone, f"namespace {ns} gone")


@contextlib.contextmanager
def _cordoned(core: client.CoreV1Api) -> Iterator[None]:
    """Every node unschedulable (pods stay Pending) until the block ends or the test
    uncordons them."""
    _set_unschedulable(core, True)
    try:
        yield
    finally:
        _set_unschedulable(core, False)


async def test_start_goes_on_when_the_watch_shows_its_pod_running(sim, core, monkeypatch) -> None:
    """KubeSpawner waits for the pod to run by looking at its reflector at doubling
    intervals (up to 0.2 s, 0.4 s, 0.8 s … later); TeamSpawner's pod create returns when
    the pod watch shows the pod running, so that wait finds it running at its first look.
    The pod here can run only once the test uncordons the node."""
    import kubespawner.spawner as ks

    looks: list[bool] = []
    original = ks.exponential_backoff

    async def recording(pass_func: Any, fail_message: str, *args: Any, **kwargs: Any) -> Any:
        if "did not start" not in fail_message:  # only KubeSpawner's wait for the pod
            return await original(pass_func, fail_message, *args, **kwargs)

        def look() -> Any:
            looks.append(bool(result := pass_func()))
            return result

        return await original(look, fail_message, *args, **kwargs)

    monkeypatch.setattr(ks, "exponential_backoff", recording)
    sp = make_spawner(FakeUser("lena", ["vision"]))
    with _cordoned(core):
        start = asyncio.ensure_future(sp.start())
        await _until(lambda: _pending(core, "teamhub-lena", sp.pod_name), "the pod, Pending")
        await asyncio.sleep(0.3)  # long enough for KubeSpawner's wait to have looked
        assert not start.done()
        _set_unschedulable(core, False)
        await start
    assert looks == [True]
    assert core.read_namespaced_pod(sp.pod_name, "teamhub-lena").status.phase == "Running"
    await sp.stop()


async def test_after_pod_created_hook_still_runs_before_the_pod_does(sim, core) -> None:
    """With an ``after_pod_created_hook`` (or internal TLS, or a Service), KubeSpawner has
    work between creating the pod and its start, which the pod may wait for: the pod
    create does not wait for the pod to run then. This hook is what lets the pod run."""
    seen: list[str] = []
    with _cordoned(core):

        def hook(spawner: Any, pod: dict) -> None:
            seen.append(pod["status"]["phase"])
            _set_unschedulable(core, False)

        sp = make_spawner(FakeUser("milo", ["vision"]), traits={"after_pod_created_hook": hook})
        await asyncio.wait_for(sp.start(), 15)
    assert seen == ["Pending"]
    await sp.stop()


async def test_a_pods_events_are_its_own_as_kubespawner_finds_them(sim, core) -> None:
    """TeamSpawner reads its pod's events from the event reflector's per-pod index: the
    same events, in the same order, as KubeSpawner's scan of every pod event finds, also
    after a restart (only the new pod's events, after the start's marker)."""
    from kubespawner import KubeSpawner

    spawners = [make_spawner(FakeUser(f"ev{i}", ["vision"])) for i in range(3)]
    await asyncio.gather(*(sp.start() for sp in spawners))
    for sp in spawners:
        await _until(lambda sp=sp: len(sp.events) >= 3, f"{sp.pod_name}'s events")
        assert sp.events == KubeSpawner.events.fget(sp)
        assert {e["involvedObject"]["name"] for e in sp.events} == {sp.pod_name}
        assert {"Scheduled", "Started"} <= {e["reason"] for e in sp.events}
    sp = spawners[0]
    first = {e["metadata"]["uid"] for e in sp.events}
    await sp.stop()
    await sp.start()
    await _until(lambda: "Started" in {e["reason"] for e in sp.events}, "the new pod's start")
    assert sp.events == KubeSpawner.events.fget(sp)
    assert not first & {e["metadata"]["uid"] for e in sp.events}
    await asyncio.gather(*(s.stop() for s in spawners))


async def test_a_namespace_deleted_by_an_admin_is_made_again_with_its_volumes(sim, core) -> None:
    """An admin deleted a user's namespace (the PVs, cluster-scoped and Retain, stay
    Released, their claimRef naming the gone claims' uids): the next start makes the
    namespace again and re-binds the same PVs to the new claims (the PV controller would
    otherwise leave them Pending: "already bound to a different claim")."""
    ns = "teamhub-nora"
    sp = make_spawner(FakeUser("nora", ["vision"]))
    await sp.start()
    await sp.stop()
    await _delete_namespace(core, ns)
    pv_name = f"teamhub.{ns}.vision.data"
    await _until_released(core, pv_name)

    sp = make_spawner(FakeUser("nora", ["vision"]))
    await asyncio.wait_for(sp.start(), 15)
    claim = core.read_namespaced_persistent_volume_claim("vision.data", ns)
    assert claim.status.phase == "Bound"
    pv = core.read_persistent_volume(pv_name)
    assert pv.status.phase == "Bound" and pv.spec.claim_ref.uid == claim.metadata.uid
    await sp.stop()


async def test_volumes_of_a_team_left_while_the_namespace_was_gone_go_at_the_next_start(
    sim, core
) -> None:
    """A namespace a start made has nothing to prune; a PV of an earlier namespace that the
    plan no longer has stays Released (bound to no claim, and no claim can bind it: its
    claimRef names the gone claim's uid) until the start after, which lists and prunes."""
    ns = "teamhub-olga"
    user = FakeUser("olga", ["vision"])
    sp = make_spawner(user)
    await sp.start()
    await sp.stop()
    await _delete_namespace(core, ns)
    pv_name = f"teamhub.{ns}.vision.data"
    await _until_released(core, pv_name)

    user.auth_state["teamhub"]["groups"] = []  # olga left vision meanwhile
    sp = make_spawner(user)
    await sp.start()  # a new namespace
    pv = core.read_persistent_volume(pv_name)
    assert pv.status.phase == "Released" and pv.spec.claim_ref.uid
    await sp.stop()

    sp = make_spawner(user)
    await sp.start()  # the namespace exists: listed, and the PV pruned
    mine = core.list_persistent_volume(label_selector="teamhub.io/user=olga").items
    assert [p.metadata.name for p in mine] == [f"teamhub.{ns}.global.datasets"]
    await sp.stop()


async def test_a_modify_pod_hook_may_return_a_new_v1pod(sim, core) -> None:
    """A hook may build and return another ``V1Pod`` (not the one it was given): that pod
    is what is created."""
    from kubernetes_asyncio.client import V1Pod

    def hook(spawner: Any, pod: V1Pod) -> V1Pod:
        pod.metadata.labels["rebuilt"] = "yes"
        return V1Pod(api_version="v1", kind="Pod", metadata=pod.metadata, spec=pod.spec)

    sp = make_spawner(FakeUser("pia", ["vision"]), traits={"modify_pod_hook": hook})
    await sp.start()
    pod = core.read_namespaced_pod(sp.pod_name, "teamhub-pia")
    assert pod.metadata.labels["rebuilt"] == "yes"
    assert pod.spec.service_account_name == "teamhub-user"
    await sp.stop()
