"""teamhub in the notebook server: the jobs API, the jupyter-server extension, magics and
widgets. Runs as the user, with the user's ServiceAccount (see docs/security.md)."""
