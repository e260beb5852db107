"""LocalStack failures are reported with the failing part's log, and leave nothing behind;
a malformed teams config is such a failure: the hub stops at start-up naming the keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from teamhub_hub.demo import LocalStack, hubconfig


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


def test_a_malformed_teams_config_stops_the_hub_with_the_keys_named(tmp_path: Path) -> None:
    teams = hubconfig.DEMO_TEAMS_FILE.read_text()
    bad = teams.replace("mountPath: /teams/vision/data", "mountPath: teams/vision/data")
    bad = bad.replace("readOnly: true", "readonly: true")  # a typo of a known key
    assert bad.count("teams/vision/data") == 1 and "readonly:" in bad
    teams_file = tmp_path / "teams.yaml"
    teams_file.write_text(bad)

    stack = LocalStack(tmp_path / "state", teams_file=teams_file)
    with pytest.raises(RuntimeError) as err:
        stack.start()
    message = str(err.value)
    assert message.startswith("jupyterhub (exited with 1)"), message
    assert f"invalid teams config in {teams_file}" in message
    assert "teams.vision.volumes[0].mountPath: must be an absolute path" in message
    assert "teams.vision.volumes[1].readonly: unknown key" in message
    # start() stopped what it had started: the provider and kubesim too.
    oidc_port = stack.oidc_url.rsplit(":", 1)[1]
    assert processes_mentioning(str(tmp_path), f"--port {oidc_port} ") == []
    assert stack.kubesim is None
