"""Suite × targets → the list of cells to run, plus the pairs that cannot apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchy.config import Suite
from benchy.results.schema import CellKey
from benchy.runtimes import RUNTIMES, Delegate


@dataclass(frozen=True)
class Cell:
    target: str
    model: str
    variant: str
    runtime: str
    delegate: Delegate
    threads: int
    model_file: Path
    reason: str | None = None  # set when the cell cannot apply (it is listed, never run)
    failed: str | None = None  # derive (issue 13): its variant could not be made; why

    @property
    def applicable(self) -> bool:
        return self.reason is None and self.failed is None

    @property
    def key(self) -> CellKey:
        return CellKey(
            self.target, self.model, self.variant, self.runtime, self.delegate.label, self.threads
        )


Rule = Callable[[str, str, str, str], str | None]
"""(target, model, variant, runtime) → why that target cannot run it, or None."""


def expand(suite: Suite, targets: list[str], rule: Rule | None = None) -> list[Cell]:
    """Every cell in run order; per target and model the reference variant comes first,
    since the others are compared with it. `rule` lets a target refuse pairs (an MCU runs
    only the model it was flashed with): those are listed as not applicable."""
    cells: list[Cell] = []
    matrix = suite.matrix
    for target in targets:
        for model in suite.models.values():
            variants = sorted(model.variants, key=lambda v: v != model.reference)
            for variant in variants:
                path = model.variants[variant]
                if variant in model.derive_errors:  # derive (issue 13): one error row
                    cells.append(_underived(suite, target, model.name, variant, path))
                    continue
                for runtime in matrix.runtimes:
                    spec = RUNTIMES[runtime]
                    reason = None
                    if not spec.applies_to(path.name):
                        reason = f"{runtime} does not run {path.suffix} files"
                    elif rule is not None:
                        reason = rule(target, model.name, variant, runtime)
                    if reason is not None:
                        na = Delegate("-", {})
                        cells.append(
                            Cell(target, model.name, variant, runtime, na, 0, path, reason)
                        )
                        continue
                    for delegate in matrix.delegates[runtime]:
                        for threads in matrix.threads if spec.threaded else (1,):
                            cell = Cell(
                                target, model.name, variant, runtime, delegate, threads, path
                            )
                            if _selected(suite, cell):
                                cells.append(cell)
    return cells


def _underived(suite: Suite, target: str, model: str, variant: str, path: Path) -> Cell:
    """A derived variant whose recipe failed: one cell per target, under the runtime that would
    have run it, carrying the quantizer's reason (recorded as an error, never run)."""
    runtimes = suite.matrix.runtimes
    runtime = next((r for r in runtimes if RUNTIMES[r].applies_to(path.name)), runtimes[0])
    reason = suite.models[model].derive_errors[variant]
    return Cell(target, model, variant, runtime, Delegate("-", {}), 0, path, failed=reason)


def _selected(suite: Suite, cell: Cell) -> bool:
    labels = cell.key.labels()
    if suite.matrix.include and not any(f.matches(labels) for f in suite.matrix.include):
        return False
    return not any(f.matches(labels) for f in suite.matrix.exclude)
