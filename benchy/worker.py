"""benchy's on-device worker: one file, stdlib + numpy + the runtime, nothing else.

It is run by the local target as a subprocess and pushed to boards by content hash, so it must
work on Python >= 3.9 with numpy 1.x or 2.x and never import benchy, pandas or rich.

Protocol: JSON lines. One request per line on stdin, one reply per line on stdout. stdout carries
nothing else (cells run in forked children whose fds 1 and 2 go to a log file); logs go to stderr.

    {"op": "facts"}                      -> {"ok": true, "facts": {...}}
    {"op": "cell", "cell": {...}}        -> {"ok": true, "result": {...}}
    {"op": "power", "power": {...}}      -> {"ok": true, "source": ..., "reason": null | "..."}
    {"op": "quit"}                       -> (exits)

`serve` preloads numpy and the runtimes once, then forks a fresh child per cell: each cell gets a
clean process (isolation, its own peak RSS) for a few milliseconds instead of an interpreter start.
"""

from __future__ import annotations

import json
import os
import platform
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback

PROTOCOL_VERSION = 1
LOG_TAIL_BYTES = 4000

np = None  # numpy, imported in main() so `facts` can report its absence as data


# ---------------------------------------------------------------- runtimes (device side)


def _import_tflite():
    """Return (module, interpreter module name, version) for the TFLite runtime present."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        return mod, "ai_edge_litert", getattr(ai_edge_litert, "__version__", "unknown")
    except ImportError:
        pass
    import tflite_runtime
    from tflite_runtime import interpreter as mod  # the one a Pi usually has

    return mod, "tflite_runtime", getattr(tflite_runtime, "__version__", "unknown")


def _import_onnxruntime():
    import onnxruntime

    return onnxruntime


def runtime_availability():
    """What the device can run: {name: {"available": bool, "version"..., "reason"...}}."""
    out = {}
    try:
        _, module, version = _import_tflite()
        out["tflite"] = {"available": True, "module": module, "version": version}
    except Exception as exc:  # any import failure is a fact to report, not a crash
        out["tflite"] = {
            "available": False,
            "reason": "neither ai_edge_litert nor tflite_runtime imports: %s" % exc,
        }
    try:
        ort = _import_onnxruntime()
        out["onnxruntime"] = {
            "available": True,
            "module": "onnxruntime",
            "version": ort.__version__,
            "providers": list(ort.get_available_providers()),
        }
    except Exception as exc:
        out["onnxruntime"] = {"available": False, "reason": "onnxruntime does not import: %s" % exc}
    return out


class Unavailable(Exception):
    """The cell cannot run here (missing runtime, provider, delegate); the model is not at fault."""


def _quant_params(detail):
    q = detail.get("quantization_parameters") or {}
    scales = q.get("scales")
    zeros = q.get("zero_points")
    if scales is not None and len(scales) == 1:
        return float(scales[0]), int(zeros[0])
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)


class TFLiteRunner:
    name = "tflite"

    def __init__(self, cell):
        try:
            mod, module, version = _import_tflite()
        except ImportError as exc:
            raise Unavailable("no TFLite runtime: %s" % exc) from None
        self.module, self.version = module, version
        delegate = cell["delegate"]
        kind = delegate["name"]
        kwargs = {"model_path": cell["model_path"], "num_threads": int(cell["threads"])}
        resolver = getattr(mod, "OpResolverType", None)
        if kind in ("none", "reference", "external") and resolver is None:
            raise Unavailable("this %s %s cannot disable default delegates" % (module, version))
        if kind == "none":
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        elif kind == "reference":
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF
        elif kind == "external":
            try:
                loaded = mod.load_delegate(delegate["library"], delegate.get("options") or {})
            except (ValueError, OSError) as exc:
                raise Unavailable(
                    "delegate %s does not load: %s" % (delegate["library"], exc)
                ) from None
            kwargs["experimental_delegates"] = [loaded]
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interp = mod.Interpreter(**kwargs)
        self.interp.allocate_tensors()
        self.inputs = self.interp.get_input_details()
        self.outputs = self.interp.get_output_details()
        self.requested = kind

    def applied(self):
        """Which delegate really took nodes: delegate kernels appear as DELEGATE nodes."""
        inner = getattr(self.interp, "_interpreter", None)
        try:
            names = [inner.NodeName(i) for i in range(inner.NumNodes())]
        except Exception:
            return "unknown"
        partitions = sum(1 for n in names if n == "DELEGATE")
        if not partitions:
            # XNNPACK (or an external delegate) was asked for but took no node.
            return "reference" if self.requested == "reference" else "none"
        label = "xnnpack" if self.requested == "xnnpack" else "external"
        return "%s (%d partition%s over %d ops)" % (
            label,
            partitions,
            "" if partitions == 1 else "s",
            len(names) - partitions,
        )

    def input_specs(self):
        return [
            {
                "name": d["name"],
                "shape": [int(s) for s in d["shape"]],
                "dtype": np.dtype(d["dtype"]).name,
            }
            for d in self.inputs
        ]

    def set_inputs(self, arrays):
        # Fused LSTM ops keep state in variable tensors across invokes: each input is a fresh
        # window, so reset them here, outside the timed region.
        self.interp.reset_all_variables()
        for detail, arr in zip(self.inputs, arrays):
            self.interp.set_tensor(detail["index"], arr)

    def prepare_input(self, index, x):
        """Cast (and quantize, for integer tensors) a float array to what input `index` takes."""
        return _to_tensor(x, self.inputs[index])

    def invoke(self):
        self.interp.invoke()

    def first_output(self):
        detail = self.outputs[0]
        raw = self.interp.get_tensor(detail["index"])
        return _from_tensor(raw, detail)


def _to_tensor(x, detail):
    dtype = np.dtype(detail["dtype"])
    x = np.asarray(x).reshape(detail["shape"])
    if dtype.kind in "iu":
        scale, zero = _quant_params(detail)
        if scale:
            x = np.round(x.astype(np.float64) / scale) + zero
        info = np.iinfo(dtype)
        x = np.clip(x, info.min, info.max)
    return np.ascontiguousarray(x.astype(dtype))


def _from_tensor(raw, detail):
    if np.dtype(detail["dtype"]).kind in "iu":
        scale, zero = _quant_params(detail)
        if scale:
            return (raw.astype(np.float64) - zero) * scale
    return raw.astype(np.float64)


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


class OnnxRunner:
    name = "onnxruntime"
    module = "onnxruntime"

    def __init__(self, cell):
        try:
            ort = _import_onnxruntime()
        except ImportError as exc:
            raise Unavailable("onnxruntime is not installed: %s" % exc) from None
        self.version = ort.__version__
        provider = cell["delegate"]
        name = provider["name"]
        if name not in ort.get_available_providers():
            raise Unavailable(
                "execution provider %s is not in this onnxruntime build (has: %s)"
                % (name, ", ".join(ort.get_available_providers()))
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(cell["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = provider.get("graph_optimization_level", "all")
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        providers = [(name, provider.get("options") or {})]
        self.session = ort.InferenceSession(cell["model_path"], opts, providers=providers)
        self.ort = ort
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()
        self.binding = self.session.io_binding()
        self._out_value = None
        out = self.outputs[0]
        if all(isinstance(s, int) for s in out.shape) and out.type in _ORT_TYPES:
            # Preallocated output: the timed run writes into it instead of allocating.
            self._out_value = ort.OrtValue.ortvalue_from_shape_and_type(
                out.shape, np.dtype(_ORT_TYPES[out.type])
            )
            self.binding.bind_ortvalue_output(out.name, self._out_value)
        for extra in self.outputs[0 if self._out_value is None else 1 :]:
            self.binding.bind_output(extra.name)

    def applied(self):
        return "+".join(
            p.replace("ExecutionProvider", "").lower() for p in self.session.get_providers()
        )

    def input_specs(self):
        specs = []
        for i in self.inputs:
            shape = [s if isinstance(s, int) else 1 for s in i.shape]
            specs.append({"name": i.name, "shape": shape, "dtype": _ORT_TYPES.get(i.type, i.type)})
        return specs

    def prepare_input(self, index, x):
        spec = self.input_specs()[index]
        return np.ascontiguousarray(np.asarray(x).reshape(spec["shape"]).astype(spec["dtype"]))

    def set_inputs(self, arrays):
        for meta, arr in zip(self.inputs, arrays):
            self.binding.bind_cpu_input(meta.name, arr)

    def invoke(self):
        self.session.run_with_iobinding(self.binding)

    def first_output(self):
        if self._out_value is not None:
            return np.asarray(self._out_value.numpy(), dtype=np.float64)
        return np.asarray(self.binding.copy_outputs_to_cpu()[0], dtype=np.float64)


RUNNERS = {"tflite": TFLiteRunner, "onnxruntime": OnnxRunner}


# ---------------------------------------------------------------- measurement


def _proc_status_kb(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _mb(kb):
    return None if kb is None else kb / 1024.0


def _shared_object_rss_kb():
    """Resident KiB of mapped shared libraries (.so). After fork the child faults the runtime's
    code back in as it runs; that is not the model's memory, so it is subtracted."""
    total, counting = 0, False
    try:
        with open("/proc/self/smaps") as fh:
            for line in fh:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):  # a mapping header line
                    path = line.split()[-1] if len(line.split()) >= 6 else ""
                    counting = ".so" in path.rsplit("/", 1)[-1]
                elif counting and first == "Rss:":
                    total += int(line.split()[1])
    except OSError:
        return None
    return total


