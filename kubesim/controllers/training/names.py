"""Names, labels and reasons of Kubeflow's training operator v1.9, as its users see them.

The values are the operator's own (``pkg/apis/kubeflow.org/v1``, ``pkg/util/status.go``,
``pkg/controller.v1/control``): clients select pods by these labels and match events and
conditions by these reasons.
"""

from __future__ import annotations

GROUP, VERSION = "kubeflow.org", "v1"
API_VERSION = f"{GROUP}/{VERSION}"

# Labels on every replica pod and service.
OPERATOR_NAME_LABEL = "training.kubeflow.org/operator-name"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
JOB_ROLE_LABEL = "training.kubeflow.org/job-role"

# runPolicy.managedBy values the operator accepts; only its own is reconciled here.
OWN_MANAGER = "kubeflow.org/training-operator"
MULTIKUEUE_MANAGER = "kueue.x-k8s.io/multikueue"

# Condition types (JobConditionType).
CREATED, RUNNING, RESTARTING, SUCCEEDED, SUSPENDED, FAILED = (
    "Created",
    "Running",
    "Restarting",
    "Succeeded",
    "Suspended",
    "Failed",
)
# Reason suffixes; the reason is the kind followed by one of them (``NewReason``).
RESUMED = "Resumed"

# Pod / service control events.
SUCCESSFUL_CREATE_POD = "SuccessfulCreatePod"
FAILED_CREATE_POD = "FailedCreatePod"
SUCCESSFUL_DELETE_POD = "SuccessfulDeletePod"
FAILED_DELETE_POD = "FailedDeletePod"
SUCCESSFUL_CREATE_SERVICE = "SuccessfulCreateService"
FAILED_CREATE_SERVICE = "FailedCreateService"
SUCCESSFUL_DELETE_SERVICE = "SuccessfulDeleteService"
EXITED_WITH_CODE = "ExitedWithCode"
SET_POD_TEMPLATE_RESTART_POLICY = "SetPodTemplateRestartPolicy"

# Replica restart policies (ReplicaSpec.restartPolicy).
ALWAYS, ON_FAILURE, NEVER, EXIT_CODE = "Always", "OnFailure", "Never", "ExitCode"

# cleanPodPolicy values.
CLEAN_ALL, CLEAN_RUNNING, CLEAN_NONE = "All", "Running", "None"


def reason(kind: str, suffix: str) -> str:
    """``NewReason``: ``PyTorchJob`` + ``Running`` -> ``PyTorchJobRunning``."""
    return f"{kind}{suffix}"


def replica_name(job_name: str, rtype: str, index: int | str) -> str:
    """``GenGeneralName``: ``<job>-<replica type, lower case>-<index>`` (pods and services)."""
    return f"{job_name}-{rtype.lower()}-{index}".replace("/", "-")


def is_retryable_exit_code(code: int) -> bool:
    """``ExitCode`` restart policy: 128+ (killed by a signal: OOM, preemption) is retried."""
    return code >= 128
