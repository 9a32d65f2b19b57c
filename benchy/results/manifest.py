"""run.json: what ran, on what, with which files — written when a run starts, completed when it
ends, and checked before any stored run is read (schema version, with advice when it cannot be)."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchy import __version__
from benchy.config import Measure, Suite
from benchy.errors import UsageError
from benchy.modelinfo import companions
from benchy.results.schema import SCHEMA_VERSION


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def new_run_dir(base: Path, suite: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base / suite / f"{stamp}-{secrets.token_hex(3)}"


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a benchy run (no run.json)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    problem = manifest_problem(manifest)
    if problem is not None:
        raise UsageError(f"{path}: {problem}")
    return dict(manifest)


MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "status": (str,),
    "suite": (str,),
    "targets": (dict,),
    "measure": (dict,),
    "gate": (dict,),
    "models_sha256": (dict,),
    "datasets_sha256": (dict,),
    "comparison": (dict,),
    "quick": (bool,),
}
"""The keys benchy reads back from run.json, and the JSON types they must have."""


def manifest_problem(manifest: Any) -> str | None:
    """Why this is not a run.json benchy can read (wrong JSON shape or types), or None."""
    if not isinstance(manifest, dict):
        return f"not a benchy run.json: it holds {type(manifest).__name__}, not an object"
    for key, types in MANIFEST_TYPES.items():
        value = manifest.get(key)
        if value is not None and (not isinstance(value, types) or (isinstance(value, bool)
                                  and bool not in types)):  # fmt: skip
            want = " or ".join(t.__name__ for t in types)
            return f'"{key}" is {type(value).__name__}, expected {want}: not a run benchy wrote'
    return None


def schema_problem(manifest: dict[str, Any]) -> str | None:
    """Why this benchy cannot read a run's results, with advice; None when it can."""
    version = manifest.get("schema_version")
    if version == SCHEMA_VERSION:
        return None
    wrote = manifest.get("benchy_version", "an unknown version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return (
            f"result schema {version} is newer than this benchy reads ({SCHEMA_VERSION}); "
            f"upgrade benchy (the run was written by benchy {wrote})"
        )
    return (
        f"result schema {version} is not {SCHEMA_VERSION}; re-run the suite with this benchy "
        f"or read it with benchy {wrote}, which wrote it"
    )


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: {"a": {"b": 1}} → {"a.b": 1}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def run_manifest(suite: Suite, suite_file: Path, measure: Measure, quick: bool) -> dict[str, Any]:
    """What a run's run.json starts with: what ran, on what, with which files."""
    models = {
        f"{m.name}/{v}": sha256_file(p)
        for m in suite.models.values()
        for v, p in m.variants.items()
        if v not in m.derive_errors  # a derived variant whose recipe failed: no file was made
    }
    for m in suite.models.values():  # an ONNX model's external data files (issue 11)
        for v, p in m.variants.items():
            data = [d for d in companions(p) if d.is_file()]
            models |= {f"{m.name}/{v}:{d.name}": sha256_file(d) for d in data}
    datasets = {
        str(m.dataset.name): sha256_file(m.dataset) for m in suite.models.values() if m.dataset
    }
    return {
        "benchy_version": __version__,
        "git_commit": git_commit(Path.cwd()),
        "suite": suite.name,
        "suite_file": str(suite_file),
        "suite_sha256": sha256_file(suite_file),
        "models_sha256": models,
        "datasets_sha256": datasets,
        "quick": quick,
        "measure": measure.payload(),
        "gate": suite.gate.payload(),
        "argv": sys.argv,
        "started": utc_now(),
    }
