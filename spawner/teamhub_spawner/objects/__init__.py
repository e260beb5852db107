"""Pure builders of each user's Kubernetes objects: where teams become Kubernetes objects.

Every function takes plain values (strings, and dicts in the wire shape of the teams
config, i.e. ``model.model_dump(by_alias=True)``) and returns manifest dicts; no I/O, no
config-model imports. Invalid input is a ``ValueError`` naming the config key at fault.

Modules: :mod:`.labels` (label/annotation keys), :mod:`.names` (object names),
:mod:`.namespace`, :mod:`.identity` (ServiceAccount, Role, RoleBinding),
:mod:`.credentials` (the per-server Secret, its files and env refs), :mod:`.volumes`
(team/global PV+PVC, home PVC, pod volumes), :mod:`.network` (NetworkPolicy),
:mod:`.quota` (ResourceQuota, LimitRange), :mod:`.kueue` (Kueue LocalQueues), :mod:`.pod`
(what TeamSpawner adds to the pod).
"""

from teamhub_spawner.objects.credentials import (
    access_token_patch,
    credential_env,
    credential_key,
    credential_secret,
    credential_volumes,
    tokens_volume,
)
from teamhub_spawner.objects.identity import ROLE_RULES, role, role_binding, service_account
from teamhub_spawner.objects.kueue import QUEUE_NAME_LABEL, local_queue
from teamhub_spawner.objects.names import (
    GLOBAL_SCOPE,
    credential_secret_name,
    namespace_name,
    volume_pv_name,
    volume_pvc_name,
)
from teamhub_spawner.objects.namespace import user_namespace
from teamhub_spawner.objects.network import notebook_network_policy
from teamhub_spawner.objects.pod import PodAdditions, apply_pod_additions, pod_additions
from teamhub_spawner.objects.quota import limit_range, resource_quota
from teamhub_spawner.objects.volumes import (
    csi_volume_handle,
    home_pvc,
    team_volume_pv,
    team_volume_pvc,
)

__all__ = [
    "GLOBAL_SCOPE",
    "QUEUE_NAME_LABEL",
    "ROLE_RULES",
    "PodAdditions",
    "access_token_patch",
    "apply_pod_additions",
    "credential_env",
    "credential_key",
    "credential_secret",
    "credential_secret_name",
    "credential_volumes",
    "csi_volume_handle",
    "home_pvc",
    "limit_range",
    "local_queue",
    "namespace_name",
    "notebook_network_policy",
    "pod_additions",
    "resource_quota",
    "role",
    "role_binding",
    "service_account",
    "team_volume_pv",
    "team_volume_pvc",
    "tokens_volume",
    "user_namespace",
    "volume_pv_name",
    "volume_pvc_name",
]
