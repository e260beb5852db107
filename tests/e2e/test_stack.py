"""LocalStack failures are reported with the failing part's log, and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from teamhub_hub.demo import LocalStack


def processes_mentioning(*needles: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(n in text for n in needles):
            found.append(text)
    return found


def test_a_hub_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    stack = LocalStack(
        tmp_path / "state",
        extra_config='raise ValueError("teams.vision.volumes[1].mountPath: must be absolute")',
    )
    with pytest.raises(RuntimeError) as err:
        stack.start()
    message = str(err.value)
    assert message.startswith("jupyterhub (exited with 1)")
    assert "teams.vision.volumes[1].mountPath: must be absolute" in message
    # start() stopped what it had started: the provider and kubesim too.
    oidc_port = stack.oidc_url.rsplit(":", 1)[1]
    assert processes_mentioning(str(tmp_path), f"--port {oidc_port} ") == []
    assert stack.kubesim is None
