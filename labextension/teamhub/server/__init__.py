"""teamhub's jupyter-server extension: the jobs REST API under ``{base_url}/teamhub/api/``.

Modules: :mod:`.extension` (the ``ExtensionApp``, its settings, shutdown), :mod:`.handlers`
(thin tornado handlers), :mod:`.models` (request and response models, validated at the
edge), :mod:`.backend` (the interface the handlers use and its implementation over
:class:`teamhub.jobs.JobsClient`), :mod:`.errors` (jobs errors as HTTP statuses and JSON
bodies), :mod:`.openapi` (the OpenAPI document, generated from the models).

Nothing here is imported by ``import teamhub``: jupyter-server loads it through
``teamhub._jupyter_server_extension_points``.
"""
