"""What differs between two stored runs: benchy version and commit, measurement settings, the
machine facts of each target, runtime versions, model and dataset hashes, the delegate that
really took nodes. Shown beside every comparison: it is usually the change being judged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchy.config import SAMPLE_SIZE
from benchy.results.manifest import flatten
from benchy.results.schema import IDENTITY, CellKey

HASHES = ("sha256", "git_commit")
RUN_KEYS = {
    "benchy_version": "benchy",
    "git_commit": "source",
    "suite_sha256": "source",
    "quick": "settings",
}


KINDS = ("status", "benchy", "source", "settings", "sample", "machine", "runtime", "model",
         "dataset", "delegate")  # fmt: skip
"""status: a run did not finish (it holds only some cells) · benchy: its version · source: git
commit, suite file · settings: [measure], --quick · sample: how many values were taken
([measure] repetitions), which moves no cell ·
machine: a target's facts · runtime: a runtime's version or providers on a target · model,
dataset: a file's sha256 · delegate: the delegate that really took nodes in a cell."""

MOVES_EVERY_CELL = ("benchy", "settings", "machine", "runtime")
"""Kinds of change that can move every cell of a target alike (and so look like drift)."""


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    what: str
    base: str
    new: str
    scope: tuple[tuple[str, str], ...] = ()  # identity columns it concerns; () = the whole run

    def applies(self, cell: CellKey) -> bool:
        """True when this difference concerns the cell (run-wide ones are shown once, apart)."""
        labels = cell.labels()
        return bool(self.scope) and all(labels.get(k) == v for k, v in self.scope)

    def text(self) -> str:
        named = dict(self.scope)
        where = "/".join(named[k] for k in ("target", "model", "variant") if k in named)
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.what}: {self.base} → {self.new}"


def _scope(**values: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in values.items() if v is not None)


def _show(value: Any, key: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    if key.endswith(HASHES) and len(text) > 12:
        return text[:12]
    return text


def _changed(base: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for key in sorted(set(base) | set(new)):
        b, n = _show(base.get(key), key), _show(new.get(key), key)
        if b != n:
            out.append((key, b, n))
    return out


def differences(
    base: dict[str, Any], new: dict[str, Any], base_cells: pd.DataFrame, new_cells: pd.DataFrame
) -> list[Difference]:
    """Run-wide first, then per target, then per model variant and per cell."""
    out: list[Difference] = []
    status_b, status_n = base.get("status"), new.get("status")
    if status_b != status_n:
        note = " (only its cells are judged)" if status_b != "finished" else ""
        out.append(Difference("status", "run status", f"{status_b}{note}", str(status_n)))
    run_b = {k: base.get(k) for k in RUN_KEYS} | flatten(base.get("measure") or {}, "measure.")
    run_n = {k: new.get(k) for k in RUN_KEYS} | flatten(new.get("measure") or {}, "measure.")
    out += [Difference(_kind(k), k, b, n) for k, b, n in _changed(run_b, run_n)]
    targets_b, targets_n = base.get("targets") or {}, new.get("targets") or {}
    for target in sorted(set(targets_n)):
        if target not in targets_b:
            facts = Difference(
                "machine", "machine facts", "not recorded", "recorded", _scope(target=target)
            )
            out.append(facts)
            continue
        for key, b, n in _changed(flatten(targets_b[target]), flatten(targets_n[target])):
            parts = key.split(".")
            runtime = parts[1] if parts[0] == "runtimes" and len(parts) > 2 else None
            what = f"{runtime} {'.'.join(parts[2:])}" if runtime else key
            kind = "runtime" if runtime else "machine"
            out.append(Difference(kind, what, b, n, _scope(target=target, runtime=runtime)))
    models_b, models_n = base.get("models_sha256") or {}, new.get("models_sha256") or {}
    for key, b, n in _changed(models_b, models_n):
        model, _, variant = key.partition("/")
        scope = _scope(model=model, variant=variant)
        out.append(Difference("model", "model sha256", b[:12], n[:12], scope))
    for key, b, n in _changed(base.get("datasets_sha256") or {}, new.get("datasets_sha256") or {}):
        out.append(Difference("dataset", f"dataset {key} sha256", b[:12], n[:12]))
    out += _cell_differences(base_cells, new_cells)
    return out


def _kind(key: str) -> str:
    if key.startswith("measure.") and key.removeprefix("measure.") in SAMPLE_SIZE:
        return "sample"
    return RUN_KEYS.get(key, "settings")


def _cell_differences(base: pd.DataFrame, new: pd.DataFrame) -> list[Difference]:
    """The delegate that really took nodes, per cell that ran on both sides."""
    if "delegate_applied" not in base or "delegate_applied" not in new:
        return []
    wanted = [*IDENTITY, "delegate_applied"]
    ok_b = base.loc[base["status"] == "ok", wanted].astype({"threads": "int64"})
    ok_n = new.loc[new["status"] == "ok", wanted].astype({"threads": "int64"})
    both = ok_b.merge(ok_n, on=list(IDENTITY), suffixes=("_b", "_n"))
    out = []
    for row in both.to_dict("records"):
        b, n = str(row["delegate_applied_b"]), str(row["delegate_applied_n"])
        if b != n:
            cell = CellKey.of(row)
            what = f"delegate applied ({cell.setup()})"
            out.append(Difference("delegate", what, b, n, tuple(cell.labels().items())))
    return out


def model_changed(diffs: Iterable[Difference]) -> bool:
    return any(d.kind == "model" for d in diffs)
