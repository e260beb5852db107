"""RBAC escalation prevention: nobody grants permissions they do not hold.

kube-apiserver refuses to create or update a Role/ClusterRole whose rules the requester
does not hold themselves (unless they may ``escalate`` on roles), and a
RoleBinding/ClusterRoleBinding to a role whose rules they do not hold (unless they may
``bind`` that role). teamhub leans on this: the hub's ClusterRole must hold every rule of
the users' Role to create it, and a user's ServiceAccount must never be able to widen its
own rights. So kubesim checks it too.

Coverage is decided rule by rule, as the real ``ConfirmNoEscalation`` does: each
(group, resource, verb, name) a new rule names must be allowed to the requester, where a
wildcard in the new rule is only covered by a wildcard in the requester's rules (asking
the authorizer about the literal ``*`` does exactly that).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.rbac import Attributes, UserInfo

if TYPE_CHECKING:
    from kubesim.api import Request
    from kubesim.sim import KubeSim

RBAC = "rbac.authorization.k8s.io"
_ROLE_KINDS = {"roles": "roles", "clusterroles": "clusterroles"}
_BINDING_KINDS = {"rolebindings", "clusterrolebindings"}


def _rule_attributes(rule: dict[str, Any], namespace: str) -> Iterator[Attributes]:
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        for verb, path in itertools.product(verbs, rule["nonResourceURLs"]):
            yield Attributes.non_resource(verb, path)
        return
    names = rule.get("resourceNames") or [""]
    for group, resource, verb, name in itertools.product(
        rule.get("apiGroups") or [], rule.get("resources") or [], verbs, names
    ):
        res, _, sub = resource.partition("/")
        yield Attributes(verb, group, res, sub, namespace, name)


def _missing(
    sim: KubeSim, user: UserInfo, rules: list[dict[str, Any]], namespace: str
) -> list[dict[str, Any]]:
    """The rules (as given) that ``user`` does not fully hold in ``namespace``."""
    out = []
    for rule in rules:
        if not all(sim.rbac.holds(user, a) for a in _rule_attributes(rule, namespace)):
            out.append(rule)
    return out


def _go_rule(rule: dict[str, Any]) -> str:
    parts = []
    for key, go in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        if rule.get(key):
            parts.append(f"{go}:[{' '.join(json.dumps(v) for v in rule[key])}]")
    return "{" + ", ".join(parts) + "}"


def _refuse(req: Request, user: UserInfo, missing: list[dict[str, Any]]) -> errors.ApiError:
    name = (req.obj or {}).get("metadata", {}).get("name", "")
    groups = " ".join(json.dumps(g) for g in user.groups)
    message = (
        f'{req.rt.plural}.{RBAC} "{name}" is forbidden: user "{user.name}" '
        f"(groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n"
        + "\n".join(_go_rule(r) for r in missing)
    )
    return errors.forbidden(req.rt.plural, RBAC, name, message)


def check(sim: KubeSim, req: Request) -> None:
    """The admission step: raise 403 if ``req`` would grant what its user lacks."""
    if req.rt.group != RBAC or req.operation not in ("CREATE", "UPDATE") or req.obj is None:
        return
    if req.user_info is None or "system:masters" in req.user_info.groups:
        return  # internal callers and cluster admins
    user = req.user_info
    obj = req.obj
    ns = req.namespace if req.rt.namespaced else ""
    name = obj.get("metadata", {}).get("name", "")
    if req.rt.plural in _ROLE_KINDS:
        if sim.rbac.holds(user, Attributes("escalate", RBAC, req.rt.plural, "", ns, name)):
            return
        missing = _missing(sim, user, obj.get("rules") or [], ns)
    elif req.rt.plural in _BINDING_KINDS:
        ref = obj.get("roleRef") or {}
        kind = {"Role": "roles", "ClusterRole": "clusterroles"}.get(ref.get("kind", ""))
        if kind is None:
            return  # schema validation reports it
        bind = Attributes("bind", RBAC, kind, "", ns, ref.get("name", ""))
        if sim.rbac.holds(user, bind):
            return
        role_ns = ns if kind == "roles" else ""
        role = sim.store.peek(sim.api.rt(RBAC, kind), role_ns, ref.get("name", ""))
        if role is None:
            return  # binding to a role that does not exist yet grants nothing now
        missing = _missing(sim, user, role.get("rules") or [], ns)
    else:
        return
    if missing:
        raise _refuse(req, user, missing)
