"""The worker as one file: a zipapp of this package (plus an empty `benchy/__init__.py`), built
byte-for-byte the same from the same sources, so its sha256 names it. The local target runs it;
the SSH target pushes it by that name, so a re-run uploads nothing and a changed worker can never
be mistaken for an old one. Host side only: the worker itself never imports this module."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same bytes
MAIN = b"import sys\nfrom benchy.worker.__main__ import run\n\nsys.exit(run())\n"


def sources() -> list[tuple[str, bytes]]:
    """(archive name, bytes) of every file the worker needs, in a fixed order."""
    files = [("__main__.py", MAIN), ("benchy/__init__.py", b"")]
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "bundle.py" or "__pycache__" in path.parts:
            continue
        name = "benchy/worker/" + path.relative_to(PACKAGE).as_posix()
        files.append((name, path.read_bytes()))
    return files


def build() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, data in sources():
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "benchy" / "worker"


def worker_file() -> Path:
    """The bundled worker on disk, named by its sha256 (written once per content)."""
    data = build()
    digest = hashlib.sha256(data).hexdigest()
    path = cache_dir() / f"worker-{digest}.pyz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path
