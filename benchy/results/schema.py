"""The result files' schema: a cell's identity (`CellKey`), every column of `cells.parquet` with
its type and meaning, and the long tables beside it. The store writes by it, the judges and the
reports read by these names, and the README's column list is tested against it.

Pure data: no pandas here, so every layer (matrix, worker side excepted) can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

SCHEMA_VERSION = 1
IDENTITY = ("target", "model", "variant", "runtime", "delegate", "threads")


class Row(Protocol):
    def __getitem__(self, column: str, /) -> Any: ...


@dataclass(frozen=True, order=True)
class CellKey:
    """One cell's identity. `threads` is an int everywhere (0 for a pair that cannot apply)."""

    target: str
    model: str
    variant: str
    runtime: str
    delegate: str
    threads: int

    @classmethod
    def of(cls, row: Row) -> CellKey:
        """From a cells row: a dict, a pandas row, anything indexed by the identity columns."""
        return cls(
            str(row["target"]),
            str(row["model"]),
            str(row["variant"]),
            str(row["runtime"]),
            str(row["delegate"]),
            int(row["threads"]),
        )

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> CellKey:
        """From the identity columns' values in IDENTITY order (e.g. a groupby key)."""
        return cls.of(dict(zip(IDENTITY, values, strict=True)))

    def setup(self) -> str:
        """How it ran: `tflite/xnnpack ×2`."""
        return f"{self.runtime}/{self.delegate} ×{self.threads}"

    def title(self, target: bool = True) -> str:
        """`local/cnn/fp32 tflite/xnnpack ×1` (without the target when it goes without saying)."""
        where = f"{self.target}/" if target else ""
        return f"{where}{self.model}/{self.variant} {self.setup()}"

    def columns(self) -> dict[str, str | int]:
        """The identity columns of a row."""
        return {k: getattr(self, k) for k in IDENTITY}

    def labels(self) -> dict[str, str]:
        """The identity as strings, as `[[matrix.include]]` filters compare them."""
        return {k: str(getattr(self, k)) for k in IDENTITY}


class Column(NamedTuple):
    name: str
    dtype: str  # "str" | "int" | "float" | "bool"
    doc: str


# Names the code refers to (the rest are only written and documented).
STATUS = "status"
ERROR = "error"
VERDICT = "verdict"
P50, P90, P99 = "latency_p50_ms", "latency_p90_ms", "latency_p99_ms"
PEAK_RSS = "peak_rss_mb"
MODEL_MEMORY = "model_memory_mb"
MODEL_SIZE_KB = "model_size_kb"
METRIC = "metric"
METRIC_VALUE = "metric_value"
ACCURACY = "accuracy"
ACCURACY_DROP = "accuracy_drop"
ENERGY = "energy_per_inference_mj"
ACTIVE_POWER = "active_power_mw"
BATTERY_LIFE = "battery_life_hours"
TFLM_ARENA_KB = "tflm_arena_kb"
DELEGATE_APPLIED = "delegate_applied"
FAILED_BUDGETS = "failed_budgets"
INSTRUCTIONS = "instructions_per_inference"

STATUSES = ("ok", "error", "crashed", "timeout", "unavailable", "n/a")
FAILED_STATUSES = ("error", "crashed", "timeout")
"""Statuses of a cell that should have run and did not (exit 3)."""

