"""The ``instant`` runtime: containers run at once and, unless scripted, forever.

For fast tests and benchmarks. A test can script a container through pod annotations
(any client can set them): ``kubesim.io/logs`` (text the container prints),
``kubesim.io/exit-code`` (it exits with this code) and ``kubesim.io/run-seconds`` (after
this long; default 0 when an exit code is given).
"""

from __future__ import annotations

import asyncio

from kubesim.kubelet.logs import LogWriter


class InstantContainer:
    def __init__(self, exit_code: int | None, run_seconds: float) -> None:
        self._exit = exit_code
        self._run = run_seconds
        self._stopped = asyncio.Event()

    async def wait(self) -> int:
        if self._exit is None:
            await self._stopped.wait()
            return 137
        try:
            await asyncio.wait_for(self._stopped.wait(), self._run)
            return 137
        except TimeoutError:
            return self._exit

    async def stop(self, grace: float) -> None:
        self._stopped.set()


class InstantRuntime:
    async def prepare_pod(self, pod: dict) -> None:
        return None

    async def start(self, pod: dict, container: dict, writer: LogWriter) -> InstantContainer:
        inits = {c.get("name") for c in pod["spec"].get("initContainers") or []}
        if container.get("name") in inits:  # succeed at once: the scripts are the others'
            return InstantContainer(0, 0)
        ann = pod["metadata"].get("annotations") or {}
        text = ann.get("kubesim.io/logs")
        if text:
            writer.write(text.encode() + (b"" if text.endswith("\n") else b"\n"))
        code = ann.get("kubesim.io/exit-code")
        return InstantContainer(
            int(code) if code is not None else None, float(ann.get("kubesim.io/run-seconds", "0"))
        )

    async def cleanup_pod(self, pod: dict) -> None:
        return None
