"""The local stack: kubesim + oidc-provider-mock + JupyterHub (TeamAuthenticator and
TeamSpawner with the demo teams config) + configurable-http-proxy on this machine, for the
one-command demo (``python -m teamhub_hub.demo``) and the end-to-end tests. See
:mod:`teamhub_hub.demo.stack`."""

from teamhub_hub.demo.stack import DEMO_S3, DEMO_S3_SECRET, DEMO_USERS, LocalStack, demo_manifests

__all__ = ["DEMO_S3", "DEMO_S3_SECRET", "DEMO_USERS", "LocalStack", "demo_manifests"]
