"""Files of secret, configMap, downwardAPI and projected volumes, updated atomically.

The kubelet's ``AtomicWriter`` layout, which programs watching mounted files rely on
(they watch ``..data``): the files live in a timestamped ``..<ts>`` directory, ``..data``
is a symlink to it, and each top-level entry is a symlink ``<name> -> ..data/<name>``.
An update writes a new ``..<ts>`` directory and renames a new symlink over ``..data``, so
a reader sees either the whole old or the whole new set of files, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

#: Relative path -> (content, file mode).
Payload = dict[str, tuple[bytes, int]]


def _read_payload(ts_dir: Path) -> Payload:
    out: Payload = {}
    for root, _dirs, files in os.walk(ts_dir):
        for f in files:
            p = Path(root) / f
            out[str(p.relative_to(ts_dir))] = (p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


def atomic_write(target: Path, payload: Payload) -> bool:
    """Make ``target`` hold exactly ``payload``, as the kubelet's AtomicWriter does.

    Readers always see a complete old or new set of files: the files are written into a
    new ``..<timestamp>`` directory, then the ``..data`` symlink is replaced by rename.
    Returns False when the content was already current.
    """
    for p in payload:
        parts = p.split("/")
        if not p or p.startswith("/") or ".." in parts or parts[0].startswith(".."):
            raise ValueError(f"invalid path {p!r}")
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / "..data"
    old = os.readlink(data_link) if data_link.is_symlink() else None
    if old is not None and _read_payload(target / old) == payload:
        return False
    stamp = datetime.now(UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    ts_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    ts_dir.chmod(0o755)
    for rel, (content, mode) in payload.items():
        f = ts_dir / rel
        f.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        f.write_bytes(content)
        os.chmod(f, mode)
    tmp = target / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(ts_dir.name, tmp)
    os.replace(tmp, data_link)
    top = {rel.split("/", 1)[0] for rel in payload}
    for name in top:
        link = target / name
        if not link.is_symlink():
            os.symlink(f"..data/{name}", link)
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in top:
            entry.unlink()
    if old is not None:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