def _reset_peak_rss():
    """Make VmHWM start from now: a forked child inherits its parent's high-water mark."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _input_sets(runner, spec):
    """Inputs for the timed loop and for accuracy, already in the tensors' dtypes."""
    inputs = runner.input_specs()
    if spec["kind"] == "dataset":
        data = np.load(spec["path"], allow_pickle=False)
        x = data[spec.get("key", "x")]
        limit = spec.get("limit")
        if limit:
            x = x[: int(limit)]
        return [[runner.prepare_input(0, xi)] for xi in x]
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    low, high = float(spec.get("low", 0.0)), float(spec.get("high", 1.0))
    sets = []
    for _ in range(int(spec.get("count", 8))):
        arrays = []
        for i, meta in enumerate(inputs):
            shape = spec.get("shape") or meta["shape"]
            arrays.append(runner.prepare_input(i, rng.uniform(low, high, size=shape)))
        sets.append(arrays)
    return sets


def _injected_fault(cell):
    """Test hook: BENCHY_INJECT_FAULT="segfault:PATTERN" or "hang:PATTERN" hits cells whose
    model path contains PATTERN, so tests can crash or hang a real worker child on purpose."""
    spec = os.environ.get("BENCHY_INJECT_FAULT", "")
    kind, _, pattern = spec.partition(":")
    if not pattern or pattern not in cell["model_path"]:
        return
    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "hang":
        while True:
            time.sleep(1)


