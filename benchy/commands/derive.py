"""`benchy derive SUITE [-o DIR]`: make the suite's derived variants without measuring them.

For firmware: a full-int8 variant with integer inputs and outputs (`{ recipe = "int8",
int8_io = true }`) is what TFLite Micro takes. Files come from the cache when it has them
(`$XDG_CACHE_HOME/benchy/variants`); `DIR/derived.json` records each one's provenance.

Exit codes: 0 every variant made, 2 configuration error (or a file in DIR that benchy did not
make is in the way), 3 a recipe failed for a model (the others are made).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from benchy import exitcodes
from benchy.config import Suite, load_suite
from benchy.derive.variants import Derived, DerivedVariant, derive_variants, specs
from benchy.errors import UsageError

log = logging.getLogger("benchy")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "derive",
        help="make a suite's derived (quantized) variants without measuring them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("suite", type=Path, help="suite file whose models have derive = [...]")
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for the files (default derived/<suite>)",
    )
    p.set_defaults(func=cmd_derive)


def derive_with_progress(console: Console, suite: Suite, out_dir: Path) -> Derived:
    """derive_variants with a progress bar (only when there is something to derive)."""
    total = len(specs(suite))
    if not total:
        return derive_variants(suite, out_dir)
    columns = (
        TextColumn("deriving"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=total)

        def done(d: DerivedVariant) -> None:
            progress.update(task, advance=1, description=f"{d.model}/{d.variant}")

        derived = derive_variants(suite, out_dir, on_variant=done)
    made = [d for d in derived.variants if d.error is None]
    log.info(
        "derived %d variants (%d from the cache, %d failed) → %s",
        total,
        sum(d.cached for d in made),
        len(derived.failed),
        out_dir,
    )
    return derived


def _table(derived: Derived) -> Table:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("model", "variant", "from", "recipe", "quantizer", "KB", "cached", "file"):
        table.add_column(name, justify="right" if name == "KB" else "left", no_wrap=name != "file")
    for d in derived.variants:
        size = f"{d.file.stat().st_size / 1024:.1f}" if d.file is not None else "–"
        where = (
            d.file.name if d.file is not None else f"[bold red]error[/]: {escape(d.error or '')}"
        )
        table.add_row(
            d.model,
            d.variant,
            d.spec.source,
            d.spec.recipe.label(),
            f"{d.quantizer} {d.tools[d.quantizer]}",
            size,
            "yes" if d.cached else "no",
            where,
        )
    return table


def cmd_derive(args: argparse.Namespace, console: Console) -> int:
    suite = load_suite(args.suite)
    if not specs(suite):
        raise UsageError(f"{args.suite}: no model derives a variant (add derive = [...] to one)")
    out = args.out or Path("derived") / suite.name
    derived = derive_with_progress(console, suite, out)
    console.print(_table(derived))
    console.print(f"files and provenance: {out}")
    return exitcodes.ERROR if derived.failed else exitcodes.PASS
