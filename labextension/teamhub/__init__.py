"""teamhub in the notebook server: the jobs API, the jupyter-server extension, magics and
widgets. Runs as the user, with the user's ServiceAccount (see docs/security.md)."""


def _jupyter_server_extension_points() -> list[dict]:
    """The jupyter-server extension (the jobs REST API); imported only by jupyter-server."""
    from teamhub.server.extension import TeamhubExtension

    return [{"module": "teamhub.server.extension", "app": TeamhubExtension}]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext teamhub``: the ``%job``/``%%job`` magics (:mod:`teamhub.magics`)."""
    from teamhub.magics import load_ipython_extension as load

    load(ipython)


def _jupyter_labextension_paths() -> list[dict]:
    """The prebuilt JupyterLab extension (for `jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "teamhub-jupyterlab"}]
