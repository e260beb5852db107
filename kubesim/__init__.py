"""kubesim: a local Kubernetes API server, scheduler and kubelet for tests and demos.

Never used in production. See docs/kubesim.md for what it implements and what not.
"""
