"""The API's verbs with their admission chain: what kube-apiserver does between the
HTTP request and storage.

Both the HTTP handlers and kubesim's own controllers/kubelet go through ``Api``, so a pod
a Job controller creates meets the same Pod Security and quota admission as one a user
creates (and fails with the same events), as on a real cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors
from kubesim.rbac import UserInfo
from kubesim.resources import Registry, ResourceType
from kubesim.store import Obj, Store, deep_copy

SYSTEM = "system:kube-controller-manager"


@dataclass
class Request:
    """What admission plugins see of one write."""

    operation: str  # CREATE, UPDATE, DELETE
    rt: ResourceType
    namespace: str
    obj: Obj | None
    old: Obj | None = None
    subresource: str = ""
    user: str = SYSTEM
    dry_run: bool = False
    #: Warnings to return in ``Warning`` headers.
    warnings: list[str] = field(default_factory=list)
    #: The request's ``fieldValidation`` (Strict, Warn, Ignore; "" for the default).
    field_validation: str = ""
    #: The authenticated user with groups, for checks that need more than the name (RBAC
    #: escalation); None for writes kubesim's own controllers make.
    user_info: UserInfo | None = None


AdmissionPlugin = Callable[[Request], None]


class Api:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        #: Mutating plugins run first (defaults, service accounts, limit ranges), then
        #: validation, then validating plugins (pod security, quota). Set by kubesim.admission.
        self.mutating: list[AdmissionPlugin] = []
        self.validating: list[AdmissionPlugin] = []
        #: Called after a successful write, e.g. to keep quota usage current.
        self.after_write: list[Callable[[Request, Obj], None]] = []

    # ----------------------------------------------------------------- helpers
    def rt(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, plural)
        if rt is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return rt

    def _check_namespace(self, rt: ResourceType, namespace: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        ns = self.store.peek(self.rt("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                rt.plural,
                rt.group,
                "",
                f"{rt.plural} is forbidden: unable to create new content in namespace "
                f"{namespace} because it is being terminated",
            )

    def _admit(self, req: Request) -> None:
        for plugin in self.mutating:
            plugin(req)
        for plugin in self.validating:
            plugin(req)

    # ------------------------------------------------------------------- reads
    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        return self.store.get(rt, namespace, name)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        predicate: Callable[[Obj], bool] | None = None,
        *,
        share: bool = False,
    ) -> tuple[list[Obj], int]:
        return self.store.list(rt, namespace or None, predicate, share=share)

    # ------------------------------------------------------------------ writes
    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Obj,
        *,
        user: str = SYSTEM,
        dry_run: bool = False,
        warnings: list[str] | None = None,
        field_validation: str = "",
        user_info: UserInfo | None = None,
        take: bool = False,
        share: bool = False,
    ) -> Obj:
        """Admit and store a new object. ``take=True``: the caller hands ``body`` over
        (a freshly decoded request body), so it is admitted and stored without a copy;
        ``share=True``: the caller only reads the result (see ``Store.create``)."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        obj = body if take else deep_copy(body)
        meta = object_meta(obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        self._check_kind(rt, obj)
        self._check_namespace(rt, namespace, creating=True)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self.store.generate_name(rt, namespace, meta["generateName"])
        req = Request(
            "CREATE",
            rt,
            namespace,
            obj,
            None,
            user=user,
            dry_run=dry_run,
            field_validation=field_validation,
            user_info=user_info,
        )
        self._admit(req)
        if warnings is not None:
            warnings.extend(req.warnings)
        if dry_run:
            return obj
        created = self.store.create(rt, namespace, obj, take=True, share=share)
        for hook in self.after_write:
            hook(req, created)
        return created

    def _check_kind(self, rt: ResourceType, obj: Obj) -> None:
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if (av and av != rt.api_version) or (kind and kind != rt.kind):
            raise errors.bad_request(
                f"the API version in the data ({av}) does not match the expected API version "
                f"({rt.api_version})"
                if av != rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        *,
        subresource: str = "",
        user: str = SYSTEM,
        dry_run: bool = False,
        warnings: list[str] | None = None,
        field_validation: str = "",
        user_info: UserInfo | None = None,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        old = self.store.get(rt, namespace, name)
        new = deep_copy(body)
        meta = object_meta(new)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        self._check_kind(rt, new)
        if subresource == "status":
            # The status subresource changes status only (and metadata we ignore).
            merged = deep_copy(old)
            merged["status"] = new.get("status", {})
            rv = meta.get("resourceVersion")
            if rv:
                merged["metadata"]["resourceVersion"] = rv
            new = merged
        elif subresource:
            raise errors.method_not_allowed()
        elif "status" in rt.subresources:
            # The main resource ignores status changes when a status subresource exists.
            if "status" in old:
                new["status"] = deep_copy(old["status"])
            else:
                new.pop("status", None)
        req = Request(
            "UPDATE",
            rt,
            namespace,
            new,
            old,
            subresource,
            user,
            dry_run,
            field_validation=field_validation,
            user_info=user_info,
        )
        self._admit(req)
        if warnings is not None:
            warnings.extend(req.warnings)
        if dry_run:
            return new
        stored = self.store.replace(rt, new, take=True)  # new is our copy
        for hook in self.after_write:
            hook(req, stored)
        return stored

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        grace: int | None = None,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        user: str = SYSTEM,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete an object; returns it and whether it is gone (False: deletion pending)."""
        obj = self.store.get(rt, namespace, name)
        meta = obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition '
                f"failed: UID in precondition: {pre['uid']}, UID in object meta: {meta['uid']}",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        req = Request("DELETE", rt, namespace, None, obj, user=user, dry_run=dry_run)
        for plugin in self.validating:
            plugin(req)
        if dry_run:
            return obj, False
        if propagation is None:
            # batch/v1 Jobs still default to orphaning their pods over the REST API.
            propagation = "Orphan" if rt.key == ("batch", "jobs") else "Background"
        if propagation not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                "",
                [
                    errors.Cause(
                        "FieldValueNotSupported",
                        f'Unsupported value: "{propagation}": supported values: '
                        '"Foreground", "Background", "Orphan"',
                        "propagationPolicy",
                    )
                ],
            )
        finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(propagation)
        if rt.key == ("", "namespaces"):
            obj = self.store.mark_deleting(rt, namespace, name, 0)
            if obj.get("status", {}).get("phase") != "Terminating":
                obj["status"] = {**obj.get("status", {}), "phase": "Terminating"}
                obj = self.store.replace(rt, obj, check_rv=False)
            return obj, False
        if rt.key == ("", "pods"):
            spec_grace = obj.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            g = spec_grace if grace is None else grace
            # Pods never scheduled, or already finished, have no kubelet to wait for.
            if not obj.get("spec", {}).get("nodeName") or obj.get("status", {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                g = 0
            if g > 0 or meta.get("finalizers") or finalizer:
                pending = self.store.mark_deleting(rt, namespace, name, g, finalizer)
                if g == 0 and not pending["metadata"].get("finalizers"):
                    return self.store.remove(rt, namespace, name), True
                return pending, False
            return self.store.remove(rt, namespace, name), True
        if meta.get("finalizers") or finalizer:
            return self.store.mark_deleting(rt, namespace, name, 0, finalizer), False
        return self.store.remove(rt, namespace, name), True

    def remove_finalizer(self, rt: ResourceType, namespace: str, name: str, fin: str) -> None:
        obj = self.store.peek(rt, namespace, name)
        if obj is None or fin not in obj["metadata"].get("finalizers", []):
            return
        new = deep_copy(obj)
        new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"] if f != fin]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self.store.replace(rt, new, check_rv=False)


def object_meta(obj: Obj) -> Obj:
    """The body's ``metadata`` (made ``{}`` when absent or null, as Go's decoder leaves a
    zero ObjectMeta); anything but an object is the decoder's 400, as from the real server."""
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        from kubesim.validation.schema import json_kind

        kind = obj.get("kind") or "Object"
        version = (obj.get("apiVersion") or "").rsplit("/", 1)[-1]
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot '
            f"unmarshal {json_kind(meta)} into Go struct field {kind}.metadata of type "
            "v1.ObjectMeta"
        )
    return meta
