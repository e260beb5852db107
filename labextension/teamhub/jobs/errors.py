"""The errors the jobs API raises, so callers (magics, the REST API, widgets) can tell a bad
request (the user's to fix, shown as is) from a cluster problem.

Every message names what is wrong (the spec field, the object, the quota) and, where there
is one, what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterable


class JobError(Exception):
    """Base class of every error of :mod:`teamhub.jobs`."""


class JobSpecError(JobError, ValueError):
    """The job as asked cannot be submitted: nothing was created.

    ``problems`` holds ``(field, message)`` pairs (field ``""`` for the spec as a whole);
    ``str(error)`` lists them all, one per line after the first.
    """

    def __init__(self, problems: Iterable[tuple[str, str]] | str) -> None:
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems: list[tuple[str, str]] = list(problems)
        lines = [f"{f}: {m}" if f else m for f, m in self.problems]
        if len(lines) == 1:
            text = f"invalid job: {lines[0]}"
        else:
            text = "invalid job:\n" + "\n".join(f"  {line}" for line in lines)
        super().__init__(text)

    @property
    def fields(self) -> list[str]:
        """The spec fields at fault (for forms that highlight them)."""
        return [f for f, _ in self.problems]


class ImageNotAllowedError(JobSpecError):
    """The image is not among the images the user's teams allow."""


class QuotaExceededError(JobSpecError):
    """The job alone asks for more than the user's quota: it could never run."""


class CodeTooLargeError(JobSpecError):
    """The script or cell is larger than a ConfigMap can carry (1 MiB)."""


class BackendUnavailableError(JobError):
    """The backend needs an API the cluster does not serve (e.g. the Kubeflow training
    operator's PyTorchJob): nothing was created."""


class JobExistsError(JobError):
    """A job (or the record of a cancelled job) with this name exists already."""


class JobNotFoundError(JobError, LookupError):
    """No job of that name in the user's namespace."""


class NotebookEnvironmentError(JobError):
    """The notebook pod cannot be read or is not a teamhub notebook (no environment to
    inherit)."""


class KubeApiError(JobError):
    """The Kubernetes API refused a request; ``status``/``reason`` are the API's."""

    def __init__(self, status: int, reason: str, message: str, *, what: str = "") -> None:
        self.status = status
        self.reason = reason
        self.api_message = message
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}{message} ({status} {reason})".strip())


class SubmitError(JobError):
    """Submission failed half-way; what had been created was removed (``cleaned``) or could
    not be (``leftovers``, named in the message)."""

    def __init__(self, message: str, *, leftovers: Iterable[str] = ()) -> None:
        self.leftovers = list(leftovers)
        if self.leftovers:
            message += "; could not remove " + ", ".join(self.leftovers) + " (delete them by hand)"
        super().__init__(message)