COLUMNS: tuple[Column, ...] = (
    Column("target", "str", "the target's name"),
    Column("model", "str", "the suite's model name"),
    Column("variant", "str", "the model variant"),
    Column("runtime", "str", "tflite, onnxruntime or tflm"),
    Column("delegate", "str", "delegate or execution provider asked for ('-' when n/a)"),
    Column("threads", "int", "threads asked for (0 when n/a)"),
    Column("model_file", "str", "the variant's file name"),
    Column(STATUS, "str", "ok, error, crashed, timeout, unavailable or n/a"),
    Column(ERROR, "str", "why the cell did not run or failed"),
    Column("emulated", "bool", "the device is an emulator"),
    Column(VERDICT, "str", "pass, fail, inconclusive, error, unavailable or n/a"),
    Column(FAILED_BUDGETS, "str", "failed (then inconclusive) budgets, '; '-separated"),
    Column("unchecked_budgets", "str", "budgets whose figure was not measured"),
    Column("tightest_budget", "str", "the budget with the least headroom"),
    Column("headroom_pct", "float", "that budget's headroom in %"),
    Column("runtime_module", "str", "the Python module that ran: ai_edge_litert, tflite_runtime…"),
    Column("runtime_version", "str", "its version"),
    Column(DELEGATE_APPLIED, "str", "the delegate that really took nodes, and how many"),
    Column(P50, "float", "median per-invoke latency, ms"),
    Column(P90, "float", "90th percentile latency, ms"),
    Column(P99, "float", "99th percentile latency, ms"),
    Column("latency_mean_ms", "float", "mean latency, ms"),
    Column("latency_std_ms", "float", "standard deviation of latency, ms"),
    Column("latency_min_ms", "float", "fastest invoke, ms"),
    Column("latency_max_ms", "float", "slowest invoke, ms"),
    Column("latency_ci_low_ms", "float", "95% distribution-free CI of the median, low, ms"),
    Column("latency_ci_high_ms", "float", "the same, high"),
    Column("throughput_ips", "float", "invokes per second of invoke time"),
    Column("n_samples", "int", "timed invokes over all repetitions"),
    Column("repetitions", "int", "worker processes the cell ran in"),
    Column("paired_rounds", "int", "`benchy ab`, the candidate: rounds whose two models were "
           "also timed in turn in one worker process (what the latency shift is judged on)"),
    Column("paired_error", "str", "why a round was not timed in one process, the first such"),
    Column("warmup_runs", "int", "untimed invokes in the first repetition"),
    Column("load_ms", "float", "model load time (median over repetitions)"),
    Column("first_inference_ms", "float", "first, cold invoke (median over repetitions)"),
    Column("rss_before_mb", "float", "the process's RSS before loading, MiB"),
    Column("rss_after_load_mb", "float", "RSS after loading, MiB"),
    Column(PEAK_RSS, "float", "peak RSS of the cell's process (max over repetitions), MiB"),
    Column("runtime_code_mb", "float", "runtime shared-library pages faulted back in, MiB"),
    Column(MODEL_MEMORY, "float", "peak RSS growth for the model, less runtime code, MiB"),
    Column("model_size_bytes", "int", "model file size"),
    Column(MODEL_SIZE_KB, "float", "model file size, KiB"),
    Column("model_sha256", "str", "model file sha256"),
    Column("window_s", "float", "seconds of timed loops"),
    Column("warmup_s", "float", "seconds of warmup"),
    Column("overhead_s", "float", "cell wall time beyond the work asked for: fork, load, transfer"),
    Column("cpus", "str", "CPUs the measurement process could run on"),
    Column("soc_temp_before_c", "float", "hottest thermal zone before the cell, °C"),
    Column("soc_temp_after_c", "float", "hottest thermal zone after it (max), °C"),
    Column("cooldown_s", "float", "seconds waited for the SoC to cool down first"),
    Column("throttled", "bool", "the SoC was throttled (Raspberry Pi vcgencmd bits)"),
    Column("power_source", "str", "the power source read, or 'unavailable: <reason>'"),
    Column("power_samples", "int", "power samples in the idle and timed windows"),
    Column("power_rate_hz", "float", "power samples per second in the timed window"),
    Column("idle_power_mw", "float", "mean power with the model loaded and idle, mW"),
    Column(ACTIVE_POWER, "float", "mean power during the timed loop, mW"),
    Column("active_power_ci_low_mw", "float", "95% CI of active power, low (one repetition)"),
    Column("active_power_ci_high_mw", "float", "the same, high"),
    Column(ENERGY, "float", "(active − idle) power × window / invokes, mJ"),
    Column(BATTERY_LIFE, "float", "hours on one charge at the suite's [energy] duty cycle"),
    Column("duty_cycle", "float", "fraction of time spent inferring at that duty cycle"),
    Column("average_power_mw", "float", "mean power at that duty cycle, mW"),
    Column("tflm_arena_bytes", "int", "TFLite Micro tensor arena for the model (host TFLM)"),
    Column(TFLM_ARENA_KB, "float", "the same, KiB"),
    Column("tflm_arena_note", "str", "why the arena size is unknown"),
    Column("memory_source", "str", "where the MCU memory figures come from"),
    Column("memory_note", "str", "why an MCU memory figure is unknown"),
    Column("flash_bytes", "int", "serial targets: model bytes in flash"),
    Column("dut_window_mean_ms", "float", "serial targets: mean latency of one N-invoke window"),
    Column("dut_window_runs", "int", "serial targets: invokes in that window"),
    Column("upload_bytes_per_s", "float", "serial targets: input upload speed"),
    Column("link_retries", "int", "serial targets: chunk retries on the link"),
    Column("dut_resets", "int", "serial targets: DUT resets seen"),
    Column("link_reconnects", "int", "serial targets: port reconnects"),
    Column("place", "str", "labgrid targets: the farm place (board slot) that ran the cell"),
    Column("board", "str", "labgrid targets: the board's name in that place"),
    Column("power_cycled", "bool", "labgrid targets: the board was power-cycled before the run"),
    Column(METRIC, "str", "accuracy, top_k, mae or rmse"),
    Column(METRIC_VALUE, "float", "the metric over the dataset"),
    Column(ACCURACY, "float", "the metric when it is a classification one, %"),
    Column(ACCURACY_DROP, "float", "points lost against the reference variant"),
    Column("agreement", "float", "% of samples whose top-1 equals the reference's"),
    Column("max_abs_error", "float", "largest |output − reference output|"),
    # issue 15: instruction mode and per-op profiles (benchy/profiling/)
    Column("measure_mode", "str", "time, or instructions (callgrind counted the timed invokes)"),
    Column(INSTRUCTIONS, "float", "instructions (callgrind Ir) per timed invoke, median over "
           "repetitions"),
    Column("instructions_min", "float", "the same, the lowest repetition"),
    Column("instructions_max", "float", "the same, the highest repetition"),
    Column("instructions_scope", "str", "what was counted (the runtime's invoke function, or "
           "each invoke() call), or why nothing was"),
    Column("ops_source", "str", "where the per-op rows in ops.parquet come from, or "
           "'unavailable: <reason>'"),
    Column("profile_s", "float", "seconds of the per-op profiling pass (after the timed loop)"),
)
"""Every column of cells.parquet / cells.csv, in file order. Each exists in every run, null where
it was not measured; a target may add columns of its own after these."""