def measure(cell):
    """Run one cell in this process and return its record (errors raise)."""
    _injected_fault(cell)
    reset_ok = _reset_peak_rss()
    rss_before = _proc_status_kb("VmRSS")
    code_before = _shared_object_rss_kb()
    t0 = time.perf_counter_ns()
    runner = RUNNERS[cell["runtime"]](cell)
    load_ns = time.perf_counter_ns() - t0
    rss_after_load = _proc_status_kb("VmRSS")
    sets = _input_sets(runner, cell["inputs"])

    runner.set_inputs(sets[0])
    t0 = time.perf_counter_ns()
    runner.invoke()
    first_ns = time.perf_counter_ns() - t0

    m = cell["measure"]
    clock = time.perf_counter_ns
    # Warmup: count and time, both honoured.
    warm_start = clock()
    warm_n, warm_until = 0, warm_start + int(float(m["warmup_seconds"]) * 1e9)
    while warm_n < int(m["warmup_runs"]) or clock() < warm_until:
        runner.set_inputs(sets[warm_n % len(sets)])
        runner.invoke()
        warm_n += 1

    idle_ns = None
    power = cell.get("power")
    if power:
        # Idle power: the model loaded and warm, nothing running, while the server samples.
        a = clock()
        time.sleep(float(power.get("idle_s", 0.5)))
        idle_ns = [a, clock()]

    min_runs, max_runs = int(m["min_runs"]), int(m["max_runs"])
    start = clock()
    warmup_ns = (idle_ns[0] if idle_ns else start) - warm_start
    min_end = start + int(float(m["min_seconds"]) * 1e9)
    max_end = start + int(float(m["max_seconds"]) * 1e9)
    samples = []
    append, invoke, set_inputs, n_sets = samples.append, runner.invoke, runner.set_inputs, len(sets)
    i = 0
    while True:
        set_inputs(sets[i % n_sets])  # outside the timed region
        a = clock()
        invoke()
        b = clock()
        append(b - a)
        i += 1
        if i >= max_runs or b >= max_end or (i >= min_runs and b >= min_end):
            break
    window_ns = clock() - start

    outputs = None
    outputs_start = clock()
    if cell.get("collect_outputs"):
        outputs = []
        for arrays in sets:
            runner.set_inputs(arrays)
            runner.invoke()
            outputs.append([float(v) for v in runner.first_output().ravel()])

    code_after = _shared_object_rss_kb()
    code_growth = None if code_before is None or code_after is None else code_after - code_before
    return {
        "status": "ok",
        "runtime_code_mb": _mb(code_growth),
        "runtime_module": runner.module,
        "runtime_version": runner.version,
        "delegate_applied": runner.applied(),
        "load_ms": load_ns / 1e6,
        "first_inference_ms": first_ns / 1e6,
        "warmup_runs": warm_n,
        "samples_ns": samples,
        "window_s": window_ns / 1e9,
        "window_ns": [start, start + window_ns],
        "idle_ns": idle_ns,
        "warmup_s": warmup_ns / 1e9,
        "outputs_s": (clock() - outputs_start) / 1e9,
        "rss_before_mb": _mb(rss_before),
        "rss_after_load_mb": _mb(rss_after_load),
        "peak_rss_mb": _mb(_proc_status_kb("VmHWM")) if reset_ok else None,
        "peak_rss_note": None if reset_ok else "cannot reset VmHWM (/proc/self/clear_refs)",
        "input_specs": runner.input_specs(),
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "clock_ns": clock(),  # lets a host-side power meter map this clock onto its own
        "outputs": outputs,
    }


