"""Suite and target files (TOML) → typed, validated models.

Nothing runs before the whole suite and its targets validate.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchy.datasets import dataset_problem
from benchy.derive.spec import CalibrationSpec, DeriveSpec, parse_calibration, parse_derive
from benchy.errors import ConfigError
from benchy.inputs.config import (
    INPUT_KEYS,
    InputsConfig,
    InputSpec,
    Place,
    parse_inputs,
    parse_legacy_input,
)
from benchy.inputs.plan import check_model
from benchy.power.config import EnergySettings
from benchy.runtimes import RUNTIMES, Delegate
from benchy.tomltable import Table, load_toml

BUDGET_KEYS = {
    "latency_p50_ms": "latency_p50_ms",
    "latency_p90_ms": "latency_p90_ms",
    "latency_p99_ms": "latency_p99_ms",
    "peak_memory_mb": "peak_rss_mb",
    "model_memory_mb": "model_memory_mb",
    "model_size_kb": "model_size_kb",
    "accuracy_min": "accuracy",
    "accuracy_drop_max": "accuracy_drop",
    "energy_per_inference_mj": "energy_per_inference_mj",
    "active_power_mw": "active_power_mw",
    "battery_life_hours_min": "battery_life_hours",
    "tflm_arena_kb": "tflm_arena_kb",
}
"""Budget name → the cells column it limits. The FLOOR_BUDGETS are floors; the rest ceilings."""

FLOOR_BUDGETS = {"accuracy_min", "battery_life_hours_min"}
METRICS = ("accuracy", "top_k", "mae", "rmse")
FILTER_KEYS = ("target", "model", "variant", "runtime", "delegate", "threads")
RANK_COLUMNS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "peak_rss_mb",
    "model_memory_mb",
    "model_size_kb",
    "energy_per_inference_mj",
    "battery_life_hours",
    "instructions_per_inference",  # issue 15: instruction mode
)


@dataclass(frozen=True)
class Measure:
    warmup_runs: int = 10
    warmup_seconds: float = 0.05
    min_runs: int = 50
    min_seconds: float = 0.1
    max_seconds: float = 10.0
    max_runs: int = 100_000
    repetitions: int = 12
    """Fresh worker processes per cell. 12 × 0.1 s, from benchmarks/gate_false_positives.py:
    no false alarm in 400 A/A pairs; 98% of 10% slowdowns caught in the cells judged."""
    timeout_s: float = 120.0
    # issue 15 (benchy/profiling/): "time" or "instructions" (callgrind counts the timed
    # invokes: exactly `instruction_runs` of them after `warmup_runs`, no time limits: the
    # counts are deterministic and Valgrind is ~50-1000× slower); and a per-op profiling pass
    # after each cell's timed loop.
    mode: str = "time"
    instruction_runs: int = 10
    profile_ops: bool = False

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SAMPLE_SIZE = ("repetitions",)
"""[measure] keys that set how many values are taken, not how one is measured: two runs that
differ only in them measure the same thing (a baseline may have more repetitions)."""

QUICK: dict[str, Any] = {
    "warmup_runs": 3,
    "warmup_seconds": 0.02,
    "min_runs": 20,
    "min_seconds": 0.1,
    "max_seconds": 2.0,
    "repetitions": 5,
}
"""`--quick` defaults; a suite's [measure.quick] overrides them. Five repetitions is the fewest
for which a 99% confidence interval of a shift exists (Mann–Whitney: 1/C(10,5) < 0.5%)."""

MEASURE_MODES = ("time", "instructions")
GATE_METRICS = ("p50", "p90", "p99", "peak_memory", "model_memory", "accuracy", "energy",
                "instructions")  # fmt: skip
"""What a baseline comparison can judge; [gate].metrics picks from these."""


AB_P50_PCT = 2.0
"""`benchy ab`'s default δ p50, in %. Its rounds timed in one process resolve it: on the pool
study a 5% slowdown caught in 99% of cells, A/A exit 4 in 2% (README, The regression gate)."""


@dataclass(frozen=True)
class Gate:
    """How a run is judged against a baseline (and how sure a budget verdict must be)."""

    # p99 is opt-in: between two runs on a shared machine it measures the machine's load (one
    # cell's p99 doubled between two runs of the same code here; README, Performance).
    metrics: tuple[str, ...] = ("p50", "peak_memory", "accuracy", "energy", "instructions")
    confidence: float = 0.99
    # How sure `unchanged` must be: the shift's one-sided upper bound at this level within δ
    # (an equivalence test, TOST's usual 95%); `regressed` still needs `confidence` and Holm.
    equivalence: float = 0.95
    p50_pct: float = 5.0
    p90_pct: float = 10.0
    p99_pct: float = 10.0
    memory_pct: float = 2.0
    memory_mb: float = 1.0
    accuracy_points: float = 0.1
    error_pct: float = 1.0
    energy_pct: float = 5.0
    instructions_pct: float = 0.5  # issue 15: instructions per inference (judge/instructions.py)
    unstable_cv_pct: float = 5.0  # robust (scaled MAD) scatter beyond δ p50 (README, Baselines)
    drift_correction: bool = True
    drift_min_cells: int = 6
    inconclusive: str = "flag"  # "flag": exit 4; "pass": exit 0
    max_repetitions: int = 24  # adaptive repetitions for close calls (benchy/adaptive.py)
    extra_time_pct: float = 25.0  # ... taking at most this % of the planned rounds' time
    given: tuple[str, ...] = ()  # the keys the suite's [gate] set; the rest are defaults

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_ab(self) -> Gate:
        """The gate of `benchy ab`: δ p50 AB_P50_PCT unless the suite sets `p50_pct`. Each
        round's two models are timed in one process there, which resolves shifts well below the
        5% that two separate runs can (README, The regression gate)."""
        if "p50_pct" in self.given:
            return self
        return dataclasses.replace(self, p50_pct=AB_P50_PCT)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Gate:
        """From run.json's "gate" (keys this version does not know are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("metrics", "given"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass(frozen=True)
