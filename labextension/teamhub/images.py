"""Container image references and teamhub's image allowlist rule, in one place.

The hub (TeamSpawner choosing a notebook image) and the notebook (the jobs API checking a
job's image) must decide alike, and the Helm chart's admission policy compiles the same
rule into CEL. This module has no dependencies, so both sides import it: it ships in the
one wheel every teamhub install has.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


def qualified_image(image: str) -> str:
    """``python`` -> ``docker.io/library/python:latest``, as a container runtime reads it."""
    name, at, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, "")
    first, _, rest = repo.partition("/")
    if not rest:
        repo = f"docker.io/library/{repo}"
    elif "." not in first and ":" not in first and first != "localhost":
        repo = f"docker.io/{repo}"
    elif first == "docker.io" and "/" not in rest:
        repo = f"docker.io/library/{rest}"
    if at:
        return f"{repo}:{tag}@{digest}" if tag else f"{repo}@{digest}"
    return f"{repo}:{tag or 'latest'}"


def image_allowed(image: str, patterns: Iterable[str] | None) -> bool:
    """Whether ``image`` matches one of the fnmatch ``patterns`` as written or fully
    qualified (``python`` is also ``docker.io/library/python:latest``); None: any image.
    An empty or blank reference never matches."""
    if patterns is None:
        return True
    if not image or any(c.isspace() for c in image):
        return False
    candidates = {image, qualified_image(image)}
    return any(fnmatchcase(c, p) for c in candidates for p in patterns)
