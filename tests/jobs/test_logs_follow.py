"""Job logs against kubesim's process kubelet (real processes writing real output):
following a pod created later, following a container across restarts (including a run
that came and went while the reader was stalled), previous instances with distinct output,
a 50 MB log streamed and archived in bounded memory, log requests that fail and are
retried, and CreateContainerConfigError as a pending reason."""

from __future__ import annotations

import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from teamhub.jobs.archive import archive_logs
from teamhub.jobs.logs import stream_log_text, stream_logs
from teamhub.jobs.pending import pending_reasons

from kubesim.faults import Faults
from kubesim.sim import KubeSim
from tests.jobs.logs_support import (
    await_for,
    container_state,
    core_api,
    finished,
    job_pod,
    notebook_kubeconfig,
    setup_namespace,
    wait_for,
)

NS = "team-follow"
MB = 2**20


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    s = KubeSim(kubelet="process", data_dir=tmp_path_factory.mktemp("kubesim")).start()
    setup_namespace(s, NS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def kubeconfig(sim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return notebook_kubeconfig(sim, NS, tmp_path_factory.mktemp("kube") / "config")


@pytest_asyncio.fixture
async def core(kubeconfig: Path):
    async with core_api(kubeconfig) as api:
        yield api


@pytest.fixture
def sub() -> str:
    """A fresh submission id per test (the simulator is shared by the module)."""
    return f"s{uuid.uuid4().hex[:8]}"


def py(script: str) -> list[str]:
    return [sys.executable, "-c", script]


WAIT_GATE = "import os, time\nwhile not os.path.exists(os.environ['GATE']): time.sleep(0.02)\n"


@pytest.mark.asyncio
async def test_follow_picks_up_a_pod_created_later(sim, core, sub, tmp_path):
    gate = tmp_path / "gate"
    sim.apply(
        job_pod(
            f"{sub}-master-0",
            NS,
            sub,
            role="master",
            index=0,
            env={"GATE": str(gate)},
            command=py(f"print('a1', flush=True)\n{WAIT_GATE}print('a2')"),
        )
    )
    seen: list[str] = []
    stream = stream_logs(core, NS, f"teamhub.io/submission={sub}", follow=True)
    async for line in stream:
        seen.append(str(line))
        if line.text == "a1":  # the only pod is running: now a second rank appears
            sim.apply(
                job_pod(
                    f"{sub}-worker-0", NS, sub, role="worker", index=0, command=py("print('b1')")
                )
            )
        if line.text == "b1":
            gate.touch()
    assert seen == ["[master-0] a1", "[worker-0] b1", "[master-0] a2"]


RESTARTING = """
import os, sys, time
state, gate = os.environ["STATE"], os.environ["GATE"]
n = int(open(state).read()) + 1 if os.path.exists(state) else 1
open(state, "w").write(str(n))
def wait(g):
    while not os.path.exists(g):
        time.sleep(0.02)
if n == 1:
    sys.stdout.write("".join(f"attempt 1 line {i:05d} {'x' * 100}\\n" for i in range(3000)))
    sys.stdout.flush()
    wait(gate + "1")
    sys.exit(1)
if n == 2:
    print("attempt 2 line 0\\nattempt 2 line 1", flush=True)
    sys.exit(2)
print("attempt 3 line 0\\nattempt 3 line 1", flush=True)
wait(gate + "3")
print("attempt 3 done", flush=True)
"""


@pytest.mark.asyncio
async def test_follow_continues_across_restarts_without_losing_or_repeating(
    sim, core, sub, tmp_path
):
    gate, name = str(tmp_path / "gate"), f"{sub}-worker-0"
    env = {"STATE": str(tmp_path / "state"), "GATE": gate}
    sim.apply(
        job_pod(
            name,
            NS,
            sub,
            role="worker",
            index=0,
            env=env,
            restart="OnFailure",
            command=py(RESTARTING),
        )
    )
    # queue_batches=1: the reader stalls (backpressure) while attempt 1's 330 KB is unread.
    it = aiter(stream_logs(core, NS, f"teamhub.io/submission={sub}", follow=True, queue_batches=1))
    lines = [await anext(it)]
    Path(gate + "1").touch()
    # Attempt 2 runs and exits, attempt 3 starts — all while the reader is stalled.
    st = await await_for(
        lambda: (
            (s := container_state(sim, NS, name)).get("restartCount") == 2
            and "running" in s["state"]
            and s
        ),
        what="third attempt running",
    )
    assert st["lastState"]["terminated"]["exitCode"] == 2
    async for line in it:
        lines.append(line)
        if line.text == "attempt 3 line 1":
            Path(gate + "3").touch()
    texts = [ln.text for ln in lines]
    expected = [f"attempt 1 line {i:05d} {'x' * 100}" for i in range(3000)]
    expected += ["attempt 2 line 0", "attempt 2 line 1", "attempt 3 line 0", "attempt 3 line 1"]
    assert texts == [*expected, "attempt 3 done"]
    assert {ln.replica for ln in lines} == {"worker-0"}
    assert sim.lookup("pods", NS, name)["status"]["phase"] == "Succeeded"


@pytest.mark.asyncio
async def test_previous_instance_has_its_own_output_and_is_archived(sim, core, sub, tmp_path):
    name, gate = f"{sub}-worker-0", tmp_path / "gate"
    script = (
        "import os, sys\n"
        "if not os.path.exists(os.environ['STATE']):\n"
        "    open(os.environ['STATE'], 'w').close(); print('first run'); sys.exit(1)\n"
        f"print('second run', flush=True)\n{WAIT_GATE}"
    )
    env = {"STATE": str(tmp_path / "state"), "GATE": str(gate)}
    sim.apply(
        job_pod(
            name,
            NS,
            sub,
            role="worker",
            index=0,
            env=env,
            restart="OnFailure",
            command=py(script),
            job="pj",
        )
    )
    sel = f"teamhub.io/submission={sub}"
    await await_for(
        lambda: (
            container_state(sim, NS, name).get("restartCount") == 1
            and "running" in container_state(sim, NS, name)["state"]
        )
    )
    live = aiter(stream_logs(core, NS, sel, follow=True))
    assert (await anext(live)).text == "second run"  # the second run has printed
    await live.aclose()
    prev = [str(ln) async for ln in stream_logs(core, NS, sel, previous=True)]
    cur = [str(ln) async for ln in stream_logs(core, NS, sel)]
    assert (prev, cur) == (["[worker-0] first run"], ["[worker-0] second run"])
    written = await archive_logs(core, NS, sel, tmp_path / "archive")
    assert [(p.name, p.read_text()) for p in written] == [
        ("worker-0.log", "second run\n"),
        ("worker-0.previous.log", "first run\n"),
    ]
    gate.touch()
    finished(sim, NS, name)


@pytest.mark.asyncio
async def test_a_50mb_log_is_streamed_and_archived_in_bounded_memory(sim, core, sub, tmp_path):
    n, width = 50_000, 1000  # 50k lines of 1000 bytes: 50 MB
    script = (
        "import sys\nw = sys.stdout.write\npad = 'x' * 990\n"
        f"for i in range({n}):\n    w(f'{{i:08d}} {{pad}}\\n')\n"
    )
    sim.apply(job_pod(f"{sub}-worker-0", NS, sub, role="worker", index=0, command=py(script)))
    sel = f"teamhub.io/submission={sub}"
    count = size = text_size = 0
    tracemalloc.start()
    try:
        async for line in stream_logs(core, NS, sel, follow=True, prefix=False):
            assert int(line.text[:8]) == count  # every line, in order
            count += 1
            size += len(line.text) + 1
        stream_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        async for chunk in stream_log_text(core, NS, sel):  # as the server extension reads
            text_size += len(chunk)
        text_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        written = await archive_logs(core, NS, sel, tmp_path)
        archive_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (count, size) == (n, n * width)
    assert text_size == n * (width + len("[worker-0] "))
    assert written[0].stat().st_size == n * width
    for what, peak in (("stream", stream_peak), ("text", text_peak), ("archive", archive_peak)):
        assert peak < 20 * MB, f"{what} peaked at {peak / MB:.1f} MB"


@pytest.mark.asyncio
async def test_failing_log_requests_are_retried_without_repeating_lines(sim, core, sub):
    sim.faults = Faults(seed=7)
    sim.faults.add_error(503, 0.3, resources={"pods/log"})
    try:
        for i in range(4):
            sim.apply(
                job_pod(
                    f"{sub}-{i}",
                    NS,
                    sub,
                    completion_index=i,
                    command=py(f"for k in range(50): print('r{i}', k)"),
                )
            )
        got = [
            str(ln)
            async for ln in stream_logs(core, NS, f"teamhub.io/submission={sub}", follow=True)
        ]
    finally:
        sim.faults.clear()
    assert sorted(got) == sorted(f"[rank-{i}] r{i} {k}" for i in range(4) for k in range(50))


@pytest.mark.asyncio
async def test_missing_secret_is_explained_as_pending(sim, core, sub):
    pod = job_pod(f"{sub}-worker-0", NS, sub, role="worker", index=0, command=py("print(1)"))
    ref = {"secretKeyRef": {"name": "team-creds", "key": "token"}}
    pod["spec"]["containers"][0]["env"] = [{"name": "TOKEN", "valueFrom": ref}]
    sim.apply(pod)

    def waiting_reason() -> str | None:
        state = container_state(sim, NS, f"{sub}-worker-0").get("state", {})
        return state.get("waiting", {}).get("reason")

    wait_for(lambda: waiting_reason() == "CreateContainerConfigError")
    reasons = await pending_reasons(core, NS, f"teamhub.io/submission={sub}")
    assert reasons == [
        "worker-0: container main cannot start (CreateContainerConfigError): "
        'secret "team-creds" not found'
    ]
    sim.call(lambda: sim.api.delete(sim.api.rt("", "pods"), NS, f"{sub}-worker-0", grace=0))