class Model:
    name: str
    variants: dict[str, Path]
    reference: str | None
    dataset: Path | None
    metric: str
    top_k: int
    input: InputSpec
    budgets: dict[str, float]
    target_budgets: dict[str, dict[str, float]]
    dataset_limit: int | None = None
    # derive (issue 13): variants made from `variants` by a quantizer (benchy/derive/). After
    # derive_variants() they are in `variants` too; those whose recipe failed are in
    # `derive_errors` (variant → the quantizer's reason) and become error rows.
    derive: tuple[DeriveSpec, ...] = ()
    calibration: CalibrationSpec | None = None
    derive_errors: dict[str, str] = field(default_factory=dict)
    # inputs (issue 11): named inputs, dims, output, feedback, signature (benchy/inputs/)
    inputs: InputsConfig = field(default_factory=lambda: InputsConfig(Place("", "")))


@dataclass(frozen=True)
class Filter:
    values: dict[str, tuple[str, ...]]

    def matches(self, cell: dict[str, str]) -> bool:
        return all(cell[key] in allowed for key, allowed in self.values.items())


@dataclass(frozen=True)
class Matrix:
    runtimes: tuple[str, ...]
    delegates: dict[str, tuple[Delegate, ...]]
    threads: tuple[int, ...]
    include: tuple[Filter, ...]
    exclude: tuple[Filter, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    targets: tuple[str, ...]
    models: dict[str, Model]
    matrix: Matrix
    measure: Measure
    quick: Measure
    budgets: dict[str, float]
    target_budgets: dict[str, dict[str, float]]
    rank_by: str
    gate: Gate = Gate()
    energy: EnergySettings | None = None
    tflm_arena: bool = False
    """Report tflm_arena_bytes (host TFLM) for int8 TFLite cells on every target."""

    def budgets_for(
        self, model: str, target: str, target_file: dict[str, float]
    ) -> dict[str, float]:
        """Most specific wins: suite < target file < suite per-target < model < model per-target."""
        m = self.models[model]
        merged: dict[str, float] = {}
        for layer in (
            self.budgets,
            target_file,
            self.target_budgets.get(target, {}),
            m.budgets,
            m.target_budgets.get(target, {}),
        ):
            merged.update(layer)
        return merged


def _budgets(t: Table) -> dict[str, float]:
    t.only(*BUDGET_KEYS)
    return {key: t.number(key, minimum=0) for key in BUDGET_KEYS if key in t}


def _per_target_budgets(t: Table, key: str) -> dict[str, dict[str, float]]:
    return {name: _budgets(sub) for name, sub in t.tables(key).items()}


def _measure(t: Table, base: Measure) -> Measure:
    t.only(*(f.name for f in dataclasses.fields(Measure)), "quick")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Measure):
        if f.name == "mode" and f.name in t:  # issue 15
            values["mode"] = t.string("mode", choices=MEASURE_MODES)
        elif f.name == "profile_ops" and f.name in t:
            values["profile_ops"] = t.boolean("profile_ops")
        elif f.name in t:
            integer = f.type == "int"
            minimum = (
                1 if f.name in ("min_runs", "max_runs", "repetitions", "instruction_runs") else 0
            )
            above = f.name in ("max_seconds", "timeout_s")
            values[f.name] = t.number(f.name, minimum=minimum, integer=integer, above=above)
    measure = dataclasses.replace(base, **values)
    if measure.max_seconds < measure.min_seconds:
        raise t.error("max_seconds", f"must be ≥ min_seconds ({measure.min_seconds:g})")
    if measure.max_runs < measure.min_runs:
        raise t.error("max_runs", f"must be ≥ min_runs ({measure.min_runs})")
    return measure


