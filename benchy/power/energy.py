"""Energy figures per cell and the battery-life projection.

Device-side sources (rapl, hwmon, pi5-pmic) are read by the worker's fork server while the child
measures; host-side sources (ppk2.py) run in benchy around the cell. Either way the
result is (t_ns, watts) samples plus the idle and timed windows, and this module turns them into
`idle_power_mw`, `active_power_mw`, `energy_per_inference_mj`. Nothing is estimated: without a
source, `power_source` says "unavailable: <reason>" and the figures stay empty.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchy.power.config import EnergySettings

MIN_SAMPLES = 2  # per window, for a mean; the CI needs 10


def _samples(power: dict[str, Any]) -> np.ndarray:
    """(t_ns, watts, weight) rows; interval samples (from energy counters) weigh their length."""
    rows = power.get("samples") or []
    out = np.ones((len(rows), 3))
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _in(samples: np.ndarray, window: list[int] | None) -> np.ndarray:
    if window is None or len(samples) == 0:
        return np.empty((0, 3))
    t = samples[:, 0]
    return samples[(t >= window[0]) & (t <= window[1])]


def _mean(rows: np.ndarray) -> float:
    return float(np.average(rows[:, 1], weights=rows[:, 2]))


def unavailable(reason: str) -> dict[str, Any]:
    return {"power_source": f"unavailable: {reason}"}


def energy_columns(
    power: dict[str, Any] | None, window_ns: list[int] | None, idle_ns: list[int] | None,
    inferences: int, offset_ns: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Cell columns from one repetition's samples. offset_ns maps device times to sample times."""
    if power is None:
        return unavailable("no [power] source in the target file")
    if power.get("error") or not power.get("source"):
        return unavailable(power.get("error") or "the source gave no samples")
    samples = _samples(power)
    shift = [offset_ns, offset_ns]
    active = _in(samples, None if window_ns is None else list(np.add(window_ns, shift)))
    idle = _in(samples, None if idle_ns is None else list(np.add(idle_ns, shift)))
    if len(active) < MIN_SAMPLES or len(idle) < MIN_SAMPLES:
        return {
            **unavailable(
                f"{len(active)} samples in the timed window and {len(idle)} in the idle window "
                f"from {power['source']} (at least {MIN_SAMPLES} each): raise min_seconds/idle_s "
                "or lower period_s"
            ),
            "power_samples": len(samples),
        }
    assert window_ns is not None
    window_s = (window_ns[1] - window_ns[0]) / 1e9
    idle_w, active_w = _mean(idle), _mean(active)
    per_inference = (active_w - idle_w) * window_s / inferences  # joules
    out: dict[str, Any] = {
        "power_source": power["source"],
        "power_samples": int(len(active) + len(idle)),
        "power_rate_hz": len(active) / window_s if window_s > 0 else None,
        "idle_power_mw": idle_w * 1000,
        "active_power_mw": active_w * 1000,
        "energy_per_inference_mj": per_inference * 1000,
        "active_power_ci_low_mw": None,
        "active_power_ci_high_mw": None,
    }
    if len(active) >= 10:
        # Normal CI of the mean; consecutive samples are correlated, so it is optimistic.
        half = 1.96 * float(active[:, 1].std(ddof=1)) / math.sqrt(len(active))
        out["active_power_ci_low_mw"] = (active_w - half) * 1000
        out["active_power_ci_high_mw"] = (active_w + half) * 1000
    return out


def combine(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell's columns from its repetitions: means of the figures each repetition gave."""
    good = [r for r in reps if r.get("energy_per_inference_mj") is not None]
    if not good:
        return reps[0] if reps else unavailable("no repetition")
    out = dict(good[0])
    for key in ("idle_power_mw", "active_power_mw", "energy_per_inference_mj", "power_rate_hz"):
        out[key] = float(np.mean([r[key] for r in good if r.get(key) is not None]))
    out["power_samples"] = int(sum(r["power_samples"] for r in good))
    if len(good) > 1:  # per-repetition CIs do not combine; leave them out rather than guess
        out["active_power_ci_low_mw"] = out["active_power_ci_high_mw"] = None
    return out


def battery_life(settings: EnergySettings, row: dict[str, Any]) -> dict[str, Any]:
    """Hours on one charge at the suite's duty cycle, from the measured energy per inference.

    Average power = base power (sleep power if the suite gives it, else the measured idle power)
    + inferences per second × energy per inference (mJ/s = mW)."""
    energy = row.get("energy_per_inference_mj")
    if energy is None:
        return {"battery_life_hours": None, "duty_cycle": None}
    base = settings.sleep_power_mw
    if base is None:
        base = row.get("idle_power_mw")
    if base is None:
        return {"battery_life_hours": None, "duty_cycle": None}
    average_mw = base + settings.inferences_per_second * max(energy, 0.0)
    p50 = row.get("latency_p50_ms")
    duty = None if p50 is None else settings.inferences_per_second * p50 / 1000
    capacity_mwh = settings.battery_mah * settings.battery_voltage
    hours = capacity_mwh / average_mw if average_mw > 0 else None
    return {"battery_life_hours": hours, "duty_cycle": duty, "average_power_mw": average_mw}


def sample_rows(
    power: dict[str, Any] | None, window_ns: list[int] | None, idle_ns: list[int] | None,
    offset_ns: int = 0,
) -> np.ndarray:  # fmt: skip
    """Per raw sample: t_s from the window's start, watts, phase (0 other / 1 idle / 2 active),
    and the interval it averages over in seconds (NaN for instantaneous readings)."""
    if not power or not power.get("samples") or window_ns is None:
        return np.empty((0, 4))
    s = _samples(power)
    t = s[:, 0] - offset_ns
    phase = np.zeros(len(s))
    if idle_ns is not None:
        phase[(t >= idle_ns[0]) & (t <= idle_ns[1])] = 1
    phase[(t >= window_ns[0]) & (t <= window_ns[1])] = 2
    interval = np.array([len(r) > 2 for r in power["samples"]])
    seconds = np.where(interval, s[:, 2] / 1e9, np.nan)
    return np.column_stack([(t - window_ns[0]) / 1e9, s[:, 1], phase, seconds])
