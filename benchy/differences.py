"""What differs between two stored runs: benchy version and commit, measurement settings, the
machine facts of each target, runtime versions, model and dataset hashes, the delegate that
really took nodes. Shown beside every comparison: it is usually the change being judged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchy.store import IDENTITY

HASHES = ("sha256", "git_commit")


@dataclass(frozen=True)
class Difference:
    what: str
    base: str
    new: str
    scope: tuple[tuple[str, str], ...] = ()  # identity columns it concerns; () = the whole run

    def applies(self, cell: dict[str, str]) -> bool:
        """True when this difference concerns the cell (run-wide ones are shown once, apart)."""
        return bool(self.scope) and all(cell.get(k) == v for k, v in self.scope)

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


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


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
    run_keys = ("benchy_version", "git_commit", "suite_sha256", "quick")
    run_b = {k: base.get(k) for k in run_keys} | _flat(base.get("measure") or {}, "measure.")
    run_n = {k: new.get(k) for k in run_keys} | _flat(new.get("measure") or {}, "measure.")
    out += [Difference(k, b, n) for k, b, n in _changed(run_b, run_n)]
    targets_b, targets_n = base.get("targets") or {}, new.get("targets") or {}
    for target in sorted(set(targets_n)):
        if target not in targets_b:
            facts = Difference("machine facts", "not recorded", "recorded", _scope(target=target))
            out.append(facts)
            continue
        for key, b, n in _changed(_flat(targets_b[target]), _flat(targets_n[target])):
            parts = key.split(".")
            runtime = parts[1] if parts[0] == "runtimes" and len(parts) > 2 else None
            what = f"{runtime} {'.'.join(parts[2:])}" if runtime else key
            out.append(Difference(what, b, n, _scope(target=target, runtime=runtime)))
    models_b, models_n = base.get("models_sha256") or {}, new.get("models_sha256") or {}
    for key, b, n in _changed(models_b, models_n):
        model, _, variant = key.partition("/")
        out.append(Difference("model sha256", b[:12], n[:12], _scope(model=model, variant=variant)))
    for key, b, n in _changed(base.get("datasets_sha256") or {}, new.get("datasets_sha256") or {}):
        out.append(Difference(f"dataset {key} sha256", b[:12], n[:12]))
    out += _cell_differences(base_cells, new_cells)
    return out


def _cell_differences(base: pd.DataFrame, new: pd.DataFrame) -> list[Difference]:
    """The delegate that really took nodes, per cell that ran on both sides."""
    if "delegate_applied" not in base or "delegate_applied" not in new:
        return []
    ok_b = base[base["status"] == "ok"].astype({"threads": str})
    ok_n = new[new["status"] == "ok"].astype({"threads": str})
    both = ok_b.merge(ok_n, on=IDENTITY, suffixes=("_b", "_n"))
    out = []
    for row in both.itertuples(index=False):
        b, n = str(row.delegate_applied_b), str(row.delegate_applied_n)
        if b != n:
            cell = {k: str(getattr(row, k)) for k in IDENTITY}
            what = f"delegate applied ({cell['runtime']}/{cell['delegate']} ×{cell['threads']})"
            out.append(Difference(what, b, n, tuple(cell.items())))
    return out
