"""The contract between benchy (the host) and its worker: JSON lines, one request per line on the
worker's stdin, one reply per line on its stdout. Both sides import this module; stdlib only,
Python >= 3.9 (it runs on boards).

    {"op": "ping"}                    -> PingReply     (the host checks PROTOCOL_VERSION here)
    {"op": "facts"}                   -> FactsReply
    {"op": "cell", "cell": CellRequest} -> CellReply   (result: CellResult)
    {"op": "power", "power": PowerSpec} -> PowerReply  (can this source be read here?)
    {"op": "quit"}                    -> (the worker exits)

Any request the worker cannot take gets ErrorReply: {"ok": false, "error": "..."}. The worker
refuses unknown keys rather than ignoring them, so a host and a worker that disagree say so.
"""

from __future__ import annotations

from typing import Any, TypedDict

PROTOCOL_VERSION = 2
OPS = ("ping", "facts", "cell", "power", "quit")
REQUEST_KEYS = {
    "ping": ("op",),
    "facts": ("op",),
    "cell": ("op", "cell"),
    "power": ("op", "power"),
    "quit": ("op",),
}
"""The keys each op's request may have."""


# ---------------------------------------------------------------- requests


class DelegateSpec(TypedDict, total=False):
    name: str  # tflite: xnnpack | none | reference | external; onnxruntime: a provider name
    library: str  # external delegates: the shared library
    options: dict[str, Any]
    graph_optimization_level: str  # onnxruntime: disable | basic | extended | all


class FeedSpec(TypedDict, total=False):
    """How one input is fed (the host resolved it against the model file)."""

    name: str  # the model's input name (a TFLite signature's name); absent in `default`
    source: str  # "dataset" | "random" | "zeros" | "ones" | "value"
    shape: list[int]  # the shape fed (dynamic dimensions resolved); absent: the model's own
    key: str  # dataset: the array holding this input, one row per sample
    low: float  # random: uniform in [low, high) (integers: low..high, both included)
    high: float
    seed: int
    value: Any  # value: a number, bool or nested list, broadcast to `shape`


class InputsSpec(TypedDict, total=False):
    """Every input of the model, how it is fed, and what comes back."""

    feeds: list[FeedSpec]  # by input name
    default: FeedSpec  # for inputs not in `feeds` (the host could not read the model)
    path: str  # the dataset .npz on the device, when a feed takes its arrays
    limit: int  # dataset: the first N samples only
    count: int  # random: how many input sets to cycle through (default 8)
    output: str  # the output returned for the metric (default: the first)
    feedback: dict[str, str]  # output name -> the input it feeds on the next invoke
    signature: str  # TFLite: run this signature; inputs and outputs are named by it


class MeasureSpec(TypedDict):
    warmup_runs: int
    warmup_seconds: float
    min_runs: int
    min_seconds: float
    max_seconds: float
    max_runs: int
    repetitions: int
    timeout_s: float


class PowerSpec(TypedDict, total=False):
    source: str  # a device-side source (rapl, hwmon, pi5-pmic); absent for host meters
    period_s: float
    idle_s: float  # the idle window measured before the timed loop
    options: dict[str, Any]


class InstructionsSpec(TypedDict):
    """Count instructions: the worker runs under `valgrind --tool=callgrind` (issue 15)."""

    out_dir: str  # the folder of --callgrind-out-file (callgrind.%p) on the device
    toggle_functions: list[str]  # the --toggle-collect patterns valgrind was started with


class CooldownSpec(TypedDict):
    below_c: float
    max_wait_s: float


class _CellRequired(TypedDict):
    runtime: str
    model_path: str
    delegate: DelegateSpec
    threads: int
    inputs: InputsSpec
    measure: MeasureSpec
    timeout_s: float
    collect_outputs: bool


