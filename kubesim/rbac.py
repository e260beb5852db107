"""RBAC authorization, evaluated the way kube-apiserver's RBAC authorizer evaluates it.

Clients (KubeSpawner, the jobs API, kubectl) react to the exact 403 the real server sends
and to ``SelfSubjectAccessReview`` answers, so both the allow/deny decision and the phrasing
follow ``plugin/pkg/auth/authorizer/rbac`` and ``responsewriters/errors.go``:

- ClusterRoleBindings grant everywhere; RoleBindings grant only in their own namespace and
  may reference a ClusterRole. Subjects are Users, Groups and ServiceAccounts (an SA subject
  without a namespace means the binding's namespace; in a ClusterRoleBinding it never
  matches). Unknown subject kinds never match.
- Rules match verbs/apiGroups/resources with ``*``, ``<resource>/<subresource>`` and
  ``*/<subresource>``. As in Kubernetes, ``pods/*`` is *not* a wildcard: it only matches
  a literal ``pods/*``. ``resourceNames`` only match requests that carry a name, so
  ``list`` and ``create`` never match a rule that has them. ``nonResourceURLs`` match
  exactly, ``*``, or by prefix when they end in ``*``.
- Aggregated ClusterRoles (``aggregationRule``) get the union of the rules of the
  ClusterRoles their selectors match, as the clusterrole-aggregation controller would write.
- Members of ``system:masters`` are always allowed (kube-apiserver's privileged-group
  authorizer runs before RBAC).

``RbacIndex`` keeps bindings indexed by subject, so one request costs a few dict look-ups
rather than a scan of every binding in the cluster; results are cached per
(user, groups, namespace) and the cache is dropped on any change.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubesim import errors

RBAC_GROUP = "rbac.authorization.k8s.io"
SA_PREFIX = "system:serviceaccount:"
MASTERS = "system:masters"
_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True)
class UserInfo:
    """The authenticated identity of a request (name and groups are all RBAC looks at)."""

    name: str
    groups: tuple[str, ...] = ()


def service_account_user(namespace: str, name: str) -> UserInfo:
    """The identity a ServiceAccount token authenticates as."""
    return UserInfo(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do: a resource request, or a non-resource URL if a path is set."""

    verb: str
    api_group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    non_resource_path: str = ""

    @classmethod
    def non_resource(cls, verb: str, path: str) -> Attributes:
        return cls(verb, "", "", non_resource_path=path)

    @property
    def is_resource_request(self) -> bool:
        return not self.non_resource_path


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """One PolicyRule against one request (``RuleAllows`` in the RBAC authorizer)."""
    verbs = rule.get("verbs") or ()
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.is_resource_request:
        path = attrs.non_resource_path
        return any(
            u == "*" or u == path or (u.endswith("*") and path.startswith(u.rstrip("*")))
            for u in rule.get("nonResourceURLs") or ()
        )
    groups = rule.get("apiGroups") or ()
    if "*" not in groups and attrs.api_group not in groups:
        return False
    sub = attrs.subresource
    combined = f"{attrs.resource}/{sub}" if sub else attrs.resource
    if not any(
        r == "*" or r == combined or (sub and r == "*/" + sub) for r in rule.get("resources") or ()
    ):
        return False
    names = rule.get("resourceNames")
    return not names or attrs.name in names


def _q(s: str) -> str:
    """Go's ``%q`` for the strings that occur here."""
    return json.dumps(s, ensure_ascii=False)


def _sanitize(s: str) -> str:
    # The server escapes what could pass for HTML in its own part of the message.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_message(user: UserInfo, attrs: Attributes, reason: str = "") -> str:
    """The ``message`` of the 403 kube-apiserver sends when authorization denies ``attrs``."""
    if not attrs.is_resource_request:
        msg = f"User {_q(user.name)} cannot {attrs.verb} path {_q(attrs.non_resource_path)}"
        prefix = "forbidden: "
    else:
        res = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        scope = (
            f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        )
        msg = (
            f"User {_q(user.name)} cannot {attrs.verb} resource {_q(res)} "
            f"in API group {_q(attrs.api_group)} {scope}"
        )
        qualified = errors.qualified(attrs.resource, attrs.api_group)
        named = f" {_q(attrs.name)}" if attrs.name else ""
        prefix = f"{qualified}{named} is forbidden: "
    msg = _sanitize(msg)
    return prefix + (f"{msg}: {reason}" if reason else msg)


