"""Labels, annotations and names of job objects, and the syntax checks behind them.

Why labels carry everything: the notebook server is stateless. Every object of a
submission (the workload, its ConfigMap and Service, its pods through the pod template,
the record a cancelled job leaves) carries the owner, the teams, the backend, the
submission id and the job name, so ``list()`` rebuilds the job list from the API after a
restart or a cull, and every object of one submission is found with one selector.

Keys follow the spawner's conventions (``teamhub_spawner.objects.labels``): label values
are escaped, annotations hold raw values; team membership is one label per team,
``team.teamhub.io/<team>: "true"`` (a label value cannot hold a list), with the sorted list
in the ``teamhub.io/teams`` annotation. Labels on objects the user creates are not a
security boundary (the user can write any label on their own jobs); nothing grants access
by them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DOMAIN = "teamhub.io"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "teamhub"
COMPONENT = f"{DOMAIN}/component"
#: On the workload, its ConfigMap/Service and its pods.
COMPONENT_JOB = "job"
#: On the ConfigMap a cancelled job leaves behind (see :mod:`teamhub.jobs.job`).
COMPONENT_RECORD = "job-record"
#: The escaped username (the notebook pod's ``teamhub.io/user`` label value).
OWNER = f"{DOMAIN}/owner"
BACKEND = f"{DOMAIN}/backend"
SUBMISSION = f"{DOMAIN}/submission"
JOB = f"{DOMAIN}/job"
TEAM_PREFIX = f"team.{DOMAIN}/"
#: Annotations: the raw username, the sorted comma-separated teams, the notebook pod the
#: job came from, the spec summary (JSON), and when a job was cancelled.
USER_ANNOTATION = f"{DOMAIN}/user"
TEAMS_ANNOTATION = f"{DOMAIN}/teams"
NOTEBOOK_ANNOTATION = f"{DOMAIN}/notebook"
SPEC_ANNOTATION = f"{DOMAIN}/spec"
CANCELLED_ANNOTATION = f"{DOMAIN}/cancelled-at"
KIND_ANNOTATION = f"{DOMAIN}/kind"
SUBMITTED_ANNOTATION = f"{DOMAIN}/submitted-at"
#: On a cancelled job's record: the uid the workload had.
UID_ANNOTATION = f"{DOMAIN}/uid"
#: Kueue's label naming the LocalQueue (in the job's namespace) a workload waits in.
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"

#: Label key prefixes (and exact keys) a user may not set on their jobs: teamhub's own,
#: and those the Job controller and the training operator write on the pods.
RESERVED_LABEL_DOMAINS = (DOMAIN, "batch.kubernetes.io", "training.kubeflow.org")
RESERVED_LABEL_KEYS = frozenset({MANAGED_BY, "job-name", "controller-uid"})

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_dns1035_label(value: str) -> bool:
    """A DNS-1035 label: what Service names must be (starts with a letter)."""
    return len(value) <= 63 and bool(_DNS1035.match(value))


def is_dns_subdomain(value: str) -> bool:
    return 0 < len(value) <= 253 and all(is_dns_label(p) for p in value.split("."))


def label_key_problem(key: object) -> str | None:
    """Why ``key`` is not a valid label key, or None."""
    if not isinstance(key, str) or not key:
        return f"{key!r} is not a label key (a non-empty string)"
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return f"{key!r}: the prefix {prefix!r} is not a DNS subdomain"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            f"{key!r}: the name part must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: object) -> str | None:
    """Why ``value`` is not a valid label value, or None."""
    if not isinstance(value, str):
        return f"{value!r} is not a string"
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (
            f"{value!r} is not a label value (at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit)"
        )
    return None


def reserved_label(key: str) -> bool:
    """Whether ``key`` belongs to teamhub, the Job controller or the training operator."""
    if key in RESERVED_LABEL_KEYS or key.startswith(TEAM_PREFIX):
        return True
    prefix = key.rpartition("/")[0]
    return any(prefix == d or prefix.endswith("." + d) for d in RESERVED_LABEL_DOMAINS)


def team_labels(teams: Iterable[str]) -> dict[str, str]:
    return {TEAM_PREFIX + t: "true" for t in sorted(set(teams))}


def submission_labels(
    *, owner: str, teams: Iterable[str], backend: str, submission: str, job: str
) -> dict[str, str]:
    """The labels every object of one submission carries (see the module doc)."""
    return {
        MANAGED_BY: MANAGED_BY_VALUE,
        COMPONENT: COMPONENT_JOB,
        OWNER: owner,
        BACKEND: backend,
        SUBMISSION: submission,
        JOB: job,
        **team_labels(teams),
    }


def selector(labels: Mapping[str, str]) -> str:
    """A label selector string matching exactly ``labels`` (``k=v,k2=v2``)."""
    return ",".join(f"{k}={v}" for k, v in labels.items())


def jobs_selector(owner: str, component: str = COMPONENT_JOB) -> str:
    """All teamhub jobs (or records) of ``owner``."""
    return selector({MANAGED_BY: MANAGED_BY_VALUE, COMPONENT: component, OWNER: owner})


def submission_selector(submission: str) -> str:
    """Every object (and pod) of one submission."""
    return selector({MANAGED_BY: MANAGED_BY_VALUE, SUBMISSION: submission})


def name_selector(owner: str, job: str) -> str:
    """Every object teamhub made for the job named ``job`` (any submission, any backend)."""
    return selector({MANAGED_BY: MANAGED_BY_VALUE, OWNER: owner, JOB: job})


def name_part(text: str, max_length: int) -> str:
    """``text`` reduced to something usable inside a DNS-1035 name: lowercase letters,
    digits and single '-', starting with a letter, at most ``max_length`` characters
    (``"Alice.Smith@Example.org"`` -> ``"alice-smith-example-org"``). May be empty."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    out = out.lstrip("0123456789-")
    return out[:max_length].rstrip("-")
