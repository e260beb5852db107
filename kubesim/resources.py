"""The resource types kubesim serves, and how to add one.

Each type is one ``ResourceType`` line: discovery documents, URL routing, storage and
validation are all derived from it. Adding Kubeflow's ``pytorchjobs`` later is a
``register(ResourceType(...), crd=...)`` call, not new plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    #: Only ``create`` is served, nothing is stored (SelfSubjectAccessReview, TokenReview).
    virtual: bool = False

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """``pods`` / ``jobs.batch``: the name the API uses in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)


@dataclass
class Registry:
    """All served types, looked up by (group, plural) or by apiVersion + kind."""

    types: dict[tuple[str, str], ResourceType] = field(default_factory=dict)
    #: CustomResourceDefinition manifests for types that are validated by their CRD schema.
    crds: dict[tuple[str, str], dict] = field(default_factory=dict)
    #: Bumped by every ``register``: what was derived from ``types`` is stale when it moved.
    generation: int = 0

    def register(self, rt: ResourceType, crd: dict | None = None) -> ResourceType:
        self.types[rt.key] = rt
        self.generation += 1
        if crd is not None:
            self.crds[rt.key] = crd
        return rt

    def get(self, group: str, plural: str) -> ResourceType | None:
        return self.types.get((group, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self.types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def groups(self) -> dict[str, list[ResourceType]]:
        out: dict[str, list[ResourceType]] = {}
        for rt in self.types.values():
            out.setdefault(rt.group, []).append(rt)
        return out


_RW = ALL_VERBS
_CREATE_ONLY = ("create",)


def core_types() -> list[ResourceType]:
    """The built-in types kubesim serves (see docs/kubesim.md)."""
    c = ""
    return [
        ResourceType(
            c,
            "v1",
            "Namespace",
            "namespaces",
            False,
            ("ns",),
            ("status", "finalize"),
            ("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        ResourceType(c, "v1", "Node", "nodes", False, ("no",), ("status",)),
        ResourceType(
            c,
            "v1",
            "Pod",
            "pods",
            True,
            ("po",),
            ("status", "log", "exec", "attach", "portforward", "binding", "eviction"),
            categories=("all",),
        ),
        ResourceType(
            c,
            "v1",
            "Service",
            "services",
            True,
            ("svc",),
            ("status",),
            ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            categories=("all",),
        ),
        ResourceType(c, "v1", "Endpoints", "endpoints", True, ("ep",)),
        ResourceType(c, "v1", "Secret", "secrets"),
        ResourceType(c, "v1", "ConfigMap", "configmaps", True, ("cm",)),
        ResourceType(c, "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), ("token",)),
        ResourceType(c, "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), ("status",)),
        ResourceType(
            c, "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), ("status",)
        ),
        ResourceType(c, "v1", "Event", "events", True, ("ev",)),
        ResourceType(c, "v1", "ResourceQuota", "resourcequotas", True, ("quota",), ("status",)),
        ResourceType(c, "v1", "LimitRange", "limitranges", True, ("limits",)),
        ResourceType("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
        ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
        ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
        ResourceType(
            "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False
        ),
        ResourceType(
            "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)
        ),
        ResourceType("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
        ResourceType("coordination.k8s.io", "v1", "Lease", "leases"),
        ResourceType("batch", "v1", "Job", "jobs", True, (), ("status",), categories=("all",)),
        ResourceType(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            False,
            (),
            (),
            _CREATE_ONLY,
            virtual=True,
        ),
        ResourceType(
            "authentication.k8s.io",
            "v1",
            "TokenReview",
            "tokenreviews",
            False,
            (),
            (),
            _CREATE_ONLY,
            virtual=True,
        ),
        ResourceType(
            "authentication.k8s.io",
            "v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            False,
            (),
            (),
            _CREATE_ONLY,
            virtual=True,
        ),
    ]


def default_registry() -> Registry:
    reg = Registry()
    for rt in core_types():
        reg.register(rt)
    return reg
