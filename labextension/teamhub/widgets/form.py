"""``SubmitForm``: submit a job from a form, with each problem shown beside its field.

The form asks what the jobs API asks (:class:`~teamhub.jobs.spec.JobSpec`): the backend
(those the cluster serves; options a backend cannot honour are disabled), what to run (a
script file, a command, or code given to the form), workers, processes per worker,
CPU/memory/GPUs per worker, the image (a dropdown of the images the user's teams allow, a
suggesting text box when they allow patterns, free text when any image is allowed), env
(``KEY=value`` lines) and the Kueue queue (a dropdown of the user's queues, the first by
default). Nothing is checked twice: the form passes what was typed to
``JobsClient.submit`` and shows the
:class:`~teamhub.jobs.errors.JobSpecError`'s ``problems`` beside their fields — the same
rules as every other way of submitting, and nothing is created when there is a problem.

The notebook's environment (allowed images) and the served backends are read in a task
on the kernel's loop; the submit button is enabled once they are known.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from teamhub.jobs import kube as K
from teamhub.jobs import labels as L
from teamhub.jobs.backends import BACKENDS
from teamhub.jobs.client import JobsClient
from teamhub.jobs.errors import JobError, JobSpecError, KubeApiError
from teamhub.jobs.job import AsyncJob
from teamhub.widgets import fields as F
from teamhub.widgets import render
from teamhub.widgets.connection import JobsLike, loop_client
from teamhub.widgets.monitor import JobMonitor
from teamhub.widgets.tasks import Tasks, close_parts

FIELDS = (
    "backend",
    "program",
    "workers",
    "procs_per_worker",
    "cpu",
    "memory",
    "gpus",
    "image",
    "env",
    "queue",
    "name",
    "chief",
)


class SubmitForm(widgets.VBox):
    """A job submission form. ``source``/``script``/``command`` preset what to run
    (``source``: code text, e.g. a cell, not editable here). ``monitor``: show a
    :class:`JobMonitor` of the submitted job below the form (``monitor_options`` are its
    keyword arguments). ``on_submit(job)`` is called with each submitted ``AsyncJob``."""

    def __init__(
        self,
        *,
        jobs: JobsLike = None,
        source: str | None = None,
        script: str | None = None,
        command: str | None = None,
        backend: str = "indexed",
        workers: int = 1,
        cwd: str | os.PathLike[str] | None = None,
        monitor: bool = True,
        monitor_options: dict[str, Any] | None = None,
        on_submit: Callable[[AsyncJob], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.tasks = Tasks(self, on_error=lambda e: setattr(self.message, "value", render.error(e)))
        self.client: JobsClient | None = None
        self.job: AsyncJob | None = None
        self.cwd = cwd
        self.monitor = monitor
        self.monitor_options = dict(monitor_options or {})
        self._callbacks: list[Callable[[AsyncJob], Any]] = [on_submit] if on_submit else []
        self._source = source
        style = F.LABEL_STYLE

        self.backend = widgets.Dropdown(
            options=F.backend_options(), value=backend, description="Backend", style=style
        )
        kinds = [("Script file", "script"), ("Command", "command")]
        if source is not None:
            kinds.insert(0, ("Code", "source"))
        start = "source" if source is not None else "command" if command else "script"
        self.program_kind = widgets.ToggleButtons(
            options=kinds, value=start, description="Run", style=style
        )
        self.program = widgets.Text(value=script or command or "", style=style, description="")
        self.workers = widgets.IntText(value=workers, description="Workers", style=style)
        self.procs_per_worker = widgets.IntText(
            value=1, description="Processes/worker", style=style
        )
        self.cpu = widgets.Text(placeholder="default", description="CPU/worker", style=style)
        self.memory = widgets.Text(
            placeholder="default, e.g. 8Gi", description="Memory/worker", style=style
        )
        self.gpus = widgets.IntText(value=0, description="GPUs/worker", style=style)
        self.image: widgets.ValueWidget = widgets.Text(
            placeholder="loading…", description="Image", disabled=True, style=style
        )
        self.env = widgets.Textarea(
            placeholder="KEY=value, one per line", description="Env", style=style
        )
        self.queue = widgets.Dropdown(
            options=[("none", "")], value="", description="Queue", disabled=True, style=style
        )
        self.name = widgets.Text(placeholder="generated", description="Job name", style=style)
        self.chief = widgets.Checkbox(value=False, description="First worker is the chief")
        self.submit_button = widgets.Button(
            description="Submit", button_style="primary", icon="rocket", disabled=True
        )
        self.message = widgets.HTML(value=render.note("reading the notebook's environment…"))
        self.output = widgets.VBox()
        self.errors = {name: widgets.HTML(value="") for name in FIELDS}
        #: Standing notes (not errors): unavailable backends, the allowed image patterns.
        self.hints = {"backend": widgets.HTML(value=""), "image": widgets.HTML(value="")}
        self.rows = {name: widgets.HBox(self._row(name)) for name in FIELDS}
        self.buttons = widgets.HBox([self.submit_button, self.message])
        super().__init__(
            children=(
                *self.rows.values(),
                self.buttons,
                self.output,
            ),
            **kwargs,
        )
        self.backend.observe(lambda _: self._apply_capabilities(), names="value")
        self.program_kind.observe(lambda _: self._show_program(), names="value")
        self.submit_button.on_click(lambda _: self.tasks.spawn(self.submit()))
        self._apply_capabilities()
        self._show_program()
        self.tasks.spawn(self._load(jobs), name="teamhub-form-load")

    def _row(self, name: str) -> list[widgets.Widget]:
        hint = [self.hints[name]] if name in self.hints else []
        return [self.widget(name), self.errors[name], *hint]

    def widget(self, name: str) -> widgets.Widget:
        """The input widget of a form field (``FIELDS``)."""
        return getattr(self, name)

    def on_submit(self, callback: Callable[[AsyncJob], Any]) -> None:
        self._callbacks.append(callback)

    async def ready(self) -> None:
        """Wait until the environment is loaded (or failed to load)."""
        await self.tasks.idle()

    # ------------------------------------------------------------------ loading
    async def _load(self, jobs: JobsLike) -> None:
        try:
            client = await loop_client(jobs)
        except JobError as e:
            self.message.value = render.error(e)
            return
        self.client = client
        env = client.environment
        image = F.image_widget(env.entitlements, env.image)
        self.image.close()
        self.image = image
        self.image.observe(lambda _: self._check_image(), names="value")
        self.rows["image"].children = self._row("image")
        choices, exhaustive = F.image_choices(env.entitlements, env.image)
        if env.entitlements.images is not None and not (choices and exhaustive):
            self.hints["image"].value = render.note(
                "allowed: " + (", ".join(env.entitlements.images) or "no image")
            )
        queues = F.queue_options(env.entitlements.queues)
        self.queue.options = queues
        self.queue.value = queues[0][1]
        self.queue.disabled = len(queues) == 1
        available = await self._served_backends(client)
        if available != list(BACKENDS):
            missing = [b for b in BACKENDS if b not in available]
            self.hints["backend"].value = render.note(
                "not available in this cluster: " + ", ".join(missing)
            )
        keep = self.backend.value if self.backend.value in available else available[0]
        self.backend.options = F.backend_options(available)
        self.backend.value = keep
        self.message.value = ""
        self.submit_button.disabled = False

    async def _served_backends(self, client: JobsClient) -> list[str]:
        """The backends whose workload kind the cluster serves (a kind the API does not
        know answers 404; anything else is left to the submission to report)."""
        served: dict[str, bool] = {}
        selector = L.jobs_selector(client.environment.owner)
        for backend in BACKENDS.values():
            kind: K.Kind = backend.workload_kind
            if kind.plural not in served:
                try:
                    await client.kube.list(kind, client.namespace, label_selector=selector)
                    served[kind.plural] = True
                except KubeApiError as e:
                    served[kind.plural] = e.status != 404
        return [n for n, b in BACKENDS.items() if served[b.workload_kind.plural]] or ["indexed"]

    # ------------------------------------------------------------------ field states
    def _apply_capabilities(self) -> None:
        b = BACKENDS[self.backend.value]
        self.procs_per_worker.disabled = not b.supports_procs_per_worker
        if not b.supports_procs_per_worker:
            self.procs_per_worker.value = 1
        self.gpus.disabled = not b.supports_gpus
        if not b.supports_gpus:
            self.gpus.value = 0
        self.chief.disabled = not b.supports_chief
        self.rows["chief"].layout.display = None if b.supports_chief else "none"
        if not b.supports_chief:
            self.chief.value = False

    def _show_program(self) -> None:
        kind = self.program_kind.value
        if kind == "source":
            n = len((self._source or "").splitlines())
            self.program.value = f"{n} line{'s' if n != 1 else ''} of code"
            self.program.disabled = True
        else:
            if self.program.disabled:
                self.program.value = ""
            self.program.disabled = False
            self.program.placeholder = (
                "train.py" if kind == "script" else "python train.py --epochs 3"
            )

    def _check_image(self) -> None:
        if self.client is None:
            return
        value = (self.image.value or "").strip()
        ents = self.client.environment.entitlements
        if value and not ents.image_allowed(value):
            allowed = ", ".join(ents.images or ())
            self.errors["image"].value = render.error(f"not allowed for your teams ({allowed})")
        else:
            self.errors["image"].value = ""

    # ------------------------------------------------------------------ submitting
    def spec_fields(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The spec fields the form holds, and problems found reading them (a missing
        program, malformed env lines), as ``(form field, message)``."""
        problems: list[tuple[str, str]] = []
        out: dict[str, Any] = {
            "backend": self.backend.value,
            "workers": self.workers.value,
            "procs_per_worker": self.procs_per_worker.value,
            "gpus": self.gpus.value,
        }
        kind = self.program_kind.value
        if kind == "source":
            out["source"] = self._source
        elif self.program.value.strip():
            out[kind] = self.program.value.strip()
        else:
            what = "a script file (e.g. train.py)" if kind == "script" else "a command"
            problems.append(("program", f"enter {what}"))
        for name in ("cpu", "memory", "name"):
            value = self.widget(name).value.strip()
            if value:
                out[name] = value
        image = (self.image.value or "").strip()
        if image and (self.client is None or image != self.client.environment.image):
            out["image"] = image
        env, bad = F.parse_pairs(self.env.value, "KEY=value")
        problems += [("env", p) for p in bad]
        if env:
            out["env"] = env
        if self.client is not None and self.client.environment.entitlements.queues:
            out["queue"] = self.queue.value  # "": the user chose no queue
        if not self.chief.disabled and self.chief.value:
            out["chief"] = True
        return out, problems

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        """Each problem beside its field; the rest (and spec-wide ones) in the message."""
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        for field, message in problems:
            name = F.form_field(field)
            if name in self.errors:
                by_field.setdefault(name, []).append(message)
            else:
                general.append(f"{field}: {message}" if field else message)
        for name, messages in by_field.items():
            self.errors[name].value = render.error("; ".join(messages))
        self.message.value = render.error(
            "; ".join(general) if general else "please fix the fields marked in red"
        )

    def clear_problems(self) -> None:
        for html in self.errors.values():
            html.value = ""
        self.message.value = ""

    async def submit(self) -> AsyncJob | None:
        """Submit what the form holds (what the button does); the job, or None when there
        was a problem (shown in the form)."""
        if self.client is None:
            await self.ready()
            if self.client is None:
                return None
        self.clear_problems()
        spec, problems = self.spec_fields()
        if problems:
            self.show_problems(problems)
            return None
        self.submit_button.disabled = True
        self.submit_button.description = "Submitting…"
        try:
            job = await self.client.submit(spec, cwd=self.cwd or os.getcwd())
        except JobSpecError as e:
            self.show_problems(e.problems)
            return None
        except JobError as e:
            self.message.value = render.error(e)
            return None
        finally:
            self.submit_button.disabled = False
            self.submit_button.description = "Submit"
        self.job = job
        self.message.value = f"submitted <b>{render.esc(job.name)}</b>"
        if self.monitor:
            for old in self.output.children:
                old.close()
            self.output.children = (JobMonitor(job, **self.monitor_options),)
        for callback in self._callbacks:
            callback(job)
        return job

    def close(self) -> None:
        close_parts(self, "output_children", *FIELDS, "errors", "hints", "rows")
        close_parts(self, "submit_button", "message", "output", "buttons")
        super().close()

    @property
    def output_children(self) -> tuple[widgets.Widget, ...]:
        output = getattr(self, "output", None)
        return tuple(output.children) if output is not None else ()
