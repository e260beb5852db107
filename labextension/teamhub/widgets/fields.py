"""The submit form's fields: what each backend can honour, which images a user may pick,
how free-text fields become :class:`~teamhub.jobs.spec.JobSpec` values, and which form
field a spec problem belongs beside. Plain functions of plain values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ipywidgets as widgets

from teamhub.jobs.backends import BACKENDS, Backend
from teamhub.jobs.entitlements import Entitlements

#: Spec fields shown beside another form field.
FIELD_OF_PROBLEM = {
    "script": "program",
    "source": "program",
    "command": "program",
    "labels": "queue",
    "queue": "queue",
}
_WILDCARDS = frozenset("*?[")
LABEL_STYLE = {"description_width": "10em"}


def backend_label(backend: Backend) -> str:
    kind = backend.workload_kind.kind
    extra = " (Kubeflow training operator)" if backend.needs_operator else ", no operator needed"
    return f"{backend.name} — {kind}{extra}"


def backend_options(available: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Dropdown options of the backends (``available``: those the cluster serves)."""
    names = list(BACKENDS) if available is None else [n for n in BACKENDS if n in available]
    return [(backend_label(BACKENDS[n]), n) for n in names]


def is_pattern(image: str) -> bool:
    return any(c in _WILDCARDS for c in image)


def image_choices(ents: Entitlements, notebook_image: str) -> tuple[list[str], bool]:
    """The images to offer, and whether they are *all* the user may run (so a dropdown
    can hold them) rather than examples (the teams allow patterns such as
    ``quay.io/jupyter/*``: free text, checked as typed). The notebook's own image comes
    first when it is allowed. ``([], False)`` when any image is allowed."""
    if ents.images is None:
        return [], False
    out = [notebook_image] if ents.image_allowed(notebook_image) else []
    out += [i for i in ents.images if not is_pattern(i) and i not in out]
    exhaustive = not any(is_pattern(i) for i in ents.images)
    return out, exhaustive


def image_widget(ents: Entitlements, notebook_image: str) -> widgets.ValueWidget:
    """A Dropdown of the allowed images, a Combobox suggesting them (patterns allowed),
    or a Text (any image allowed; empty means the notebook's)."""
    choices, exhaustive = image_choices(ents, notebook_image)
    common = {"description": "Image", "style": LABEL_STYLE}
    if ents.images is None:
        return widgets.Text(value="", placeholder=notebook_image, **common)
    labels = [(f"{i} (this notebook's)" if i == notebook_image else i, i) for i in choices]
    if exhaustive:
        return widgets.Dropdown(
            options=labels, value=choices[0] if choices else None, disabled=not choices, **common
        )
    return widgets.Combobox(
        options=choices,
        value=choices[0] if choices else "",
        ensure_option=False,
        placeholder="an image matching " + ", ".join(ents.images),
        **common,
    )


def parse_pairs(text: str, what: str) -> tuple[dict[str, str], list[str]]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped) -> a dict, and a
    problem per malformed line."""
    out: dict[str, str] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq or not key:
            problems.append(f"line {number}: {line!r} is not {what}")
            continue
        out[key] = value
    return out, problems


def form_field(spec_field: str) -> str:
    """The form field beside which a problem with ``spec_field`` is shown."""
    return FIELD_OF_PROBLEM.get(spec_field, spec_field)


def queue_options(queues: Mapping[str, str]) -> list[tuple[str, str]]:
    """The queue dropdown: the user's queues (team name, and the ClusterQueue behind it),
    the first being the default a job without ``queue`` gets, then "none"."""
    return [(f"{q} (ClusterQueue {cq})", q) for q, cq in queues.items()] + [("none", "")]
