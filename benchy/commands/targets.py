"""`benchy targets list|check`: which targets exist, and what a device can run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchy import exitcodes
from benchy.config import load_target
from benchy.errors import BenchyError, TargetError
from benchy.power.config import PowerConfig
from benchy.power.ppk2 import HOST_METERS
from benchy.report.markup import plain
from benchy.targets import TARGET_KINDS, lookup
from benchy.targets.base import Survey, Target

FACTS = ("board", "cpu_model", "cores", "cpu_max_mhz", "governor", "ram_mb", "os", "kernel",
         "machine", "python", "numpy", "temp_c", "throttled", "ssh", "workdir")  # fmt: skip

INSTALL = {
    "tflite": "{py} -m pip install ai-edge-litert   (or tflite-runtime where no LiteRT wheel "
    "exists for the board)",
    "onnxruntime": "{py} -m pip install onnxruntime",
}
VENV_HINT = (
    "On Raspberry Pi OS Bookworm and other PEP 668 systems, install into a venv "
    '(python3 -m venv ~/benchy-venv) and set python = "~/benchy-venv/bin/python" in the target.'
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("targets", help="list targets or check one", description=__doc__)
    tsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = tsub.add_parser("list", help="the target files in ./targets")
    ls.add_argument("--dir", type=Path, default=Path("targets"))
    ls.set_defaults(func=cmd_list)
    check = tsub.add_parser(
        "check", help="connect, print facts and usable runtimes, and how to install what is missing"
    )
    check.add_argument("target", metavar="NAME_OR_PATH")
    check.set_defaults(func=cmd_check)


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    table = Table("name", "kind", "description", header_style="bold")
    paths = sorted(args.dir.glob("*.toml"))
    for path in paths:
        try:
            cfg = load_target(str(path))
            table.add_row(plain(cfg.name), plain(cfg.kind), plain(cfg.description))
        except BenchyError as exc:
            table.add_row(plain(path.stem), "[red]invalid[/]", plain(exc))
    for name in sorted(set(lookup.BUILTIN) - {p.stem for p in paths}):
        cfg = load_target(name, None)  # built in, unless a file elsewhere overrides it
        table.add_row(plain(cfg.name), plain(cfg.kind), plain(cfg.description))
    console.print(table)
    return exitcodes.PASS


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    cfg = load_target(args.target)
    survey = TARGET_KINDS[cfg.kind].survey(cfg.options)  # [farm] shared boards: list, take none
    if survey is not None:
        return _print_survey(console, survey)
    target = TARGET_KINDS[cfg.kind](cfg.name, cfg.options)
    power: PowerConfig | None = getattr(cfg.options, "power", None)
    try:
        target.open()
        facts = target.facts()
        if power is not None:
            facts["power"] = _power(target, power)
    finally:
        target.close()
    title = plain(f"{cfg.name} ({cfg.kind})")
    table = Table("fact", "value", title=title, header_style="bold")
    for key in FACTS:  # (facts come from the device: shown as they are, never as markup)
        if facts.get(key) is not None:
            table.add_row(key, plain(facts[key]))
    for key, value in facts.items():  # target-specific facts (e.g. a DUT's name and profile)
        if key not in FACTS and key not in ("runtimes", "thermal_zones") and value is not None:
            table.add_row(plain(key), plain(value))
    console.print(table)
    return _runtimes(
        console, facts.get("runtimes") or {}, getattr(cfg.options, "python", "python3")
    )


def _print_survey(console: Console, survey: Survey) -> int:
    table = Table(*survey.columns, title=survey.title, header_style="bold")
    for row in survey.rows:
        table.add_row(*row)
    console.print(table)
    console.print(survey.summary, markup=False)
    return exitcodes.PASS


def _power(target: Target, power: PowerConfig) -> str:
    if power.on_device:
        return target.power_check(power.payload())
    try:
        HOST_METERS[power.source](power).close()
    except TargetError as exc:
        return f"unavailable: {exc}"
    return f"{power.source} on the host: readable"


def _runtimes(console: Console, runtimes: dict[str, Any], python: str) -> int:
    missing = []
    table = Table("runtime", "usable", "detail", header_style="bold")
    for name, info in runtimes.items():
        if info.get("available"):
            detail = f"{info.get('module')} {info.get('version')}"
            if name == "tflite":
                detail += "; delegates: xnnpack, none, reference, external:"
            if info.get("providers"):
                detail += "; providers: " + ", ".join(info["providers"])
            table.add_row(plain(name), "[green]yes[/]", plain(detail))
        else:
            table.add_row(plain(name), "[red]no[/]", plain(info.get("reason", "")))
            missing.append(name)
    console.print(table)
    for name in missing:
        if name in INSTALL:
            console.print(f"to install {name}: {INSTALL[name].format(py=python)}", markup=False)
    if missing:
        console.print(VENV_HINT, markup=False)
    return exitcodes.PASS