COLUMN_TYPES = {c.name: c.dtype for c in COLUMNS}

SAMPLES_COLUMNS = (*IDENTITY, "repetition", "index", "latency_ns", "latency_ms")
POWER_COLUMNS = (*IDENTITY, "repetition", "t_s", "watts", "phase", "interval_s")
OPS_COLUMNS = (*IDENTITY, "op_index", "op_name", "op_type", "provider", "calls", "mean_us",
               "instructions", "share_pct", "source")  # fmt: skip
"""ops.parquet (issue 15): one row per op (or kernel) of a cell's per-op profile, per
inference: `mean_us` from timers or `instructions` from callgrind (the other is null)."""
REPETITION_FIGURES = (PEAK_RSS, MODEL_MEMORY, ENERGY)
"""What each repetition (worker process) measured besides latency, one row per repetition in
repetitions.parquet: a baseline comparison judges memory and energy on these, as it judges
latency on per-repetition percentiles. Null where the repetition did not measure it."""
PAIRED_FIGURES = (
    "paired_n", "paired_base_p50", "paired_base_p90", "paired_base_p99",
    "paired_p50", "paired_p90", "paired_p99",
)  # fmt: skip
"""`benchy ab`, in the candidate's repetitions.parquet: round r's two models timed in turn in
one worker process (worker/pair.py): the baseline's and the candidate's percentiles (ms) and
samples per model (the fewer). Null where the round was not timed so."""
REPETITIONS_COLUMNS = (*IDENTITY, "repetition", *REPETITION_FIGURES, *PAIRED_FIGURES)


def columns_markdown() -> str:
    """The README's table of cells columns (tests/test_schema.py keeps the two the same)."""
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in COLUMNS]
    return "\n".join(lines)
