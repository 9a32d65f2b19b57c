"""Reading a written report back: its chart specs (inline JSON) and what a browser shows."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .chromium import Chromium, Tab

SPEC = re.compile(r'<script type="application/json" id="spec-([^"]+)">(.*?)</script>', re.S)


def specs(html: Path) -> dict[str, dict[str, Any]]:
    """Chart id → its Vega-Lite spec, as embedded in the page."""
    text = html.read_text()
    return {m[1]: json.loads(m[2].replace("<\\/", "</")) for m in SPEC.finditer(text)}


def marks(tab: Tab, chart_id: str, name: str) -> int:
    """How many items of the named mark the browser drew in a chart (SVG renderer)."""
    count = tab.evaluate(
        f"Array.from(document.querySelectorAll('#{chart_id} g.role-mark.{name}_marks'))"
        ".reduce((n, g) => n + g.children.length, 0)"
    )
    return int(count)


def rendered(tab: Tab) -> int:
    """Waits for every chart of the page to render; returns how many there are."""
    return int(tab.evaluate("window.benchyReady.then(() => document.body.dataset.rendered)"))


def picture_stats(png: bytes) -> tuple[tuple[int, int], int, float]:
    """(size, distinct colours, fraction of pixels that are not near-white)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3)
    colours = len(np.unique(pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1])))
    inked = float((pixels.min(axis=1) < 235).mean())
    return image.size, colours, inked


def open_report(browser: Chromium, html: Path, width: int = 1280) -> Tab:
    tab = browser.tab()
    tab.open(html.resolve().as_uri(), width=width, height=900, mobile=width < 600)
    return tab
