"""Make a suite's derived variants: from the cache when it has them, else by the quantizer; copy
them into a folder; return the suite with them as ordinary variants, and their provenance.

A variant whose recipe fails keeps its reason (the quantizer's words) and points at its source
file, so the matrix still lists it: benchy records it as that variant's error row and the other
variants run (see benchy/matrix.py, `Model.derive_errors`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy import __version__
from benchy.config import Model, Suite
from benchy.derive.cache import VariantCache, cache_key
from benchy.derive.calibration import CalibrationData, load
from benchy.derive.quantizers import RecipeError
from benchy.derive.spec import DeriveSpec, quantizer_of
from benchy.errors import UsageError
from benchy.inputs.plan import inputs_problem
from benchy.results.manifest import sha256_file, utc_now

log = logging.getLogger(__name__)

MANIFEST = "derived.json"
"""Written beside the derived files: their provenance, and the list of files benchy made there
(the only files it will overwrite in that folder)."""


@dataclass(frozen=True)
class DerivedVariant:
    """One derived variant: where it came from, how, and where it is (or why it failed)."""

    model: str
    variant: str
    spec: DeriveSpec
    source_file: Path
    source_sha256: str
    tools: dict[str, str]
    calibration: CalibrationData | None
    cache_key: str
    file: Path | None = None
    sha256: str | None = None
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None

    @property
    def quantizer(self) -> str:
        return next(iter(self.tools))

    def payload(self) -> dict[str, Any]:
        """run.json / derived.json: the derived variant's provenance."""
        return {
            "model": self.model,
            "variant": self.variant,
            "from": self.spec.source,
            "source_file": str(self.source_file),
            "source_sha256": self.source_sha256,
            "recipe": self.spec.recipe.canonical(),
            "quantizer": self.quantizer,
            "quantizer_version": self.tools[self.quantizer],
            "tools": self.tools,
            "calibration": None if self.calibration is None else self.calibration.payload(),
            "file": None if self.file is None else self.file.name,
            "sha256": self.sha256,
            "size_bytes": None if self.file is None else self.file.stat().st_size,
            "cache_key": self.cache_key,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(frozen=True)
class Derived:
    suite: Suite
    """The suite with every derived variant among its models' variants."""
    variants: tuple[DerivedVariant, ...]

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {f"{d.model}/{d.variant}": d.payload() for d in self.variants}

    @property
    def failed(self) -> list[DerivedVariant]:
        return [d for d in self.variants if d.error is not None]


def file_name(model: str, variant: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{model}-{variant}") + suffix


def specs(suite: Suite) -> list[tuple[Model, DeriveSpec]]:
    return [(m, s) for m in suite.models.values() for s in m.derive]


def planned(suite: Suite) -> Suite:
    """The suite as a run would expand it, without deriving anything (for --dry-run): each
    derived variant points at its source file, whose format it keeps."""
    return _with_variants(
        suite, {(m.name, s.variant): m.variants[s.source] for m, s in specs(suite)}, {}
    )


def _with_variants(
    suite: Suite, files: dict[tuple[str, str], Path], errors: dict[tuple[str, str], str]
) -> Suite:
    models = {}
    for name, model in suite.models.items():
        mine = {v: p for (m, v), p in files.items() if m == name}
        failed = {v: e for (m, v), e in errors.items() if m == name}
        models[name] = dataclasses.replace(
            model, variants={**model.variants, **mine}, derive_errors=failed
        )
    return dataclasses.replace(suite, models=models)


def _ours(out_dir: Path, names: list[str]) -> set[str]:
    """The files benchy made in `out_dir` earlier (its manifest lists them). It overwrites only
    those: any other file in the way is refused before anything is derived."""
    manifest = out_dir / MANIFEST
    ours: set[str] = set()
    if manifest.is_file():
        try:
            ours = {str(n) for n in json.loads(manifest.read_text()).get("files", [])}
        except (ValueError, AttributeError, TypeError):
            ours = set()
    for name in names:
        if (out_dir / name).exists() and name not in ours:
            raise UsageError(
                f"refusing to overwrite {out_dir / name}: benchy did not make it "
                f"(it is not listed in {manifest}); choose another folder or move the file"
            )
    return {n for n in ours if (out_dir / n).is_file()}


class _Deriver:
    """Derives one suite's variants, reading each source and calibration set once."""

    def __init__(self, cache: VariantCache, out_dir: Path) -> None:
        self.cache, self.out_dir = cache, out_dir
        self._sha: dict[Path, str] = {}
        self._calibration: dict[str, CalibrationData] = {}

    def sha(self, path: Path) -> str:
        if path not in self._sha:
            self._sha[path] = sha256_file(path)
        return self._sha[path]

    def calibration(self, model: Model) -> CalibrationData | None:
        spec = model.calibration
        if spec is None or (spec.path or model.dataset) is None:
            return None
        if model.name not in self._calibration:
            self._calibration[model.name] = load(spec, model.dataset)
        return self._calibration[model.name]

    def derive(self, model: Model, spec: DeriveSpec) -> DerivedVariant:
        source = model.variants[spec.source]
        quantizer = quantizer_of(source)
        tools = quantizer.tools(spec.recipe)
        uses = quantizer.calibration(spec.recipe)
        calibration = self.calibration(model) if uses != "none" else None
        key = cache_key(
            {
                "source_sha256": self.sha(source),
                "suffix": source.suffix,
                "recipe": spec.recipe.canonical(),
                "calibration_sha256": None if calibration is None else calibration.sha256,
                "quantizer": next(iter(tools)),
                "versions": tools,
            }
        )
        found = DerivedVariant(
            model.name, spec.variant, spec, source, self.sha(source), tools, calibration, key
        )
        started = time.perf_counter()
        cached = self.cache.get(key, source.suffix)
        refused = self.cache.error(key, source.suffix)
        try:
            if refused is not None:
                raise RecipeError(refused)
            made = cached or self.cache.put(
                key,
                source.suffix,
                lambda tmp: quantizer.derive(
                    source, spec.recipe, None if calibration is None else calibration.samples, tmp
                ),
            )
        except (RecipeError, OSError) as exc:
            if isinstance(exc, RecipeError) and refused is None:
                self.cache.put_error(key, source.suffix, str(exc))
            log.warning("%s/%s: %s", model.name, spec.variant, exc)
            seconds = time.perf_counter() - started
            return dataclasses.replace(
                found, error=str(exc), cached=refused is not None, seconds=seconds
            )
        dest = self.out_dir / file_name(model.name, spec.variant, source.suffix)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(made, tmp)  # a copy: the run's file cannot alter the cached one
        os.replace(tmp, dest)
        return dataclasses.replace(
            found,
            file=dest,
            sha256=sha256_file(dest),
            cached=cached is not None,
            seconds=time.perf_counter() - started,
        )


def derive_variants(
    suite: Suite,
    out_dir: Path,
    cache: VariantCache | None = None,
    on_variant: Callable[[DerivedVariant], None] | None = None,
) -> Derived:
    """Every `derive` entry of the suite's models, made into `out_dir` (`<model>-<variant>.ext`)
    with its provenance in `out_dir/derived.json`; the suite returned has them as variants.
    A suite without `derive` is returned as it is and nothing is written."""
    todo = specs(suite)
    if not todo:
        return Derived(suite, ())
    names = [file_name(m.name, s.variant, m.variants[s.source].suffix) for m, s in todo]
    ours = _ours(out_dir, names)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Claim the names before writing them: an interrupted run leaves only files benchy may
    # overwrite next time.
    _write_manifest(out_dir, suite, sorted(ours | set(names)), {})
    deriver = _Deriver(cache or VariantCache(), out_dir)
    done = []
    for model, spec in todo:
        result = deriver.derive(model, spec)
        done.append(result)
        if on_variant is not None:
            on_variant(result)
    files = {(d.model, d.variant): d.file or d.source_file for d in done}
    errors = {(d.model, d.variant): d.error for d in done if d.error is not None}
    for d in done:  # inputs (issue 11): a derived file is fed as the suite says, or an error row
        problem = None if d.file is None else inputs_problem(suite.models[d.model], d.file)
        if problem is not None:
            errors[(d.model, d.variant)] = problem
    derived = Derived(_with_variants(suite, files, errors), tuple(done))
    made = {d.file.name for d in done if d.file is not None}
    _write_manifest(out_dir, suite, sorted(ours | made), derived.provenance())
    return derived


def _write_manifest(
    out_dir: Path, suite: Suite, files: list[str], variants: dict[str, dict[str, Any]]
) -> None:
    manifest = {
        "benchy_version": __version__,
        "suite_file": str(suite.path),
        "created": utc_now(),
        "files": files,
        "variants": variants,
    }
    tmp = out_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(tmp, out_dir / MANIFEST)
