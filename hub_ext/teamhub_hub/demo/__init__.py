"""The local stack: kubesim + oidc-provider-mock + JupyterHub + configurable-http-proxy on
this machine, for the one-command demo (``python -m teamhub_hub.demo``) and the
end-to-end tests. See :mod:`teamhub_hub.demo.stack`."""

from teamhub_hub.demo.stack import DEMO_USERS, LocalStack

__all__ = ["DEMO_USERS", "LocalStack"]
