"""What the ``process`` runtime runs for the operators' own init containers.

The process runtime runs a container's command on this machine, without its image. Two
init containers that teamhub's job backends meet are the operators' and rely on their
images, so kubesim stands in for them, by name, as the image would behave:

- ``kubectl-delivery`` (Kubeflow MPI operator v1, on the launcher): copies the image's
  ``kubectl`` into the volume at ``$TARGET_DIR``. The copy is done when the pod's volumes
  are set up (:mod:`kubesim.kubelet.kubectl_delivery`); the container then exits 0.
- ``init-pytorch`` (Kubeflow training operator v1, on each worker of a PyTorchJob with a
  Master): ``nslookup <master>`` every 2 s, up to ``seq N`` times, printing ``waiting for
  master`` after each miss, exit 1 when out of tries. There is no cluster DNS here:
  the name is looked up in the pod's own hosts file (:mod:`kubesim.kubelet.dns`), which
  lists the master once its Service selects a ready pod, as CoreDNS would answer.

Any other init container runs its command like any container.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from kubesim.kubelet.logs import LogWriter

KUBECTL_DELIVERY, INIT_PYTORCH = "kubectl-delivery", "init-pytorch"
_NSLOOKUP = re.compile(r"nslookup\s+([A-Za-z0-9.-]+)")
_TRIES = re.compile(r"seq\s+(\d+)")


class StandIn:
    """A container whose "process" is a coroutine of kubesim's."""

    reason: str | None = None  # (what the kubelet asks a runtime's container)
    message = ""
    exec_env: dict[str, str] | None = None  # nothing to exec into, as with the instant runtime

    def __init__(self, run: asyncio.Future[int] | None = None) -> None:
        self._task = run

    async def wait(self) -> int:
        if self._task is None:
            return 0
        try:
            return await self._task
        except asyncio.CancelledError:
            return 137

    async def stop(self, grace: float) -> None:
        if self._task is not None:
            self._task.cancel()


def stand_in(pod: dict, container: dict, hosts: Path, writer: LogWriter) -> StandIn | None:
    """The stand-in for ``container`` of ``pod`` if it is one of the operators' init
    containers above, else None."""
    inits = {c.get("name") for c in pod["spec"].get("initContainers") or []}
    name = container.get("name")
    if name not in inits:
        return None
    if name == KUBECTL_DELIVERY:
        return StandIn()
    if name == INIT_PYTORCH:
        script = " ".join([*(container.get("command") or []), *(container.get("args") or [])])
        master, tries = _NSLOOKUP.search(script), _TRIES.search(script)
        if master is None:
            return None
        wait = wait_for_name(master.group(1), int(tries.group(1)) if tries else 100, hosts, writer)
        return StandIn(asyncio.get_running_loop().create_task(wait))
    return None


def resolves(name: str, hosts: Path) -> bool:
    """Whether ``name`` is in the hosts file (what the pod's resolver would find)."""
    try:
        text = hosts.read_text()
    except OSError:
        return False
    return any(name in line.split()[1:] for line in text.splitlines() if not line.startswith("#"))


async def wait_for_name(
    name: str, tries: int, hosts: Path, writer: LogWriter, interval: float = 2.0
) -> int:
    """``init-pytorch``'s loop: 0 once ``name`` resolves, 1 after ``tries`` misses of
    ``interval`` each. The file is looked at every tenth of a second (it changes the
    moment the master is ready, where a lookup would wait for the next try): the outcome
    and the deadline are the script's, the start is not needlessly late."""
    loop = asyncio.get_running_loop()
    for _ in range(tries):
        deadline = loop.time() + interval
        while loop.time() < deadline:
            if resolves(name, hosts):
                writer.write(f"Name:\t{name}\n".encode())
                return 0
            await asyncio.sleep(0.1)
        writer.write(b"waiting for master\n")
    return 1
