"""Vega-Lite through vl-convert: the JavaScript a report embeds and the static PNG.

vl-convert (the Vega project's converter, a Rust extension with its own JavaScript engine) does
both without a browser or the network: it bundles vega + vega-lite + vega-embed into one script
that the page inlines, and renders the same specs to PNG. Page and PNG therefore draw with the
same library versions.

Each call runs in a child process started as early as possible (`Job`): vl-convert holds the
GIL while it works (~0.5 s to start its engine, ~0.5 s per picture, ~1.5 s per bundle), so a
thread would not overlap with reading the samples; a process does, on a second core. The bundle
is kept per vl-convert version in the user's cache folder (~/.cache/benchy); a cache that cannot
be written is only slower.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import vl_convert as vlc

from benchy import __version__
from benchy.errors import BenchyError

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOFTWARE = f"benchy {__version__}"  # the PNG's tEXt Software entry: marks files benchy wrote

# What the child runs: stdlib and vl-convert only, its arguments as JSON on stdin, the result
# as bytes on stdout. `javascript_bundle(None, …)`: the default snippet, which sets
# window.vegaEmbed. allowed_base_urls=[]: the data is inline, nothing may be fetched.
BUNDLE = "sys.stdout.buffer.write(v.javascript_bundle(None, vl_version=a['vl']).encode())"
PICTURE = (
    "sys.stdout.buffer.write(v.vegalite_to_png(a['spec'], vl_version=a['vl'], scale=a['scale'],"
    " allowed_base_urls=[]))"
)


class ReportError(BenchyError):
    """vl-convert failed in its child process."""


def vegalite_version() -> str:
    """The newest Vega-Lite this vl-convert carries, used for the page and the PNG alike."""
    return str(vlc.get_vegalite_versions()[-1])


def schema_url() -> str:
    """The spec's `$schema`: an identifier vega-embed reads for the version; never fetched."""
    major = vegalite_version().removeprefix("v").split(".")[0]
    return f"https://vega.github.io/schema/vega-lite/v{major}.json"


class Job:
    """One vl-convert call in a child process, started on creation; `result()` waits."""

    def __init__(self, call: str, **arguments: Any) -> None:
        code = f"import json, sys, vl_convert as v; a = json.load(sys.stdin); {call}"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        payload = json.dumps({"vl": vegalite_version(), **arguments}).encode()
        self._out: tuple[bytes, bytes] = (b"", b"")
        # communicate() in a thread: the spec may exceed the pipe's buffer, and the caller
        # goes on with its own work meanwhile (the thread only waits on the pipes).
        self._thread = threading.Thread(target=self._talk, args=(payload,), daemon=True)
        self._thread.start()

    def _talk(self, payload: bytes) -> None:
        self._out = self._proc.communicate(payload)

    def result(self) -> bytes:
        self._thread.join()
        if self._proc.returncode != 0:
            tail = self._out[1].decode(errors="replace").strip().splitlines()[-1:]
            raise ReportError(f"vl-convert failed: {' '.join(tail) or self._proc.returncode}")
        return self._out[0]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "benchy"


def _bundle_path() -> Path:
    version = getattr(vlc, "__version__", "unknown")
    return cache_dir() / f"vega-bundle-vlc{version}-vl{vegalite_version()}.js"


class Bundle:
    """The page's JavaScript: from the cache, or built by a child process started now."""

    def __init__(self) -> None:
        self._path = _bundle_path()
        self._job: Job | None = None
        try:
            self._script: str | None = self._path.read_text()
        except OSError:
            self._script, self._job = None, Job(BUNDLE)

    def script(self) -> str:
        if self._script is None:
            assert self._job is not None
            self._script = self._job.result().decode()
            self._store(self._script)
        return self._script

    def _store(self, script: str) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(f"{self._path.name}.{os.getpid()}.tmp")
            tmp.write_text(script)
            os.replace(tmp, self._path)  # atomic: a reader sees no file or the whole one
        except OSError as exc:
            log.debug("JavaScript bundle not cached in %s: %s", self._path, exc)


class Picture:
    """A chart rendered to PNG by a child process started now; `png()` waits for it."""

    def __init__(self, spec: dict[str, Any], scale: float = 2.0) -> None:
        self._job = Job(PICTURE, spec=spec, scale=scale)

    def png(self) -> bytes:
        """Tagged Software = benchy, so that benchy knows the file is its own."""
        return tag_png(self._job.result(), "Software", SOFTWARE)


def tag_png(data: bytes, key: str, text: str) -> bytes:
    """Insert a tEXt chunk right after IHDR (PNG spec §11.3.4.3)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ReportError("vl-convert returned no PNG")
    ihdr_end = len(PNG_SIGNATURE) + 8 + 13 + 4  # length, type, IHDR data, CRC
    body = b"tEXt" + key.encode("latin-1") + b"\0" + text.encode("latin-1")
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def png_is_ours(head: bytes) -> bool:
    return head.startswith(PNG_SIGNATURE) and b"tEXtSoftware\0benchy " in head[:200]
