"""What every model of the teams config shares: strictness, camelCase keys, error plumbing.

Admins write the config by hand (YAML, Helm values, JupyterHub config), so a typo must
be an error naming the key rather than a silently ignored setting: every model forbids
unknown keys. Keys are camelCase on the wire, like the Kubernetes objects they end up
in; Python code may use the snake_case field names too.

Problems are reported as ``<dotted.path>: <problem>`` lines; ``problem`` raises one
that pydantic places at the location of the value being validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# The pydantic error type of a problem found by teamhub's own checks.
PROBLEM = "teamhub_problem"
# The error type that carries every whole-config problem (see checks.py), each with its path.
CONFIG_PROBLEMS = "teamhub_config_problems"

Loc = tuple[str | int, ...]


class ConfigModel(BaseModel):
    """Base of every teams-config model: unknown keys are errors; camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The model as config data (camelCase keys, JSON types), loadable again unchanged."""
        return self.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class TypeLabel:
    """How the generated reference names a constrained type (``DNS-1123 label``, ...)."""

    label: str


def problem(message: str) -> PydanticCustomError:
    """An error to raise from a validator; its text is shown to the admin as is."""
    return PydanticCustomError(PROBLEM, message)


def format_loc(loc: Sequence[str | int]) -> str:
    """``("teams", "vision", "volumes", 1, "mountPath")`` -> ``teams.vision.volumes[1].mountPath``.

    Pydantic marks an invalid mapping key with a trailing ``[key]`` part; the key itself
    is the previous part, which is where the problem is shown.
    """
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