def _gate(t: Table) -> Gate:
    numbers = [f.name for f in dataclasses.fields(Gate) if f.type == "float"]
    t.only("metrics", "inconclusive", "drift_correction", "drift_min_cells", "max_repetitions",
           *numbers)  # fmt: skip
    values: dict[str, Any] = {k: t.number(k, minimum=0) for k in numbers if k in t}
    if "drift_correction" in t:
        values["drift_correction"] = t.boolean("drift_correction")
    if "drift_min_cells" in t:
        values["drift_min_cells"] = t.number("drift_min_cells", integer=True, minimum=3)
    if "max_repetitions" in t:
        values["max_repetitions"] = t.number("max_repetitions", integer=True, minimum=1)
    if "confidence" in values and not 0.5 <= values["confidence"] < 1:
        raise t.error("confidence", f"expected a number in [0.5, 1), got {values['confidence']:g}")
    most = values.get("confidence", Gate.confidence)
    if "equivalence" in values and not 0.5 <= values["equivalence"] <= most:
        got = f"expected a number in [0.5, confidence {most:g}], got {values['equivalence']:g}"
        raise t.error("equivalence", got)
    if "metrics" in t:
        values["metrics"] = t.str_list("metrics", choices=GATE_METRICS)
    values["inconclusive"] = t.string("inconclusive", "flag", choices=("flag", "pass"))
    return Gate(**values, given=tuple(t.keys()))


