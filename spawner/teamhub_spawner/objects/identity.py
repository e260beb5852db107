"""The user's in-cluster identity: a ServiceAccount, a Role and the RoleBinding between them.

Why a ServiceAccount per user: the notebook (and the jobs client in it) talks to the
Kubernetes API as *this* identity, so what a user can do from a notebook is exactly
:data:`ROLE_RULES` in their own namespace, never the hub's rights and never another
user's. The Role is namespaced and bound by a RoleBinding in the same namespace, so
nothing here grants anything outside it.

What is deliberately absent: ``secrets`` (the user's credentials reach the pod as
mounted files; API access to Secrets would also expose anything else stored in the
namespace), ``pods/exec``, ``pods/attach`` and ``pods/portforward`` (a way into other
processes, and around audit), any RBAC resource (no self-escalation), ``patch``/``update``
on anything (not needed by the job backends; they create, watch and delete), PVCs and
PVs (volumes are granted by the hub per team, not chosen by the user), and
``serviceaccounts/token``.
"""

from __future__ import annotations

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import ROLE, ROLE_BINDING, SERVICE_ACCOUNT

RBAC_API = "rbac.authorization.k8s.io"
_CRUD = ["create", "get", "list", "watch", "delete"]
_READ = ["get", "list", "watch"]

#: The complete set of rules of the user's Role. Each entry says why it is there.
ROLE_RULES: list[dict] = [
    # The default job backend: an Indexed batch/v1 Job per submission. Submit, follow,
    # list after a notebook restart (jobs are found by label), cancel/clean up.
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": list(_CRUD)},
    # The Kubeflow training-operator backends (PyTorchJob, TFJob, MPIJob), same lifecycle.
    {
        "apiGroups": ["kubeflow.org"],
        "resources": ["pytorchjobs", "tfjobs", "mpijobs"],
        "verbs": list(_CRUD),
    },
    # Job pods: find each rank's pod, its phase and pending reasons. Read-only: pods are
    # created by the Job controllers, never directly by the user.
    {"apiGroups": [""], "resources": ["pods"], "verbs": list(_READ)},
    # Each rank's logs (follow/tail/since/previous) for the log viewer and the log archive.
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    # Events explain pending pods and failed jobs (scheduling, quota, image pulls). Both
    # the core API and events.k8s.io serve them; clients use either.
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": list(_READ)},
    # The batch backend creates a headless Service per job (stable rank DNS names for
    # torchrun's rendezvous) and ConfigMaps for job scripts/hostfiles (MPI).
    {"apiGroups": [""], "resources": ["services", "configmaps"], "verbs": list(_CRUD)},
]


def service_account(namespace: str, *, username: str, name: str = SERVICE_ACCOUNT) -> dict:
    """The user's ServiceAccount.

    ``automountServiceAccountToken: false``: pods get the token only when they ask for it
    (the notebook pod does, see :mod:`.pod`), so a job pod does not carry API credentials
    it does not use.
    """
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_IDENTITY),
            "annotations": L.user_annotations(username),
        },
        "automountServiceAccountToken": False,
    }


def role(namespace: str, *, username: str, name: str = ROLE) -> dict:
    """The user's Role: exactly :data:`ROLE_RULES`, in their namespace only."""
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_IDENTITY),
            "annotations": L.user_annotations(username),
        },
        "rules": [
            {k: list(v) for k, v in rule.items()} for rule in ROLE_RULES
        ],  # copies: callers may mutate the manifest
    }


def role_binding(
    namespace: str,
    *,
    username: str,
    name: str = ROLE_BINDING,
    role_name: str = ROLE,
    service_account_name: str = SERVICE_ACCOUNT,
) -> dict:
    """Binds the user's Role to the user's ServiceAccount (and nothing else)."""
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_IDENTITY),
            "annotations": L.user_annotations(username),
        },
        "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": role_name},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account_name, "namespace": namespace}
        ],
    }
