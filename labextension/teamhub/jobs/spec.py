"""``JobSpec``: what a user asks for when submitting a job, checked field by field.

Everything that can be checked without the cluster is checked here, with a message naming
the field (``workers: must be at least 1 (got 0)``); an unknown option is an error, never
ignored. What depends on the notebook's environment (the default image and whether it is
allowed, the quota) and on the backend (what it can honour, how long names may be) is
checked when the spec is built into manifests (:mod:`teamhub.jobs.build`), still before
anything is created.

Constructing a ``JobSpec`` with bad values raises :class:`~teamhub.jobs.errors.JobSpecError`
(a ``ValueError``) listing every problem, not pydantic's ``ValidationError``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from teamhub.jobs.errors import JobSpecError
from teamhub.jobs.labels import (
    QUEUE_NAME_LABEL,
    is_dns1035_label,
    is_dns_subdomain,
    label_key_problem,
    label_value_problem,
    reserved_label,
)
from teamhub.jobs.quantity import cpu_string, format_quantity, memory_string, parse_quantity

#: The backends, in the order they are offered (``indexed`` needs no operator).
BACKEND_NAMES = ("indexed", "pytorch", "tf", "mpi")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


def _whole(v: object, minimum: int, maximum: int = _INT32_MAX) -> int:
    if type(v) is not int:
        raise ValueError(f"must be a whole number (got {v!r})")
    if v < minimum:
        raise ValueError(f"must be at least {minimum} (got {v})")
    if v > maximum:
        raise ValueError(f"must be at most {maximum} (got {v})")
    return v


class JobSpec(BaseModel):
    """A job: what to run, on which backend, with how many workers and what resources.

    Exactly one of ``script`` (a file in the notebook, copied into the job), ``source``
    (code text, e.g. a cell) or ``command`` (a list of arguments, or a string run by
    ``/bin/sh -c``) says what each rank runs. Resources are per worker.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``indexed`` (a batch/v1 Indexed Job + headless Service), ``pytorch`` (PyTorchJob),
    #: ``tf`` (TFJob) or ``mpi`` (MPIJob); the last three need the Kubeflow training operator.
    backend: str = "indexed"
    script: str | None = None
    source: str | None = None
    command: list[str] | str | None = None
    workers: int = 1
    procs_per_worker: int = 1
    #: Kubernetes quantities per worker (requests); None: the namespace's defaults.
    cpu: str | None = None
    memory: str | None = None
    gpus: int = 0
    #: None: the notebook's own image.
    image: str | None = None
    env: dict[str, str] = {}
    #: Extra labels on the workload and its pods.
    labels: dict[str, str] = {}
    #: The Kueue LocalQueue the job waits in (the workload's ``kueue.x-k8s.io/queue-name``
    #: label): one of the user's queues, named after their teams (``environment()``).
    #: None: the first of the user's queues, if they have any; ``""``: no queue.
    queue: str | None = None
    #: Seconds the job may run (``activeDeadlineSeconds``); None: no limit.
    deadline: int | None = None
    #: A DNS-1035 label; None: ``<user>-<backend>-<short id>``.
    name: str | None = None
    #: ``tf`` only: the first worker is the TFJob ``Chief``.
    chief: bool = False
    #: Absolute path the job starts in; None: the notebook container's working directory.
    working_dir: str | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise spec_error(e) from None

    @classmethod
    def parse(cls, value: JobSpec | Mapping[str, Any] | None = None, **kwargs: Any) -> JobSpec:
        """A spec from a ``JobSpec``, a mapping (e.g. JSON from the REST API) and/or keyword
        arguments (later ones win)."""
        if isinstance(value, JobSpec):
            base = value.model_dump(exclude_unset=True)
        elif value is None:
            base = {}
        elif isinstance(value, Mapping):
            base = dict(value)
        else:
            raise JobSpecError(f"expected a JobSpec or a mapping of its fields, got {value!r}")
        return cls(**{**base, **kwargs})

    def replace(self, **changes: Any) -> JobSpec:
        """A copy with ``changes``, validated again."""
        return JobSpec(**{**self.model_dump(exclude_unset=True), **changes})

    # ------------------------------------------------------------------ fields
    @field_validator("backend", mode="before")
    @classmethod
    def _backend(cls, v: object) -> str:
        if not isinstance(v, str) or v not in BACKEND_NAMES:
            raise ValueError(f"{v!r} is not a backend (choose one of {', '.join(BACKEND_NAMES)})")
        return v

    @field_validator("script", mode="before")
    @classmethod
    def _script(cls, v: object) -> str | None:
        if v is None:
            return None
        if hasattr(v, "__fspath__"):
            v = str(v)
        if not isinstance(v, str) or not v.strip() or "\0" in v:
            raise ValueError(f"must be the path of a file (got {v!r})")
        return v

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, v: object) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str):
            raise ValueError(f"must be code text (a string), got {type(v).__name__}")
        if not v.strip():
            raise ValueError("is empty: there is no code to run")
        return v

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, v: object) -> list[str] | str | None:
        if v is None:
            return None
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("is empty: there is nothing to run")
            if "\0" in v:
                raise ValueError("contains a NUL character")
            return v
        if isinstance(v, list | tuple):
            if not v:
                raise ValueError("is an empty list: there is nothing to run")
            bad = [a for a in v if not isinstance(a, str)]
            if bad:
                raise ValueError(
                    f"every argument must be a string (got {bad[0]!r}); write numbers as '4'"
                )
            if any("\0" in a for a in v):
                raise ValueError("an argument contains a NUL character")
            if not v[0].strip():
                raise ValueError("the program (first argument) is empty")
            return list(v)
        raise ValueError(f"must be a list of arguments or a shell command string (got {v!r})")

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, v: object) -> int:
        return _whole(v, 1)

    @field_validator("procs_per_worker", mode="before")
    @classmethod
    def _procs(cls, v: object) -> int:
        return _whole(v, 1)

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus(cls, v: object) -> int:
        return _whole(v, 0)

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, v: object) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            raise ValueError(f"{v!r} is not a CPU amount")
        out = cpu_string(v)
        q = parse_quantity(out)
        if q <= 0:
            raise ValueError(f"must be more than 0 (got {v!r})")
        if q * 1000 != (q * 1000).to_integral_value():
            raise ValueError(f"{v!r}: CPU amounts are counted in whole millicores (at least 1m)")
        return out

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, v: object) -> str | None:
        if v is None:
            return None
        out = memory_string(v)
        q = parse_quantity(out)
        if q <= 0:
            raise ValueError(f"must be more than 0 (got {v!r})")
        if q != q.to_integral_value():
            raise ValueError(
                f"{v!r} is {format_quantity(q)} bytes, not a whole number of bytes "
                "(did you mean Mi or Gi rather than m?)"
            )
        return out

    @field_validator("image", mode="before")
    @classmethod
    def _image(cls, v: object) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str) or not v or any(c.isspace() for c in v):
            raise ValueError(f"{v!r} is not an image reference (e.g. 'quay.io/jupyter/scipy')")
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v: object) -> dict[str, str]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            raise ValueError(f"must be a mapping of variable names to strings (got {v!r})")
        problems = []
        for key, value in v.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                problems.append(
                    f"{key!r} is not a valid variable name (letters, digits and '_', "
                    "not starting with a digit)"
                )
            elif not isinstance(value, str):
                problems.append(f"{key}: the value must be a string (got {value!r})")
            elif "\0" in value:
                problems.append(f"{key}: the value contains a NUL character")
        if problems:
            raise ValueError("; ".join(problems))
        return dict(v)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, v: object) -> dict[str, str]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            raise ValueError(f"must be a mapping of label keys to values (got {v!r})")
        problems = []
        for key, value in v.items():
            problem = label_key_problem(key)
            if problem is None and reserved_label(key):
                problem = f"{key!r} is reserved for teamhub and the job controllers"
            if problem is None:
                value_problem = label_value_problem(value)
                problem = f"{key}: {value_problem}" if value_problem else None
            if problem:
                problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return dict(v)

    @field_validator("queue", mode="before")
    @classmethod
    def _queue(cls, v: object) -> str | None:
        if v is None or v == "":
            return v
        if not isinstance(v, str) or len(v) > 63 or not is_dns_subdomain(v):
            raise ValueError(
                f"{v!r} is not a queue name (a LocalQueue: at most 63 lowercase letters, "
                "digits, '-' and '.'; your queues are named after your teams)"
            )
        return v

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, v: object) -> int | None:
        if v is None:
            return None
        if isinstance(v, dt.timedelta):
            seconds = v.total_seconds()
            if seconds != int(seconds):
                raise ValueError(f"must be whole seconds (got {v})")
            v = int(seconds)
        return _whole(v, 1, _INT64_MAX)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: object) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str) or not is_dns1035_label(v):
            raise ValueError(
                f"{v!r} is not a valid job name (at most 63 lowercase letters, digits and "
                "'-', starting with a letter and ending with a letter or digit)"
            )
        return v

    @field_validator("chief", mode="before")
    @classmethod
    def _chief(cls, v: object) -> bool:
        if not isinstance(v, bool):
            raise ValueError(f"must be True or False (got {v!r})")
        return v

    @field_validator("working_dir", mode="before")
    @classmethod
    def _working_dir(cls, v: object) -> str | None:
        if v is None:
            return None
        if hasattr(v, "__fspath__"):
            v = str(v)
        if not isinstance(v, str) or not v.startswith("/") or "\0" in v:
            raise ValueError(f"must be an absolute path (got {v!r})")
        return v

    @model_validator(mode="after")
    def _queue_once(self) -> JobSpec:
        if self.queue is not None and QUEUE_NAME_LABEL in self.labels:
            raise ValueError(
                f"give the queue once: queue={self.queue!r} or labels[{QUEUE_NAME_LABEL!r}], "
                "not both"
            )
        return self

    @model_validator(mode="after")
    def _one_program(self) -> JobSpec:
        given = [f for f in ("script", "source", "command") if getattr(self, f) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(
                f"give exactly one of script (a file), source (code text) or command (got {got})"
            )
        return self

    # ------------------------------------------------------------------ views
    @property
    def program_kind(self) -> str:
        """``script``, ``source`` or ``command``."""
        return next(f for f in ("script", "source", "command") if getattr(self, f) is not None)

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready description for the workload's annotation and job lists: the
        spec without code text or env values (those are in the job's ConfigMap and pods)."""
        out = self.model_dump(exclude={"source", "env"}, exclude_none=True)
        if self.source is not None:
            out["source"] = f"<{len(self.source.encode())} bytes>"
        if isinstance(self.command, str) and len(self.command) > 1000:
            out["command"] = self.command[:1000] + "…"
        if self.env:
            out["env"] = sorted(self.env)
        return out


_FIELDS = tuple(JobSpec.model_fields)


def spec_error(error: ValidationError) -> JobSpecError:
    """pydantic's errors as ``(field, message)`` pairs with teamhub's wording."""
    problems: list[tuple[str, str]] = []
    for e in error.errors():
        field = ".".join(str(p) for p in e["loc"])
        if e["type"] == "value_error":
            message = str(e["ctx"]["error"])
        elif e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(field, _FIELDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            message = f"unknown option ({hint}the options are {', '.join(_FIELDS)})"
        else:
            message = f"{e['msg']} (got {e.get('input')!r})"
        problems.append((field, message))
    return JobSpecError(problems)