# ---------------------------------------------------------------- facts


def _read(path, default=None):
    try:
        with open(path) as fh:
            return fh.read().strip().strip("\x00")
    except OSError:
        return default


def facts():
    info = {
        "hostname": platform.node(),
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": getattr(np, "__version__", None),
        "cores": os.cpu_count(),
        "board": _read("/proc/device-tree/model"),
        "cpu_model": None,
        "ram_mb": None,
        "cpu_max_mhz": None,
        "governor": _read(sysfs("devices/system/cpu/cpu0/cpufreq/scaling_governor")),
        "worker_protocol": PROTOCOL_VERSION,
    }
    cpuinfo = _read("/proc/cpuinfo", "")
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and not info["cpu_model"]:
            info["cpu_model"] = value.strip()
    meminfo = _read("/proc/meminfo", "")
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            info["ram_mb"] = int(line.split()[1]) // 1024
    khz = _read(sysfs("devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))
    if khz and khz.isdigit():
        info["cpu_max_mhz"] = int(khz) // 1000
    info["runtimes"] = runtime_availability()
    info.update(thermal_snapshot())
    thermal = sysfs("class", "thermal")
    zones = os.listdir(thermal) if os.path.isdir(thermal) else []
    info["thermal_zones"] = sorted(z for z in zones if z.startswith("thermal_zone"))
    return info


# ---------------------------------------------------------------- thermal state


def sysfs(*parts):
    """A path under /sys; BENCHY_SYSFS points it at a recorded tree in tests."""
    return os.path.join(os.environ.get("BENCHY_SYSFS", "/sys"), *parts)


def soc_temperature_c():
    """Hottest thermal zone in °C, or None where the kernel exposes none."""
    temps = []
    base = sysfs("class", "thermal")
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        return None
    for zone in zones:
        raw = _read(os.path.join(base, zone, "temp"))
        if raw and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000.0)
    return max(temps) if temps else None


def throttled_state():
    """`vcgencmd get_throttled` bits on a Raspberry Pi (0x0 = never throttled), else None."""
    try:
        out = subprocess.run(
            ["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    _, _, value = out.strip().partition("=")
    try:
        return int(value, 16)
    except ValueError:
        return None


def cool_down(spec):
    """Wait until the SoC is below spec["below_c"] (at most spec["max_wait_s"]); seconds waited."""
    if not spec:
        return 0.0
    start = time.monotonic()
    while time.monotonic() - start < float(spec.get("max_wait_s", 300)):
        temp = soc_temperature_c()
        if temp is None or temp < float(spec["below_c"]):
            break
        time.sleep(1.0)
    return time.monotonic() - start


def thermal_snapshot():
    return {"temp_c": soc_temperature_c(), "throttled": throttled_state()}


# ---------------------------------------------------------------- power sources (device side)
#
# Each source reads a real interface (sysfs under BENCHY_SYSFS, or vcgencmd) and yields
# (t_ns, watts) samples on perf_counter_ns's clock (CLOCK_MONOTONIC: shared with the child that
# measures). Energy counters yield (t_mid_ns, mean watts, interval_ns) per interval between reads,
# so a window's mean power can be weighted by time: energy over time, exactly.


class PowerUnavailable(Exception):
    """This source cannot run here; the message says why."""


def _read_int(path):
    with open(path) as fh:
        return int(fh.read().strip())


class RaplSource:
    """Linux powercap RAPL: energy_uj counters (µJ) that wrap at max_energy_range_uj."""

    name = "rapl"
    min_period_s = 0.005

    def __init__(self, options):
        base = sysfs("class", "powercap")
        wanted = options.get("zones")
        try:
            names = sorted(os.listdir(base))
        except OSError:
            raise PowerUnavailable(
                "no powercap interface (%s): not an Intel/AMD RAPL machine" % base
            )
        # Top-level zones (intel-rapl:0, :1 — one per package); subzones would count twice.
        zones = [n for n in names if n.startswith("intel-rapl:") and n.count(":") == 1]
        if wanted:
            zones = [z for z in zones if z in wanted]
        if not zones:
            raise PowerUnavailable("no RAPL package zones under %s" % base)
        self.paths, self.ranges, self.labels = [], [], []
        for z in zones:
            path = os.path.join(base, z, "energy_uj")
            try:
                _read_int(path)
            except PermissionError:
                raise PowerUnavailable(
                    "%s is readable by root only on this kernel (since the PLATYPUS fix, "
                    "CVE-2020-8694): run the worker as root or make energy_uj readable" % path
                )
            except (OSError, ValueError) as exc:
                raise PowerUnavailable("cannot read %s: %s" % (path, exc))
            self.paths.append(path)
            self.ranges.append(_read_int(os.path.join(base, z, "max_energy_range_uj")))
            self.labels.append(_read(os.path.join(base, z, "name")) or z)
        self.label = "rapl:" + "+".join(self.labels)
        self.last = None

    def read(self, t_ns):
        values = [_read_int(p) for p in self.paths]
        out = []
        if self.last is not None:
            t0, before = self.last
            joules = 0.0
            for old, new, top in zip(before, values, self.ranges):
                delta = new - old if new >= old else new + top - old  # the counter wrapped
                joules += delta / 1e6
            if t_ns > t0:
                out.append(((t0 + t_ns) // 2, joules / ((t_ns - t0) / 1e9), t_ns - t0))
        self.last = (t_ns, values)
        return out


class HwmonSource:
    """Linux hwmon power monitors (INA219/226/260 hats): energyN_input (µJ counter), else
    powerN_input (µW), else currN_input (mA) × inN_input (mV)."""

    name = "hwmon"
    min_period_s = 0.002

    def __init__(self, options):
        base = sysfs("class", "hwmon")
        device = options.get("device")
        channel = str(options.get("channel", 1))
        voltage = options.get("voltage", "in%s" % channel)
        try:
            dirs = sorted(os.listdir(base))
        except OSError:
            raise PowerUnavailable("no hwmon devices (%s)" % base)
        found = None
        names = []
        for d in dirs:
            name = _read(os.path.join(base, d, "name")) or ""
            names.append(name)
            if (device and (name == device or d == device)) or (
                not device and name.startswith("ina")
            ):
                found = os.path.join(base, d)
                break
        if found is None:
            what = "named %s" % device if device else "from the INA2xx family"
            raise PowerUnavailable(
                "no hwmon power monitor %s (present: %s)" % (what, ", ".join(names) or "none")
            )
        self.label = "hwmon:%s" % (_read(os.path.join(found, "name")) or os.path.basename(found))
        p = lambda f: os.path.join(found, f)  # noqa: E731
        self.mode, self.files = None, ()
        for mode, files in (
            ("energy", (p("energy%s_input" % channel),)),
            ("power", (p("power%s_input" % channel),)),
            ("curr*volt", (p("curr%s_input" % channel), p("%s_input" % voltage))),
        ):
            if all(os.path.exists(f) for f in files):
                self.mode, self.files = mode, files
                break
        if self.mode is None:
            raise PowerUnavailable(
                "%s has no energy%s_input, power%s_input or curr%s_input + %s_input"
                % (found, channel, channel, channel, voltage)
            )
        try:
            [_read_int(f) for f in self.files]
        except PermissionError as exc:
            raise PowerUnavailable("cannot read %s: permission denied" % exc.filename)
        except (OSError, ValueError) as exc:
            raise PowerUnavailable("cannot read %s: %s" % (self.files, exc))
        self.last = None

    def read(self, t_ns):
        values = [_read_int(f) for f in self.files]
        if self.mode == "power":
            return [(t_ns, values[0] / 1e6)]  # µW
        if self.mode == "curr*volt":
            return [(t_ns, values[0] / 1e3 * values[1] / 1e3)]  # mA × mV
        out = []
        if self.last is not None and t_ns > self.last[0] and values[0] >= self.last[1]:
            t0, e0 = self.last
            dt = t_ns - t0
            out.append(((t0 + t_ns) // 2, (values[0] - e0) / 1e6 / (dt / 1e9), dt))
        self.last = (t_ns, values[0])
        return out


def parse_pmic_adc(text):
    """`vcgencmd pmic_read_adc` → {rail: watts} for rails with both a current and a voltage."""
    amps, volts = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or "=" not in parts[1]:
            continue
        label, reading = parts[0], parts[1].split("=", 1)[1]
        try:
            value = float(reading[:-1])
        except ValueError:
            continue
        if value != value:  # NaN
            continue
        if label.endswith("_A") and reading.endswith("A"):
            amps[label[:-2]] = value
        elif label.endswith("_V") and reading.endswith("V"):
            volts[label[:-2]] = value
    return {rail: amps[rail] * volts[rail] for rail in amps if rail in volts}


class Pi5PmicSource:
    """Raspberry Pi 5 PMIC ADC: per-rail current × voltage, summed. The rails are after the
    PMIC's regulators, so the sum misses conversion losses and the 5 V USB/HAT loads."""

    name = "pi5-pmic"
    min_period_s = 0.1  # one vcgencmd process per sample

    def __init__(self, options):
        self.command = list(options.get("command") or ["vcgencmd", "pmic_read_adc"])
        try:
            rails = parse_pmic_adc(self._run())
        except OSError as exc:
            raise PowerUnavailable("vcgencmd not found (%s): not a Raspberry Pi" % exc)
        if not rails:
            raise PowerUnavailable("pmic_read_adc printed no rails: not a Raspberry Pi 5")
        self.label = "pi5-pmic:%d rails" % len(rails)

    def _run(self):
        return subprocess.run(self.command, capture_output=True, text=True, timeout=5).stdout

    def read(self, t_ns):
        rails = parse_pmic_adc(self._run())
        return [(t_ns, sum(rails.values()))] if rails else []


POWER_SOURCES = {s.name: s for s in (RaplSource, HwmonSource, Pi5PmicSource)}


class PowerSampler:
    """Polls one source in the fork server while the child measures."""

    def __init__(self, spec):
        self.samples, self.error = [], None
        self.period_s = float(spec.get("period_s", 0.01))
        kind = POWER_SOURCES.get(spec["source"])
        if kind is None:
            self.source, self.error = None, "no device-side source %r" % spec["source"]
            return
        self.period_s = max(self.period_s, kind.min_period_s)
        try:
            self.source = kind(spec.get("options") or {})
        except PowerUnavailable as exc:
            self.source, self.error = None, str(exc)

    def poll(self):
        if self.source is None:
            return
        try:
            self.samples.extend(self.source.read(time.perf_counter_ns()))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self.error = "reading stopped: %s" % exc
            self.source = None

    def available(self):
        """None when the source can be read here, else why not."""
        return self.error

    def result(self):
        label = self.source.label if self.source is not None else None
        return {
            "source": label,
            "error": self.error,
            "period_s": self.period_s,
            "samples": [list(s) for s in self.samples],
        }


# ---------------------------------------------------------------- fork server


def _tail(fh):
    fh.flush()
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - LOG_TAIL_BYTES))
    return fh.read().decode("utf-8", "replace")


def _child(cell, wfd, log_fd):
    """In the forked child: fds 1/2 to the log so native runtime chatter never hits the protocol."""
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    pin = cell.get("pin_cpus")
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(int(c) for c in pin))
    try:
        reply = measure(cell)
    except Unavailable as exc:
        reply = {"status": "unavailable", "error": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        reply = {"status": "error", "error": "%s: %s" % (type(exc).__name__, exc)}
    data = (json.dumps(reply) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view) :]
    os.close(wfd)


def run_isolated(cell):
    """Cool down if asked, then run the cell in a child and attach the thermal state around it."""
    waited = cool_down(cell.get("cooldown"))
    before = thermal_snapshot()
    reply = _fork_and_measure(cell)
    after = thermal_snapshot()
    reply["thermal"] = {
        "cooldown_s": waited,
        "temp_before_c": before["temp_c"],
        "temp_after_c": after["temp_c"],
        "throttled_before": before["throttled"],
        "throttled_after": after["throttled"],
    }
    return reply


def _fork_and_measure(cell):
    """Fork, measure in the child, and turn whatever happened to it into a result."""
    timeout = float(cell.get("timeout_s", 300))
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, after the fork)
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        code = 0
        try:
            _child(cell, wfd, log.fileno())
        except BaseException:
            traceback.print_exc()  # into the log, whose tail the parent reports
            code = 70
        os._exit(code)
    os.close(wfd)
    on_device = (cell.get("power") or {}).get("source")
    sampler = PowerSampler(cell["power"]) if on_device else None
    chunks, deadline, timed_out = [], time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        if sampler is not None:
            sampler.poll()
            left = min(left, sampler.period_s)
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    log_tail = _tail(log)
    log.close()
    raw = b"".join(chunks)
    if timed_out:
        reply = {"status": "timeout", "error": "cell exceeded %.0f s and was killed" % timeout}
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        reply = {"status": "crashed", "error": "worker killed by signal %s" % name}
    elif not raw:
        code = os.WEXITSTATUS(status)
        reply = {"status": "crashed", "error": "worker exited with code %d and no result" % code}
    else:
        reply = json.loads(raw.decode())
    reply["log_tail"] = log_tail
    if sampler is not None:
        reply["power"] = sampler.result()
    return reply


def serve(stdin, stdout):
    """Answer requests until EOF or quit. Runtimes are imported first so children inherit them."""
    availability = runtime_availability()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "quit":
                break
            if op == "facts":
                reply = {"ok": True, "facts": facts()}
            elif op == "ping":
                reply = {"ok": True, "protocol": PROTOCOL_VERSION, "runtimes": availability}
            elif op == "cell":
                reply = {"ok": True, "result": run_isolated(request["cell"])}
            elif op == "power":
                sampler = PowerSampler(request["power"])
                label = sampler.source.label if sampler.source is not None else None
                reply = {"ok": True, "source": label, "reason": sampler.available()}
            else:
                reply = {"ok": False, "error": "unknown op %r" % op}
        except Exception as exc:  # a bad request must not take the server down
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


def main(argv=None):
    global np
    argv = sys.argv[1:] if argv is None else argv
    # BLAS threads are never used here; fewer threads make fork() safe and cheap.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import numpy

        np = numpy
    except ImportError as exc:
        sys.stdout.write(json.dumps({"ok": False, "error": "numpy is not installed: %s" % exc}))
        sys.stdout.write("\n")
        return 3
    if argv[:1] == ["serve"]:
        serve(sys.stdin, sys.stdout)
        return 0
    if argv[:1] == ["facts"]:
        print(json.dumps(facts(), indent=2))
        return 0
    sys.stderr.write("usage: worker.py serve | facts\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