def forbidden_error(user: UserInfo, attrs: Attributes, reason: str = "") -> errors.ApiError:
    """The 403 ``ApiError`` for a denied request, details as ``NewForbidden`` fills them."""
    message = forbidden_message(user, attrs, reason)
    if not attrs.is_resource_request:
        return errors.ApiError(403, "Forbidden", message)
    return errors.forbidden(attrs.resource, attrs.api_group, attrs.name, message)


def _aggregate(errs: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message, or ``[a, b]`` de-duplicated."""
    uniq = list(dict.fromkeys(errs))
    if len(errs) == 1 or len(uniq) == 1:
        return uniq[0]
    return "[" + ", ".join(uniq) + "]"


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or ()
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if (op == "Exists") != (key in labels) and op in ("Exists", "DoesNotExist"):
            return False
    return True


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name); cluster-scoped kinds have no namespace whatever the manifest says."""
    m = obj.get("metadata") or {}
    ns = "" if obj.get("kind", "").startswith("Cluster") else m.get("namespace") or ""
    return ns, m.get("name") or ""


def _subject_key(subject: dict[str, Any], binding_ns: str) -> str | None:
    """The user name or ``group:<name>`` a subject grants to, None if it can never match."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return name
    if kind == "Group":
        return "group:" + name
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return f"{SA_PREFIX}{ns}:{name}" if ns else None
    return None


def _user_keys(user: UserInfo) -> list[str]:
    return [user.name, *("group:" + g for g in user.groups)]


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return f"ServiceAccount {_q(subject.get('name', '') + '/' + ns)}"
    return f"{subject.get('kind')} {_q(subject.get('name', ''))}"


class RbacIndex:
    """Roles, ClusterRoles and their bindings, indexed for per-request authorization."""

    def __init__(self, objects: Iterable[dict[str, Any]] = ()) -> None:
        self._objs: dict[str, dict[tuple[str, str], dict[str, Any]]] = {k: {} for k in _KINDS}
        # (binding kind, namespace or "", subject key) -> names of the bindings granting to it
        self._by_key: dict[tuple[str, str, str], set[str]] = {}
        self._cache: dict[tuple[str, tuple[str, ...], str], tuple[list, list[str]]] = {}
        self._agg: dict[str, list[dict[str, Any]]] = {}
        for obj in objects:
            self.upsert(obj)

    # -- maintenance -----------------------------------------------------------------------
    def upsert(self, obj: dict[str, Any]) -> None:
        """Add or replace a Role, ClusterRole, RoleBinding or ClusterRoleBinding."""
        kind = obj.get("kind", "")
        if kind not in _KINDS:
            return
        self.remove(obj)
        ns, name = _meta(obj)
        self._objs[kind][(ns, name)] = obj
        for key in self._binding_keys(obj, ns):
            self._by_key.setdefault((kind, ns, key), set()).add(name)
        self._invalidate(kind)

    def remove(self, obj: dict[str, Any]) -> None:
        """Forget an object (only its kind, namespace and name are looked at)."""
        kind = obj.get("kind", "")
        ns, name = _meta(obj)
        old = self._objs.get(kind, {}).pop((ns, name), None)
        if old is None:
            return
        for key in self._binding_keys(old, ns):
            self._by_key.get((kind, ns, key), set()).discard(name)
        self._invalidate(kind)

    def _invalidate(self, kind: str) -> None:
        self._cache.clear()
        if kind == "ClusterRole":
            self._agg.clear()

    @staticmethod
    def _binding_keys(binding: dict[str, Any], ns: str) -> set[str]:
        keys = (_subject_key(s, ns) for s in binding.get("subjects") or ())
        return {k for k in keys if k is not None}

    # -- rule resolution -------------------------------------------------------------------
    def cluster_role_rules(self, name: str) -> list[dict[str, Any]] | None:
        """A ClusterRole's effective rules (aggregated if it has an aggregationRule)."""
        role = self._objs["ClusterRole"].get(("", name))
        if role is None:
            return None
        if not role.get("aggregationRule"):
            return list(role.get("rules") or ())
        if name not in self._agg:
            self._agg[name] = self._aggregated(name, frozenset())
        return self._agg[name]

    def _aggregated(self, name: str, stack: frozenset[str]) -> list[dict[str, Any]]:
        role = self._objs["ClusterRole"][("", name)]
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ()
        rules: list[dict[str, Any]] = []
        for selector in selectors:
            for (_, other), obj in sorted(self._objs["ClusterRole"].items()):
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if other == name or not _selector_matches(selector, labels):
                    continue
                if obj.get("aggregationRule") and other not in stack:
                    source = self._aggregated(other, stack | {name})
                else:
                    source = obj.get("rules") or []
                rules.extend(r for r in source if r not in rules)
        return rules

    def _ref_rules(self, ref: dict[str, Any], ns: str) -> tuple[list[dict[str, Any]], str]:
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            rules = self.cluster_role_rules(name)
            return (
                (rules, "")
                if rules is not None
                else ([], f"clusterrole.{RBAC_GROUP} {_q(name)} not found")
            )
        if kind == "Role":
            role = self._objs["Role"].get((ns, name))
            return (
                (role.get("rules") or [], "")
                if role is not None
                else ([], f"role.{RBAC_GROUP} {_q(name)} not found")
            )
        return [], f"unsupported role reference kind: {_q(str(kind))}"

    def _visit(self, user: UserInfo, namespace: str) -> tuple[list, list[str]]:
        """[(source description, rules)] granted to ``user`` in ``namespace``, and errors."""
        ck = (user.name, user.groups, namespace)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        keys = _user_keys(user)
        entries: list[tuple[str, list[dict[str, Any]]]] = []
        errs: list[str] = []
        plan = [("ClusterRoleBinding", "")] + ([("RoleBinding", namespace)] if namespace else [])
        for kind, ns in plan:
            names: set[str] = set()
            for k in keys:
                names |= self._by_key.get((kind, ns, k), set())
            for name in sorted(names):
                binding = self._objs[kind][(ns, name)]
                rules, err = self._ref_rules(binding.get("roleRef") or {}, ns)
                if err:
                    errs.append(err)
                    continue
                subject = next(
                    s for s in binding.get("subjects") or () if _subject_key(s, ns) in keys
                )
                ref = binding.get("roleRef") or {}
                label = _q(f"{name}/{ns}" if ns else name)
                source = (
                    f"{kind} {label} of {ref.get('kind')} {_q(ref.get('name', ''))} "
                    f"to {_describe_subject(subject, ns)}"
                )
                entries.append((source, rules))
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[ck] = (entries, errs)
        return entries, errs

    # -- decisions -------------------------------------------------------------------------
    def holds(self, user: UserInfo, attrs: Attributes) -> bool:
        """Whether ``user`` holds the permission ``attrs`` (for escalation checks).

        The same evaluation as :meth:`authorize`, but not a request decision: it goes to
        the class's method, so whatever observes request decisions (tests wrap
        ``authorize`` on the instance) does not count these.
        """
        return type(self).authorize(self, user, attrs)[0]

    def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as the union of the privileged-group and RBAC authorizers."""
        if MASTERS in user.groups:
            return True, ""
        entries, errs = self._visit(user, attrs.namespace)
        for source, rules in entries:
            for rule in rules:
                if rule_allows(attrs, rule):
                    return True, f"RBAC: allowed by {source}"
        return False, f"RBAC: {_aggregate(errs)}" if errs else ""

    def rules_for(
        self, user: UserInfo, namespace: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """(resourceRules, nonResourceRules, evaluationError) for a SelfSubjectRulesReview."""
        res: list[dict[str, Any]] = []
        nonres: list[dict[str, Any]] = []
        if MASTERS in user.groups:
            res.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            nonres.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        entries, errs = self._visit(user, namespace)
        for _, rules in entries:
            for r in rules:
                if r.get("resources"):
                    out = {k: list(r.get(k) or []) for k in ("verbs", "apiGroups", "resources")}
                    if r.get("resourceNames"):
                        out["resourceNames"] = list(r["resourceNames"])
                    res.append(out)
                if r.get("nonResourceURLs"):
                    nonres.append(
                        {
                            "verbs": list(r.get("verbs") or []),
                            "nonResourceURLs": r["nonResourceURLs"],
                        }
                    )
        return res, nonres, _aggregate(errs) if errs else ""


def authorize(
    user: UserInfo,
    attrs: Attributes,
    roles: Iterable[dict[str, Any]] = (),
    cluster_roles: Iterable[dict[str, Any]] = (),
    role_bindings: Iterable[dict[str, Any]] = (),
    cluster_role_bindings: Iterable[dict[str, Any]] = (),
) -> tuple[bool, str]:
    """One-off authorization over plain collections (the server should keep an RbacIndex)."""
    index = RbacIndex()
    collections = (roles, cluster_roles, role_bindings, cluster_role_bindings)
    for kind, objs in zip(_KINDS, collections, strict=True):
        for obj in objs:
            index.upsert({"kind": kind, **obj})
    return index.authorize(user, attrs)


_SAR_GROUP = "authorization.k8s.io"


def review_attributes(spec: dict[str, Any]) -> Attributes:
    """Attributes of a (Self)SubjectAccessReview spec; 422 if it has not exactly one kind."""
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (ra is None) == (nra is None):
        field, msg = (
            (
                "spec.resourceAttributes",
                'Invalid value: "null": exactly one of '
                "nonResourceAttributes or resourceAttributes must be specified",
            )
            if ra is None
            else (
                "spec.nonResourceAttributes",
                f"Invalid value: {_q(json.dumps(nra))}: "
                "cannot be specified in combination with resourceAttributes",
            )
        )
        cause = errors.Cause("FieldValueInvalid", msg, field)
        raise errors.invalid("SelfSubjectAccessReview", _SAR_GROUP, "", [cause])
    if nra is not None:
        return Attributes.non_resource(nra.get("verb", ""), nra.get("path", ""))
    return Attributes(
        ra.get("verb", ""),
        ra.get("group", ""),
        ra.get("resource", ""),
        ra.get("subresource", ""),
        ra.get("namespace", ""),
        ra.get("name", ""),
    )


def subject_access_review(index: RbacIndex, user: UserInfo, spec: dict[str, Any]) -> dict[str, Any]:
    """``status`` of a SelfSubjectAccessReview (authorization.k8s.io/v1) for ``spec``."""
    allowed, reason = index.authorize(user, review_attributes(spec))
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


def self_subject_rules_review(
    index: RbacIndex, user: UserInfo, spec: dict[str, Any]
) -> dict[str, Any]:
    """``status`` of a SelfSubjectRulesReview for ``spec.namespace``."""
    res, nonres, err = index.rules_for(user, spec.get("namespace", ""))
    status: dict[str, Any] = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": False}
    if err:
        status["evaluationError"] = err
    return status


# -- bootstrap policy ------------------------------------------------------------------------
# The default roles kube-apiserver reconciles at startup that clients rely on. admin/edit/view
# are aggregated from system:aggregate-to-* as the real ones are, with a subset of their rules
# (core, apps, batch, autoscaling, networking, policy, coordination, rbac). One rule a line:
# "<apiGroup> | <resources> | <verbs>" or "url | <nonResourceURLs> | <verbs>"; R = get list
# watch, W = create delete deletecollection patch update.
_POLICY = {
    "cluster-admin": "* | * | *\nurl | * | *",
    "system:aggregate-to-view": """
        | configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods
          replicationcontrollers replicationcontrollers/scale serviceaccounts services
          services/status | R
        | bindings events limitranges namespaces/status pods/log pods/status
          replicationcontrollers/status resourcequotas resourcequotas/status | R
        | namespaces | R
        discovery.k8s.io | endpointslices | R
        apps | controllerrevisions daemonsets daemonsets/status deployments deployments/scale
          deployments/status replicasets replicasets/scale replicasets/status statefulsets
          statefulsets/scale statefulsets/status | R
        autoscaling | horizontalpodautoscalers horizontalpodautoscalers/status | R
        batch | cronjobs cronjobs/status jobs jobs/status | R
        policy | poddisruptionbudgets poddisruptionbudgets/status | R
        networking.k8s.io | ingresses ingresses/status networkpolicies | R""",
    "system:aggregate-to-edit": """
        | pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy | R
        | serviceaccounts | impersonate
        | pods pods/attach pods/exec pods/portforward pods/proxy | W
        | pods/eviction | create
        | configmaps events persistentvolumeclaims replicationcontrollers
          replicationcontrollers/scale secrets serviceaccounts services services/proxy | W
        | serviceaccounts/token | create
        apps | daemonsets deployments deployments/rollback deployments/scale replicasets
          replicasets/scale statefulsets statefulsets/scale | W
        autoscaling | horizontalpodautoscalers | W
        batch | cronjobs jobs | W
        policy | poddisruptionbudgets | W
        networking.k8s.io | ingresses networkpolicies | W
        coordination.k8s.io | leases | R W""",
    "system:aggregate-to-admin": f"""
        authorization.k8s.io | localsubjectaccessreviews | create
        {RBAC_GROUP} | rolebindings roles | R W""",
    "system:discovery": """
        url | /api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version
          /version/ | get""",
    "system:public-info-viewer": "url | /healthz /livez /readyz /version /version/ | get",
    "system:basic-user": """
        authorization.k8s.io | selfsubjectaccessreviews selfsubjectrulesreviews | create
        authentication.k8s.io | selfsubjectreviews | create""",
    "system:service-account-issuer-discovery": """
        url | /.well-known/openid-configuration /.well-known/openid-configuration/
          /openid/v1/jwks /openid/v1/jwks/ | get""",
}
_AGG = f"{RBAC_GROUP}/aggregate-to-"
# aggregated role -> the aggregate-to-* label it carries itself ("" for none)
_AGGREGATED = {"admin": "", "edit": "admin", "view": "edit"}
_BINDINGS = {
    "cluster-admin": [MASTERS],
    "system:discovery": ["system:authenticated"],
    "system:basic-user": ["system:authenticated"],
    "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
    "system:service-account-issuer-discovery": ["system:serviceaccounts"],
}
_VERB_SETS = {
    "R": ["get", "list", "watch"],
    "W": ["create", "delete", "deletecollection", "patch", "update"],
}


def _parse_rules(table: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for line in textwrap.dedent(table).replace("\n  ", " ").splitlines():
        if not line.strip():
            continue
        group, resources, verbs = (part.split() for part in line.split("|"))
        verb_list = [v for token in verbs for v in _VERB_SETS.get(token, [token])]
        if group == ["url"]:
            rules.append({"nonResourceURLs": resources, "verbs": verb_list})
        else:
            rules.append({"apiGroups": group or [""], "resources": resources, "verbs": verb_list})
    return rules


def _bootstrap_meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **labels},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def bootstrap_policy() -> list[dict[str, Any]]:
    """The default ClusterRoles and ClusterRoleBindings, as manifests to create at startup.

    Aggregated roles come with their rules filled in, as the aggregation controller leaves
    them in a running cluster.
    """
    roles: list[dict[str, Any]] = []
    for name, table in _POLICY.items():
        labels = {}
        if name.startswith("system:aggregate-to-"):
            labels[_AGG + name.rsplit("-", 1)[1]] = "true"
        roles.append({"metadata": _bootstrap_meta(name, labels), "rules": _parse_rules(table)})
    for name, own in _AGGREGATED.items():
        selector = {"matchLabels": {_AGG + name: "true"}}
        roles.append(
            {
                "metadata": _bootstrap_meta(name, {_AGG + own: "true"} if own else {}),
                "aggregationRule": {"clusterRoleSelectors": [selector]},
            }
        )
    roles = [{"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", **r} for r in roles]
    index = RbacIndex(roles)
    for role in roles:
        if "aggregationRule" in role:
            role["rules"] = index.cluster_role_rules(role["metadata"]["name"])
    bindings = [
        {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _bootstrap_meta(name, {}),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
        }
        for name, groups in _BINDINGS.items()
    ]
    return roles + bindings