def _check_dataset(t: Table, path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise t.error(
            "dataset", f"{path.name} is not an .npz archive (expected an array per input and y)"
        )
    problem = dataset_problem(path)
    if problem is not None:
        raise t.error("dataset", problem)


def _model(name: str, t: Table, root: Path) -> Model:
    t.only(
        "variants",
        "reference",
        "dataset",
        "dataset_limit",
        "metric",
        "top_k",
        "input",
        "budgets",
        "target_budgets",
        "derive",  # derive (issue 13)
        "calibration",
        *INPUT_KEYS,  # inputs (issue 11)
    )
    vt = t.table("variants", required=True)
    if not vt.data:
        raise t.error("variants", 'expected at least one variant, e.g. fp32 = "models/m.tflite"')
    variants = {v: vt.path_value(v, root) for v in vt.data}
    reference = t.string("reference", None, choices=tuple(variants))
    dataset = t.path_value("dataset", root, None)
    if dataset is not None:
        _check_dataset(t, dataset)
    metric = t.string("metric", "accuracy", choices=METRICS)
    derive = parse_derive(t, variants, reference)  # derive (issue 13)
    calibration = parse_calibration(t, root, dataset, derive, variants)
    model = Model(
        name=name,
        variants=variants,
        reference=reference,
        dataset=dataset,
        metric=metric,
        top_k=t.number("top_k", 5, integer=True, minimum=1),
        input=parse_legacy_input(t.table("input"), dataset is not None),
        budgets=_budgets(t.table("budgets")),
        target_budgets=_per_target_budgets(t, "target_budgets"),
        dataset_limit=t.number("dataset_limit", None, integer=True, minimum=1),
        derive=derive,
        calibration=calibration,
        inputs=parse_inputs(t, dataset is not None),
    )
    check_model(model)  # inputs (issue 11): against every variant file, before anything runs
    return model


def _filters(t: Table, key: str, models: dict[str, Model]) -> tuple[Filter, ...]:
    out = []
    for ft in t.table_list(key):
        ft.only(*FILTER_KEYS)
        values: dict[str, tuple[str, ...]] = {}
        for k in ft.data:
            raw = ft.data[k]
            items = raw if isinstance(raw, list) else [raw]
            if not items or not all(
                isinstance(i, str | int) and not isinstance(i, bool) for i in items
            ):
                raise ft.error(k, f"expected a string, an integer or a list of them, got {raw!r}")
            values[k] = tuple(str(i) for i in items)
        if "model" in values:
            for m in values["model"]:
                if m not in models:
                    raise ft.error(
                        "model", f'unknown model "{m}"; valid choices: {", ".join(sorted(models))}'
                    )
        out.append(Filter(values))
    return tuple(out)


def _matrix(t: Table, models: dict[str, Model]) -> Matrix:
    t.only("runtimes", "threads", "include", "exclude", *RUNTIMES)
    runtimes = t.str_list("runtimes", tuple(RUNTIMES), choices=tuple(RUNTIMES))
    delegates = {}
    for name in runtimes:
        sub = t.table(name)
        sub.only(*RUNTIMES[name].config_keys)
        delegates[name] = RUNTIMES[name].parse_delegates(sub)
    return Matrix(
        runtimes=runtimes,
        delegates=delegates,
        threads=t.int_list("threads", (1,), minimum=1),
        include=_filters(t, "include", models),
        exclude=_filters(t, "exclude", models),
    )


def load_suite(path: Path) -> Suite:
    return suite_from(load_toml(path, str(path)), path)


def suite_from(t: Table, path: Path) -> Suite:
    """A suite from its parsed table; `path` names it (paths in it are relative to its folder)."""
    t.only("suite", "models", "matrix", "measure", "budgets", "target_budgets", "gate", "energy")
    root = path.resolve().parent
    head = t.table("suite")
    head.only("name", "description", "targets", "rank_by", "tflm_arena")
    models = {
        name: _model(name, mt, root) for name, mt in t.tables("models", required=True).items()
    }
    measure_t = t.table("measure")
    measure = _measure(measure_t, Measure())
    quick = _measure(measure_t.table("quick"), dataclasses.replace(measure, **QUICK))
    return Suite(
        name=head.folder_name("name", path.stem),
        path=path,
        description=head.string("description", ""),
        targets=head.str_list("targets", ("local",)),
        models=models,
        matrix=_matrix(t.table("matrix"), models),
        measure=measure,
        quick=quick,
        budgets=_budgets(t.table("budgets")),
        target_budgets=_per_target_budgets(t, "target_budgets"),
        rank_by=head.string("rank_by", "latency_p50_ms", choices=RANK_COLUMNS),
        gate=_gate(t.table("gate")),
        energy=EnergySettings.parse(t),
        tflm_arena=head.boolean("tflm_arena", False),
    )


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str
    path: Path | None
    description: str
    budgets: dict[str, float]
    options: Any


def load_target(
    name_or_path: str, suite_path: Path | None = None, origin: tuple[str, str] = ("--target", "")
) -> TargetConfig:
    """Load a target by name (benchy/targets/lookup.py: files, then built in) or path.
    `origin` (file, key) is where the name came from, for the error."""
    from benchy.targets import TARGET_KINDS, lookup

    path: Path | None
    if lookup.is_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(origin[0], origin[1], f"target file {path} not found")
    else:
        path = lookup.find(name_or_path, suite_path)
        if path is None and name_or_path not in lookup.BUILTIN:
            raise ConfigError(origin[0], origin[1], lookup.not_found(name_or_path, suite_path))
    t = load_toml(path, str(path)) if path is not None else lookup.builtin(name_or_path)
    kind = t.string("kind", choices=tuple(TARGET_KINDS))
    cls = TARGET_KINDS[kind]
    t.only("kind", "name", "description", "budgets", *cls.option_keys)
    return TargetConfig(
        name=t.string("name", path.stem if path is not None else name_or_path),
        kind=kind,
        path=path,
        description=t.string("description", ""),
        budgets=_budgets(t.table("budgets")),
        options=cls.parse_options(t),
    )
