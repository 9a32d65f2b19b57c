"""Vega-Lite through vl-convert: the JavaScript a report embeds and the static PNG.

vl-convert (the Vega project's converter, a Rust extension with its own JavaScript engine) does
both without a browser or the network: it bundles vega + vega-lite + vega-embed into one script
that the page inlines, and renders the same specs to PNG. Page and PNG therefore draw with the
same library versions. Building the bundle takes about 1.5 s, so it is kept per vl-convert
version in the user's cache folder; a cache that cannot be written is only slower.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from pathlib import Path
from typing import Any

import vl_convert as vlc

from benchy import __version__

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOFTWARE = f"benchy {__version__}"  # the PNG's tEXt Software entry: marks files benchy wrote


def vegalite_version() -> str:
    """The newest Vega-Lite this vl-convert carries, used for the page and the PNG alike."""
    return str(vlc.get_vegalite_versions()[-1])


def schema_url() -> str:
    """The spec's `$schema`: an identifier vega-embed reads for the version; never fetched."""
    major = vegalite_version().removeprefix("v").split(".")[0]
    return f"https://vega.github.io/schema/vega-lite/v{major}.json"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "benchy"


def _bundle_path() -> Path:
    version = getattr(vlc, "__version__", "unknown")
    return cache_dir() / f"vega-bundle-vlc{version}-vl{vegalite_version()}.js"


def _build_and_cache(path: Path) -> str:
    # snippet None: the default one, which sets window.vegaEmbed (the stub wants a str)
    script = str(vlc.javascript_bundle(None, vl_version=vegalite_version()))  # type: ignore[arg-type]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(script)
        os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
    except OSError as exc:
        log.debug("JavaScript bundle not cached in %s: %s", path, exc)
    return script


class Bundle:
    """The page's JavaScript, started in the background on creation (vl-convert releases the
    GIL while it bundles, so reading the samples goes on meanwhile)."""

    def __init__(self) -> None:
        self._script: str | None = None
        self._error: BaseException | None = None
        path = _bundle_path()
        try:
            self._script = path.read_text()
            self._thread: threading.Thread | None = None
        except OSError:
            self._thread = threading.Thread(target=self._build, args=(path,), daemon=True)
            self._thread.start()

    def _build(self, path: Path) -> None:
        try:
            self._script = _build_and_cache(path)
        except BaseException as exc:  # handed to the caller of script()
            self._error = exc

    def script(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._script is not None
        return self._script


def png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    """The chart as PNG, tagged Software = benchy (so benchy knows the file is its own).
    No base URL is allowed: the spec's data is inline, nothing may be fetched."""
    data = bytes(
        vlc.vegalite_to_png(spec, vl_version=vegalite_version(), scale=scale, allowed_base_urls=[])
    )
    return tag_png(data, "Software", SOFTWARE)


def tag_png(data: bytes, key: str, text: str) -> bytes:
    """Insert a tEXt chunk right after IHDR (PNG spec §11.3.4.3)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(PNG_SIGNATURE) + 8 + 13 + 4  # length, type, IHDR data, CRC
    body = b"tEXt" + key.encode("latin-1") + b"\0" + text.encode("latin-1")
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def png_is_ours(head: bytes) -> bool:
    return head.startswith(PNG_SIGNATURE) and b"tEXtSoftware\0benchy " in head[:200]