class CellRequest(_CellRequired, total=False):
    """One repetition of one cell."""

    power: PowerSpec
    pin_cpus: list[int]
    cooldown: CooldownSpec
    profile_ops: bool  # a per-op profiling pass after the timed loop (issue 15)
    instructions: InstructionsSpec
    partner: CellRequest  # `benchy ab`: time this cell and the partner in turn (worker/pair.py)
    partner_first: bool  # a pair: the partner loads and times first (alternated by round)
    shared_threads: bool  # ONNX Runtime: the process's shared thread pool (set by pair.py)


CELL_KEYS = frozenset(CellRequest.__required_keys__ | CellRequest.__optional_keys__)
CELL_REQUIRED = frozenset(CellRequest.__required_keys__)
INPUTS_KEYS = frozenset(InputsSpec.__optional_keys__)
FEED_KEYS = frozenset(FeedSpec.__optional_keys__)


# ---------------------------------------------------------------- results


class PowerResult(TypedDict):
    source: str | None  # the source's label, None when it could not be read
    error: str | None
    period_s: float
    samples: list[list[float]]  # [t_ns, watts] or [t_mid_ns, mean watts, interval_ns]


class OpRow(TypedDict, total=False):
    """One op (or kernel) of a per-op profile. Per inference: `mean_us` (timers) or
    `instructions` (callgrind), never both invented from the other."""

    op_index: int
    op_name: str
    op_type: str
    provider: str | None
    calls: float | None
    mean_us: float | None
    instructions: float | None
    source: str  # ort-profiler, callgrind-ir, litert-benchmark-tool
    share_pct: float  # the source's own share of a run, where it prints one


class InstructionsResult(TypedDict, total=False):
    total: int  # instructions (callgrind Ir) over the timed invokes
    invokes: int
    scope: str  # what was counted
    error: str | None  # why nothing was counted


class ThermalState(TypedDict):
    cooldown_s: float
    temp_before_c: float | None
    temp_after_c: float | None
    throttled_before: int | None
    throttled_after: int | None


class CellResult(TypedDict, total=False):
    """What one repetition gave. `status` is "ok", or "error" | "crashed" | "timeout" |
    "unavailable" with `error` (the reason). Anything not measured is absent or None."""

    status: str
    error: str | None
    log_tail: str
    thermal: ThermalState
    power: PowerResult
    runtime_module: str
    runtime_version: str
    delegate_applied: str
    load_ms: float
    first_inference_ms: float
    warmup_runs: int
    warmup_s: float
    samples_ns: list[int]  # per-invoke latencies
    window_s: float
    window_ns: list[int]  # [start, end] of the timed loop on the worker's clock
    idle_ns: list[int] | None  # [start, end] of the idle window, when power is measured
    outputs_s: float
    outputs: list[list[float]] | None  # one list per dataset sample, when collect_outputs
    rss_before_mb: float | None
    rss_after_load_mb: float | None
    peak_rss_mb: float | None
    peak_rss_note: str | None
    runtime_code_mb: float | None
    input_specs: list[dict[str, Any]]
    cpus: list[int] | None
    clock_ns: int  # the worker's clock when it replied (host meters align on it)
    clock_offset_ns: int  # set by the host: meter clock − worker clock
    extra: dict[str, Any]  # target-specific columns (e.g. an MCU's arena size)
    ops: list[OpRow]  # per-op profile (issue 15)
    ops_source: str  # the source of `ops`, or "unavailable: <reason>"
    profile_s: float  # seconds the profiling pass took (after the timed loop)
    instructions: InstructionsResult  # instruction mode (issue 15)
    partner_ns: list[int]  # a pair request (worker/pair.py): the partner's latencies
    paired: PairedResult  # set by the host on the candidate's result (`benchy ab`)


class PairedResult(TypedDict, total=False):
    """`benchy ab`: the round's candidate and baseline timed in turn in one process."""

    samples_ns: list[int]  # the candidate's
    partner_ns: list[int]  # the baseline's
    error: str  # why there are none


