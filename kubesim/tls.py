"""A self-signed serving certificate, so kubesim can also listen on https.

kubectl (client-go's ``clientcmd``) only sends a kubeconfig's credentials over TLS: against an
``http://`` server it silently drops the token, and every request arrives anonymous. So the
kubeconfig that kubectl uses points at a TLS listener whose certificate this module makes
(with the ``openssl`` command, which every development machine has; no Python dependency).
"""

from __future__ import annotations

import atexit
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path

_cache: tuple[Path, Path] | None = None


def serving_cert() -> tuple[Path, Path]:
    """(certificate, key) PEM files valid for 127.0.0.1 and localhost; made once per process."""
    global _cache
    if _cache is None:
        d = Path(tempfile.mkdtemp(prefix="kubesim-tls-"))
        atexit.register(shutil.rmtree, d, True)
        cert, key = d / "tls.crt", d / "tls.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", "3650", "-subj", "/CN=kubesim",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )  # fmt: skip
        _cache = (cert, key)
    return _cache


def server_context() -> ssl.SSLContext:
    cert, key = serving_cert()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def ca_data() -> str:
    """The certificate as a kubeconfig's ``certificate-authority-data`` (base64 of the PEM)."""
    import base64

    return base64.b64encode(serving_cert()[0].read_bytes()).decode()
