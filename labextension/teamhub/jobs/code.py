"""How a job's code reaches its pods: a ConfigMap the job owns, mounted read-only.

Why a ConfigMap: the user's Role may create ConfigMaps (not PVCs, not Secrets), the job's
pods can mount it wherever they are scheduled, and with an ownerReference to the workload
it is garbage-collected with the job. The code is a snapshot taken at submission: editing
the notebook or the file afterwards does not change a running (or retried) job.

Every submission gets one ConfigMap, ``<job>.job`` (dots never occur in job names, so it
cannot collide with another job's objects), holding ``spec.json`` (what was asked, for
``get()`` and the record a cancelled job leaves) and the code file(s): ``main.py`` for
``source``, the script's file name for ``script``. Pods mount only the code keys, at
:data:`CODE_DIR`.

**Limit.** A ConfigMap holds at most 1 MiB (:data:`MAX_CODE_BYTES`, counted as the API
counts it: the bytes of every value). A larger script or cell is refused with
:class:`~teamhub.jobs.errors.CodeTooLargeError`; put large code on your home or a team
volume (jobs mount them at the same paths) and submit ``command=["python", "/path"]``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from teamhub.jobs.errors import CodeTooLargeError, JobSpecError
from teamhub.jobs.spec import JobSpec

#: Where job pods see their code.
CODE_DIR = "/var/run/teamhub/job"
CODE_VOLUME = "teamhub-job-code"
SPEC_KEY = "spec.json"
SOURCE_KEY = "main.py"
MAX_CODE_BYTES = 1024 * 1024
#: How several processes per worker are started: torchrun reads ``PET_NNODES``,
#: ``PET_NODE_RANK`` and ``PET_NPROC_PER_NODE``; the training operator v1 sets no
#: ``PET_MASTER_*``, so the rendezvous address is passed from ``MASTER_ADDR``/``MASTER_PORT``
#: (``$(VAR)`` is expanded by the kubelet).
TORCHRUN = ("torchrun", "--master_addr=$(MASTER_ADDR)", "--master_port=$(MASTER_PORT)")
_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]")


@dataclass(frozen=True)
class CodeBundle:
    """The code files of a submission: ``{key: content}`` (str for UTF-8 text, bytes
    otherwise) and the key that is run (None for ``command`` jobs)."""

    files: dict[str, str | bytes] = field(default_factory=dict)
    entry: str | None = None

    @property
    def entry_path(self) -> str | None:
        return f"{CODE_DIR}/{self.entry}" if self.entry else None

    def size(self) -> int:
        return sum(len(v.encode() if isinstance(v, str) else v) for v in self.files.values())


def config_key(filename: str) -> str:
    """A ConfigMap key (and file name) for ``filename``: invalid characters become ``_``."""
    key = _KEY_CHARS.sub("_", PurePosixPath(filename).name)[:253]
    if key in ("", ".", "..") or key == SPEC_KEY:
        key = f"script-{key.strip('.') or 'file'}"
    return key


def read_code(spec: JobSpec, *, cwd: str | os.PathLike[str] | None = None) -> CodeBundle:
    """The code of ``spec``: the cell for ``source``, the file's bytes for ``script``
    (relative paths from ``cwd``, default the current directory), nothing for
    ``command``. A missing or unreadable script is a :class:`JobSpecError` naming it."""
    if spec.source is not None:
        return CodeBundle({SOURCE_KEY: spec.source}, SOURCE_KEY)
    if spec.script is None:
        return CodeBundle()
    path = Path(spec.script).expanduser()
    if not path.is_absolute():
        path = Path(cwd or os.getcwd()) / path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JobSpecError([("script", f"no such file: {str(path)!r}")]) from None
    except IsADirectoryError:
        raise JobSpecError([("script", f"{str(path)!r} is a directory, not a file")]) from None
    except OSError as e:
        raise JobSpecError([("script", f"cannot read {str(path)!r}: {e.strerror}")]) from None
    try:
        content: str | bytes = data.decode()
    except UnicodeDecodeError:
        content = data
    return CodeBundle({config_key(path.name): content}, config_key(path.name))


def check_size(spec: JobSpec, code: CodeBundle, spec_json: str) -> None:
    """Refuse code a ConfigMap cannot hold, naming the field and the way out."""
    total = code.size() + len(spec_json.encode())
    if total <= MAX_CODE_BYTES:
        return
    field_name = spec.program_kind
    what = "the cell" if field_name == "source" else f"the script {spec.script!r}"
    raise CodeTooLargeError(
        [
            (
                field_name,
                f"{what} is {total / 2**20:.2f} MiB; a job's code travels in a ConfigMap, "
                "which holds at most 1 MiB. Put it on your home or a team volume (jobs "
                "mount them at the same paths) and submit command=['python', '<its path>'] "
                "instead",
            )
        ]
    )


def run_command(spec: JobSpec, code: CodeBundle, *, torchrun: bool = False) -> list[str]:
    """The argv each rank runs: the ``command`` (a string through ``/bin/sh -c``), or the
    code file with ``python`` (:data:`TORCHRUN` when the backend starts several processes
    per worker that way), ``sh`` for ``.sh``, itself when it starts with ``#!``."""
    if spec.command is not None:
        if isinstance(spec.command, str):
            return ["/bin/sh", "-c", spec.command]
        return list(spec.command)
    assert code.entry is not None and code.entry_path is not None
    content = code.files[code.entry]
    head = content[:2] if isinstance(content, bytes) else content[:2].encode()
    field_name = spec.program_kind
    if code.entry.endswith(".py") or field_name == "source":
        if torchrun:  # nodes, node rank and processes per node come from PET_* env vars
            return [*TORCHRUN, code.entry_path]
        return ["python", code.entry_path]
    if torchrun:
        raise JobSpecError(
            [
                (
                    field_name,
                    "several processes per worker are started with torchrun, which "
                    "runs Python files: give a .py script or a command",
                )
            ]
        )
    if code.entry.endswith(".sh"):
        return ["sh", code.entry_path]
    if head == b"#!":
        return [code.entry_path]
    raise JobSpecError(
        [
            (
                field_name,
                f"don't know how to run {spec.script!r}: give a .py or .sh file, a file "
                "starting with '#!', or a command",
            )
        ]
    )


def code_configmap(
    name: str,
    namespace: str,
    spec: JobSpec,
    code: CodeBundle,
    *,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> dict[str, Any]:
    """The job's ConfigMap (no ownerReference yet: the client adds it once the workload
    exists and has a uid)."""
    spec_json = json.dumps(spec.summary(), sort_keys=True)
    check_size(spec, code, spec_json)
    data: dict[str, str] = {SPEC_KEY: spec_json}
    binary: dict[str, str] = {}
    for key, value in code.files.items():
        if isinstance(value, str):
            data[key] = value
        else:
            binary[key] = base64.b64encode(value).decode()
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{name}.job",
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
        },
        "data": data,
    }
    if binary:
        cm["binaryData"] = binary
    return cm


def code_volume(name: str, code: CodeBundle) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(volume, mount) of the code files for the job's pods; None for ``command`` jobs."""
    if not code.files:
        return None
    items = [{"key": k, "path": k, "mode": 0o555} for k in sorted(code.files)]
    volume = {"name": CODE_VOLUME, "configMap": {"name": f"{name}.job", "items": items}}
    return volume, {"name": CODE_VOLUME, "mountPath": CODE_DIR, "readOnly": True}