class RuntimeFacts(TypedDict, total=False):
    available: bool
    module: str
    version: str
    providers: list[str]
    reason: str


class Facts(TypedDict, total=False):
    hostname: str
    os: str
    kernel: str
    machine: str
    python: str
    numpy: str | None
    cores: int | None
    board: str | None
    cpu_model: str | None
    ram_mb: int | None
    cpu_max_mhz: int | None
    governor: str | None
    worker_protocol: int
    runtimes: dict[str, RuntimeFacts]
    temp_c: float | None
    throttled: int | None
    thermal_zones: list[str]
    valgrind: str | None  # "valgrind-3.19.0" when callgrind can run here (issue 15)


# ---------------------------------------------------------------- replies


class PingReply(TypedDict):
    ok: bool
    protocol: int
    runtimes: dict[str, RuntimeFacts]


class FactsReply(TypedDict):
    ok: bool
    facts: Facts


class CellReply(TypedDict):
    ok: bool
    result: CellResult


class PowerReply(TypedDict):
    ok: bool
    source: str | None
    reason: str | None


class ErrorReply(TypedDict):
    ok: bool
    error: str


def request_problem(request: dict[str, Any]) -> str | None:
    """Why the worker must refuse this request, or None."""
    op = request.get("op")
    if op not in REQUEST_KEYS:
        return "unknown op %r (protocol %d knows: %s)" % (op, PROTOCOL_VERSION, ", ".join(OPS))
    unknown = sorted(set(request) - set(REQUEST_KEYS[op]))
    if unknown:
        return "unknown key(s) in the %s request: %s" % (op, ", ".join(unknown))
    if op == "cell":
        cell = request.get("cell")
        if not isinstance(cell, dict):
            return "the cell request is not an object"
        unknown = sorted(set(cell) - CELL_KEYS)
        missing = sorted(CELL_REQUIRED - set(cell))
        if unknown:
            return "unknown key(s) in the cell request: %s (protocol %d knows: %s)" % (
                ", ".join(unknown),
                PROTOCOL_VERSION,
                ", ".join(sorted(CELL_KEYS)),
            )
        if missing:
            return "the cell request lacks: %s" % ", ".join(missing)
        return _inputs_problem(cell["inputs"])
    return None


def _unknown(what: str, given: Any, known: frozenset[str]) -> str | None:
    if not isinstance(given, dict):
        return "%s is not an object" % what
    unknown = sorted(set(given) - known)
    if unknown:
        return "unknown key(s) in %s: %s (protocol %d knows: %s)" % (
            what,
            ", ".join(unknown),
            PROTOCOL_VERSION,
            ", ".join(sorted(known)),
        )
    return None


def _inputs_problem(inputs: Any) -> str | None:
    problem = _unknown("the cell's inputs", inputs, INPUTS_KEYS)
    if problem is not None:
        return problem
    feeds = list(inputs.get("feeds") or [])
    if "default" in inputs:
        feeds.append(inputs["default"])
    for feed in feeds:
        problem = _unknown("an input's feed", feed, FEED_KEYS)
        if problem is not None:
            return problem
    return None


def version_problem(reply: dict[str, Any], where: str) -> str | None:
    """Why the host cannot talk to a worker that answered `ping` so, or None."""
    version = reply.get("protocol")
    if version == PROTOCOL_VERSION:
        return None
    if not isinstance(version, int):
        return "%s: the worker did not say its protocol version (%r)" % (where, version)
    if version < PROTOCOL_VERSION:
        advice = "run `benchy clean` on that target, then run again: benchy pushes its own worker"
        side = "an older"
    else:
        advice = "upgrade this benchy to the version that set up the device"
        side = "a newer"
    return "%s runs %s benchy worker (protocol %d; this benchy speaks %d): %s" % (
        where,
        side,
        version,
        PROTOCOL_VERSION,
        advice,
    )
