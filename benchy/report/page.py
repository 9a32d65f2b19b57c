"""One self-contained HTML page: styles, chart specs as inline JSON, the Vega bundle inlined
once, and a Content-Security-Policy that forbids every network request (a chart that tried to
load anything would fail loudly in the console instead of reaching out).

The page is built as a list of HTML fragments; text from results is always escaped here.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchy import __version__
from benchy.errors import UsageError
from benchy.report.vega import png_is_ours, schema_url

GENERATOR = f'<meta name="generator" content="benchy {__version__}">'
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)  # 'unsafe-eval': Vega compiles its expressions with Function()

STYLE = """
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: #fff; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 16px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.4em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
nav a { margin-right: 14px; }
.muted, .note { color: var(--muted); }
.note { font-size: .9em; }
.grid { display: grid; gap: 12px;
        grid-template-columns: repeat(auto-fill, minmax(min(100%, 330px), 1fr)); }
.wide { grid-column: 1 / -1; }
figure { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px;
         overflow-x: auto; min-width: 0; }
figcaption { font-size: .85em; color: var(--muted); }
.vega { width: 100%; }
.pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 4px; }
@media (max-width: 520px) { .pair { grid-template-columns: 1fr; } }
.verdict { display: inline-block; padding: 0 6px; border-radius: 4px; color: #fff;
           background: #757575; }
.v-pass, .v-improved, .v-unchanged { background: #2e7d32; }
.v-fail, .v-regressed, .v-error, .v-budget-failed { background: #c62828; }
.v-inconclusive, .v-missing { background: #b26a00; }
.v-unstable { background: #8e24aa; }
.v-drift, .v-new { background: #1565c0; }
.v-unchecked { background: #757575; }
table { border-collapse: collapse; font-size: .9em; margin: 6px 0; }
td, th { border-bottom: 1px solid var(--line); padding: 2px 8px; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
details { margin: 6px 0; }
summary { cursor: pointer; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em;
              word-break: break-all; }
"""

LOADER = """
(function () {
  "use strict";
  var views = {};
  window.benchyViews = views;
  var options = {renderer: "svg",
                 actions: {export: true, source: false, compiled: false, editor: false}};
  var pending = Array.prototype.map.call(document.querySelectorAll("[data-spec]"), function (el) {
    var spec = JSON.parse(document.getElementById(el.dataset.spec).textContent);
    return vegaEmbed(el, spec, options).then(function (result) { views[el.id] = result.view; },
      function (err) { console.error("chart " + el.id + ": " + err); });
  });
  window.benchyReady = Promise.all(pending).then(function () {
    document.body.setAttribute("data-rendered", String(pending.length));
  });
})();
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def script_json(data: Any) -> str:
    """JSON safe inside <script>: no `</` (ends the element) and no `<!--`."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _inline(script: str) -> str:
    """A script safe inside <script>: `</script` would end it early (in JavaScript source, a
    string or regex may spell it `<\\/script` to the same effect)."""
    return re.sub(r"</(script)", r"<\\/\1", script, flags=re.IGNORECASE)


def table(
    head: Iterable[str], rows: Iterable[Iterable[Any]], numeric: frozenset[int] = frozenset()
) -> str:
    """An HTML table; cells are escaped, columns in `numeric` right-aligned."""
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = (
            f'<td class="num">{esc(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
            for i, v in enumerate(row)
        )
        out.append(f"<tr>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def figure(inner: str, caption: str = "", css: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    cls = f' class="{css}"' if css else ""
    return f"<figure{cls}>{inner}{cap}</figure>"


def verdict_chip(verdict: str) -> str:
    css = "v-" + verdict.replace(" ", "-").split("-and-")[0]
    return f'<span class="verdict {esc(css)}">{esc(verdict)}</span>'


@dataclass
class Page:
    """Fragments of one report page and the chart specs they refer to."""

    title: str
    body: list[str] = field(default_factory=list)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, *fragments: str) -> None:
        self.body.extend(fragments)

    def slot(self, chart_id: str, spec: dict[str, Any]) -> str:
        """Where one chart goes; its spec is emitted once, as JSON, at the page's end."""
        self.specs[chart_id] = {"$schema": schema_url(), **spec}
        return f'<div class="vega" id="{esc(chart_id)}" data-spec="spec-{esc(chart_id)}"></div>'

    def chart(self, chart_id: str, spec: dict[str, Any], caption: str = "", css: str = "") -> str:
        """A figure holding one chart; `caption` is HTML."""
        return figure(self.slot(chart_id, spec), caption, css)

    def render(self, bundle: str) -> str:
        specs = "".join(
            f'<script type="application/json" id="spec-{esc(k)}">{script_json(v)}</script>\n'
            for k, v in self.specs.items()
        )
        return (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"{GENERATOR}\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{esc(self.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(self.body)
            + "\n"
            + specs
            + f"<script>{_inline(bundle)}</script>\n<script>{LOADER}</script>\n</body>\n</html>\n"
        )


def is_ours(path: Path) -> bool:
    """True when `path` is a report or image benchy wrote (it may then be overwritten)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'<meta name="generator" content="benchy ' in head or png_is_ours(head)


def ensure_writable(path: Path) -> None:
    """Refuse to overwrite a file benchy did not write (exit 2, saying so)."""
    if path.exists() and not is_ours(path):
        raise UsageError(f"{path}: exists and was not written by benchy; not overwritten")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
