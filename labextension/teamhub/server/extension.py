"""The jupyter-server extension: mounts the jobs REST API at ``{base_url}/teamhub/api/``.

Enabled on install by ``etc/jupyter/jupyter_server_config.d/teamhub.json`` (the wheel's
shared data), found through ``teamhub._jupyter_server_extension_points``. In a teamhub
notebook pod it needs no configuration: the jobs API reads ``TEAMHUB_NAMESPACE`` /
``TEAMHUB_POD_NAME`` (set by TeamSpawner) and the pod's ServiceAccount. Outside one (tests,
the local demo, a laptop with a kubeconfig) set, e.g.::

    c.TeamhubExtension.kubeconfig = "/path/to/kubeconfig"
    c.TeamhubExtension.namespace = "teamhub-alice"
    c.TeamhubExtension.pod_name = "jupyter-alice"

Nothing talks to the cluster until the first request; the server starts even where jobs
cannot run (the API then answers 503 with the reason).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode

from teamhub.jobs.archiver import LogArchiver
from teamhub.server.backend import KubeJobsBackend
from teamhub.server.handlers import routes


class TeamhubExtension(ExtensionApp):
    """teamhub's jobs API in the notebook server."""

    name = "teamhub"
    description = "teamhub: distributed jobs in the notebook's own environment"
    load_other_extensions = True

    kubeconfig = Unicode(
        None,
        allow_none=True,
        help="""Kubeconfig file to reach the Kubernetes API with. Default: $KUBECONFIG,
        else the pod's in-cluster ServiceAccount (a teamhub notebook's own).""",
    ).tag(config=True)
    kube_context = Unicode(
        None, allow_none=True, help="The kubeconfig context to use (default: its current one)."
    ).tag(config=True)
    namespace = Unicode(
        None,
        allow_none=True,
        help="""Namespace of the notebook pod whose environment jobs inherit. Default:
        $TEAMHUB_NAMESPACE (set by TeamSpawner), else the ServiceAccount's namespace.""",
    ).tag(config=True)
    pod_name = Unicode(
        None,
        allow_none=True,
        help="""Name of the notebook pod whose environment jobs inherit. Default:
        $TEAMHUB_POD_NAME (set by TeamSpawner), else $HOSTNAME.""",
    ).tag(config=True)
    log_connections = Int(
        512,
        help="""Most connections to the Kubernetes API that log streams hold at once (each
        followed container holds one while it is followed; requests beyond wait). Log
        streams have their own connection pool, so they never hold up other requests.""",
    ).tag(config=True)
    log_queue_batches = Int(
        16,
        help="""Batches of log lines (at most 64 KiB each) one log stream may hold while its
        client reads the previous ones: the memory bound of a stream.""",
    ).tag(config=True)
    status_concurrency = Int(
        8, help="Job statuses computed at once when listing jobs (each takes 1-3 API calls)."
    ).tag(config=True)

    archive_interval = Float(
        30.0,
        help="""Seconds between sweeps that archive the logs of the user's finished jobs to
        ``~/.teamhub/job-logs/<job>/`` (each job once, when it has Succeeded or Failed), so
        logs outlive pods even when nobody watched the job end. 0 turns the sweeps off
        (``Job.wait()``, the magics and cancel still archive what they see end).""",
    ).tag(config=True)

    backend: Any = None
    archiver: LogArchiver | None = None

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        self.backend = KubeJobsBackend(
            kubeconfig=self.kubeconfig,
            context=self.kube_context,
            namespace=self.namespace,
            pod_name=self.pod_name,
            root_dir=self.serverapp.root_dir,
            log_connections=self.log_connections,
            log_queue_batches=self.log_queue_batches,
            status_concurrency=self.status_concurrency,
        )
        self.settings["teamhub_backend"] = self.backend

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start archiving finished jobs' logs in the background (the loop runs now)."""
        if self.archive_interval > 0 and self.backend is not None:
            self.archiver = LogArchiver(self.backend.client, interval=self.archive_interval)
            self.archiver.start()

    async def stop_extension(self) -> None:
        """Stop the archiver, then close the connections to the Kubernetes API (log
        streams end with them)."""
        if self.archiver is not None:
            await self.archiver.stop()
        if self.backend is not None:
            await self.backend.close()
