"""Authentication: the admin token, static user tokens and ServiceAccount tokens.

ServiceAccount tokens are real JWTs (HS256 with a key private to this server) with the
claims kube-apiserver puts in bound tokens, so code that decodes its token (to find its
namespace, say) works. A token stays valid only while its ServiceAccount (same uid) and,
for pod-bound tokens, its pod exist, and until it expires — as on a real cluster.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors

ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    #: ServiceAccount and pod a token was bound to (for claims and liveness checks).
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return "system:masters" in self.groups


ADMIN = User("kubesim-admin", ("system:masters", "system:authenticated"))
ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Authenticator:
    def __init__(self) -> None:
        self.admin_token = "kubesim-admin-" + secrets.token_hex(16)
        self._key = secrets.token_bytes(32)
        self._static: dict[str, User] = {self.admin_token: ADMIN}
        #: Seconds added to the clock when checking expiry (fault injection: "expire tokens").
        self.clock_skew = 0.0

    def now(self) -> float:
        return time.time() + self.clock_skew

    def add_static_token(self, token: str, name: str, groups: tuple[str, ...] = ()) -> None:
        self._static[token] = User(name, (*groups, "system:authenticated"))

    def issue_sa_token(
        self,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        *,
        expiration: int = 3600,
        audiences: list[str] | None = None,
        pod: tuple[str, str] | None = None,
    ) -> tuple[str, int]:
        """A bound ServiceAccount token; returns (token, expiry epoch seconds)."""
        iat = int(self.now())
        exp = iat + max(expiration, 600)
        k8s: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": sa_name, "uid": sa_uid},
        }
        if pod:
            k8s["pod"] = {"name": pod[0], "uid": pod[1]}
        claims = {
            "aud": audiences or [ISSUER],
            "exp": exp,
            "iat": iat,
            "nbf": iat,
            "iss": ISSUER,
            "jti": secrets.token_hex(8),
            "sub": f"system:serviceaccount:{namespace}:{sa_name}",
            "kubernetes.io": k8s,
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "kubesim"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(sig)}", exp

    def decode_sa_token(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        sig = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(sig), parts[2]):
            return None
        try:
            return json.loads(_unb64(parts[1]))
        except ValueError:
            return None

    def authenticate(self, authorization: str | None, lookup: Any) -> User:
        """User for an ``Authorization`` header; ``lookup(kind, ns, name)`` reads the store.

        Raises 401 for a bad, expired or orphaned token; no header means anonymous.
        """
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthorized()
        token = token.strip()
        if token in self._static:
            return self._static[token]
        claims = self.decode_sa_token(token)
        if claims is None or claims.get("exp", 0) < self.now():
            raise errors.unauthorized()
        k8s = claims["kubernetes.io"]
        ns, sa = k8s["namespace"], k8s["serviceaccount"]
        live = lookup("serviceaccounts", ns, sa["name"])
        if live is None or live["metadata"]["uid"] != sa["uid"]:
            raise errors.unauthorized()
        pod = k8s.get("pod")
        if pod:
            live_pod = lookup("pods", ns, pod["name"])
            if live_pod is None or live_pod["metadata"]["uid"] != pod["uid"]:
                raise errors.unauthorized()
        return User(
            f"system:serviceaccount:{ns}:{sa['name']}",
            ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
            sa["uid"],
            {"namespace": ns, "serviceaccount": sa["name"]},
        )
