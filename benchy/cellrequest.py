"""A cell → the request its worker gets (benchy/worker/protocol.py: CellRequest), with the
device's paths from `Target.prepare`. Targets add their own settings (pinning, cool-down) in
`WorkerTarget.adapt`."""

from __future__ import annotations

from pathlib import Path

from benchy.config import Measure, Model
from benchy.datasets import headers
from benchy.inputs.plan import plan_inputs
from benchy.matrix import Cell
from benchy.power.config import PowerConfig
from benchy.worker.protocol import CellRequest, InputsSpec, MeasureSpec


def inputs_spec(model: Model, model_file: Path, paths: dict[Path, str]) -> InputsSpec:
    """How the worker feeds `model_file` (benchy/inputs/plan.py), with the device's paths."""
    plan = plan_inputs(model, model_file)
    dataset = paths.get(model.dataset) if model.dataset is not None else None
    return plan.spec(dataset, model.dataset_limit)


def scored(model: Model) -> bool:
    """The metric needs outputs: the model has a dataset with labels y."""
    return model.dataset is not None and "y" in headers(model.dataset)


def measure_spec(measure: Measure) -> MeasureSpec:
    if measure.mode == "instructions":  # issue 15: a fixed count of invokes, no time limits
        runs = measure.instruction_runs
        return {**_time_spec(measure), "warmup_seconds": 0.0, "min_seconds": 0.0,
                "max_seconds": measure.timeout_s, "min_runs": runs, "max_runs": runs}  # fmt: skip
    return _time_spec(measure)


def _time_spec(measure: Measure) -> MeasureSpec:
    return {
        "warmup_runs": measure.warmup_runs,
        "warmup_seconds": measure.warmup_seconds,
        "min_runs": measure.min_runs,
        "min_seconds": measure.min_seconds,
        "max_seconds": measure.max_seconds,
        "max_runs": measure.max_runs,
        "repetitions": measure.repetitions,
        "timeout_s": measure.timeout_s,
    }


def cell_request(
    cell: Cell,
    model: Model,
    measure: Measure,
    paths: dict[Path, str],
    repetition: int,
    power: PowerConfig | None,
) -> CellRequest:
    request: CellRequest = {
        "runtime": cell.runtime,
        "model_path": paths[cell.model_file],
        "delegate": cell.delegate.payload,  # type: ignore[typeddict-item]
        "threads": cell.threads,
        "inputs": inputs_spec(model, cell.model_file, paths),
        "measure": measure_spec(measure),
        "timeout_s": measure.timeout_s,
        # Outputs are collected once (first repetition): they do not change between processes.
        "collect_outputs": scored(model) and repetition == 0,
    }
    if power is not None:
        request["power"] = power.payload()  # type: ignore[typeddict-item]
    if measure.profile_ops and repetition == 0:  # issue 15: once per cell
        request["profile_ops"] = True
    if measure.mode == "instructions":  # the target says where callgrind writes
        request["instructions"] = {"out_dir": "", "toggle_functions": []}
    return request
