"""Issue 15's parsers and verdicts on recorded inputs: LiteRT's benchmark-tool op profile (its
two real layouts), callgrind's file format, ONNX Runtime trace events, the op-type mapping of
TFLite kernels, the instruction verdicts and the ops table's shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchy.config import Gate
from benchy.judge.instructions import compare_instructions
from benchy.profiling.benchmark_tool import SOURCE, parse
from benchy.profiling.rows import instruction_columns, ops_table
from benchy.results.schema import INSTRUCTIONS, CellKey
from benchy.worker import callgrind
from benchy.worker.opmap import builtin_op, family, short_name, tflite_rows
from benchy.worker.profiling import ort_rows
from benchy.worker.protocol import request_problem

DATA = Path(__file__).parent / "data" / "litert_benchmark"
CELL = CellKey("local", "m", "v", "tflite", "xnnpack", 1)


def test_benchmark_tool_space_aligned_xnnpack_profile() -> None:
    """Newer builds: space-aligned columns, no [start], an `INFO: ` header, XNNPACK's own
    per-operator names; the initialization block and the later summaries are not read."""
    rows = parse((DATA / "xnnpack_space_aligned.txt").read_text())
    assert [r["op_type"] for r in rows] == [
        "Convolution (NHWC, F32) IGEMM", "Max Pooling (NHWC, F32)",
        "Fully Connected (NC, F32) GEMM", "Softmax (NC, F32)",
    ]  # fmt: skip
    conv = rows[0]
    assert conv["op_name"] == "Delegate/Convolution (NHWC, F32) IGEMM"
    assert conv["op_index"] == 0 and conv["calls"] == 2
    assert conv["mean_us"] == pytest.approx(2 * 0.002 * 1000)  # avg per call × calls per run
    assert conv["share_pct"] == pytest.approx(76.19)
    assert {r["source"] for r in rows} == {SOURCE}
    assert all(r["instructions"] is None for r in rows)


def test_benchmark_tool_tab_separated_builtin_profile() -> None:
    """Older builds: tab-separated with a [start] column, bracketed names with `:index`."""
    rows = parse((DATA / "builtin_tab_separated.txt").read_text())
    assert [r["op_index"] for r in rows] == list(range(6))
    assert [r["op_type"] for r in rows] == [
        "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"
    ]  # fmt: skip
    assert rows[0]["op_name"] == "sequential/conv1d/Conv1D"
    assert rows[0]["mean_us"] == pytest.approx(19.0)
    assert rows[5]["op_name"] == "StatefulPartitionedCall:0"  # only the last `:N` is the index
    assert sum(r["share_pct"] or 0 for r in rows) == pytest.approx(100, abs=0.01)


def test_benchmark_tool_output_without_op_profile_gives_no_rows() -> None:
    text = (DATA / "xnnpack_space_aligned.txt").read_text()
    assert parse(text.split("INFO: Operator-wise")[0]) == []


CALLGRIND = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 42
part: 1
desc: Trigger: Client Request: benchy-timed-loop
positions: line
events: Ir
summary: 1000

ob=(1) /lib/libx.so
fl=(1) ???
fn=(1) tflite::Subgraph::Invoke()
0 10
cfn=(2) tflite::Subgraph::InvokeImpl()
calls=2 0
0 990
fn=(2)
0 30
cfn=(3) TfLiteStatus tflite::ops::builtin::conv::Eval<(KernelType)2>(TfLiteContext*, TfLiteNode*)
calls=2 0
+2 900
cfn=(4) tflite::ops::builtin::activations::SoftmaxEval(TfLiteContext*, TfLiteNode*)
calls=2 0
* 60
fn=(3)
0 100
+1 500
-1 300
fn=(4)
0 60
"""


def test_callgrind_parser_reads_names_positions_and_calls() -> None:
    profile = callgrind.parse(CALLGRIND)
    assert profile.total == 1000
    assert profile.trigger == "Client Request: benchy-timed-loop"
    conv = (
        "TfLiteStatus tflite::ops::builtin::conv::Eval<(KernelType)2>(TfLiteContext*, TfLiteNode*)"
    )
    assert profile.self_cost[conv] == 900  # three cost lines, relative positions
    assert profile.self_cost["tflite::Subgraph::InvokeImpl()"] == 30  # calls are not self cost
    assert profile.arcs[("tflite::Subgraph::InvokeImpl()", conv)] == [2, 900]
    assert profile.calls_to(conv) == 2


def test_tflite_rows_attribute_every_instruction_once() -> None:
    rows = tflite_rows(callgrind.parse(CALLGRIND), invokes=2)
    by_type = {r["op_type"]: r for r in rows}
    assert set(by_type) == {"CONV_2D", "SOFTMAX", "interpreter"}
    assert by_type["CONV_2D"]["instructions"] == 450 and by_type["CONV_2D"]["calls"] == 1
    assert sum(r["instructions"] for r in rows) == pytest.approx(500)  # total / invokes
    assert [r["op_index"] for r in rows] == [0, 1, 2]  # ranked by cost
    assert all(r["mean_us"] is None and r["source"] == "callgrind-ir" for r in rows)


@pytest.mark.parametrize(
    ("function", "family_or_op"),
    [
        ("xnn_f32_igemm_minmax_ukernel_5x16__fma3_broadcast_prfm", "convolution"),
        ("xnn_qs8_qc8w_gemm_minmax_fp32_ukernel_1x8c8__avx2", "fully connected / 1x1 convolution"),
        ("xnn_f32_dwconv_minmax_ukernel_9p16c__fma3", "depthwise convolution"),
        ("xnn_s8_maxpool_minmax_ukernel_9p__sse41_u16", "max pooling"),
        ("xnn_compute_max_pooling", "max pooling"),
        ("xnn_f32_rdsum_ukernel_7p7x__avx_u32", "reduce (mean/sum)"),
        ("xnn_f32_raddstoreexpminusmax_ukernel__avx2_rr2_p5_u32_acc2", "softmax"),
    ],
)
def test_xnnpack_functions_map_to_op_families(function: str, family_or_op: str) -> None:
    assert family(function) == family_or_op


def test_builtin_kernels_map_to_tflite_op_names() -> None:
    pool = "TfLiteStatus tflite::ops::builtin::pooling::MaxEval<(KernelType)1>(TfLiteContext*)"
    mean = "TfLiteStatus tflite::ops::builtin::reduce::EvalMean<(KernelType)1>(TfLiteContext*)"
    lstm = "tflite::ops::builtin::unidirectional_sequence_lstm::Eval(TfLiteContext*, TfLiteNode*)"
    assert builtin_op(pool) == "MAX_POOL_2D"
    assert builtin_op(mean) == "MEAN"
    assert builtin_op(lstm) == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    assert short_name("void (anonymous namespace)::unary_ukernel<int>(int const*)") == (
        "(anonymous namespace)::unary_ukernel"
    )


def _node(name: str, op: str, dur: int) -> dict[str, object]:
    args = {"op_name": op, "provider": "CPUExecutionProvider", "node_index": "0"}
    return {"cat": "Node", "name": f"{name}_kernel_time", "dur": dur, "args": args}


def test_ort_rows_average_the_runs_after_the_cold_one() -> None:
    run_end = {"cat": "Session", "name": "model_run", "dur": 1}
    events = [
        {"cat": "Session", "name": "session_initialization", "dur": 500},
        _node("mm", "MatMul", 90), _node("relu", "Relu", 9), run_end,  # cold: not counted
        _node("mm", "MatMul", 10), _node("relu", "Relu", 2), run_end,
        _node("mm", "MatMul", 12), _node("relu", "Relu", 4), run_end,
    ]  # fmt: skip
    rows = {r["op_name"]: r for r in ort_rows(events)}
    assert rows["mm"]["mean_us"] == 11 and rows["relu"]["mean_us"] == 3
    assert rows["mm"]["calls"] == 1 and rows["mm"]["op_type"] == "MatMul"
    assert rows["relu"]["provider"] == "CPUExecutionProvider"


def _row(mid: float, low: float | None = None, high: float | None = None) -> dict[str, object]:
    return {INSTRUCTIONS: mid, "instructions_min": low, "instructions_max": high}


@pytest.mark.parametrize(
    ("base", "new", "verdict"),
    [
        (_row(100_000), _row(101_000), "regressed"),  # +1%, one repetition each
        (_row(100_000), _row(100_300), "unchanged"),  # +0.3% < δ
        (_row(100_000), _row(99_000), "improved"),
        (_row(100_000, 99_990, 100_010), _row(100_500, 100_400, 100_600), "inconclusive"),
        (_row(100_000, 99_000, 101_000), _row(100_100, 99_100, 101_100), "unstable"),
        (_row(100_000, 99_000, 101_000), _row(110_000, 109_000, 111_000), "regressed"),
    ],
)
def test_instruction_verdicts(
    base: dict[str, object], new: dict[str, object], verdict: str
) -> None:
    result = compare_instructions(CELL, base, new, Gate(), ())
    assert result is not None and result.verdict == verdict, result


def test_instructions_on_one_side_only_are_shown_not_judged() -> None:
    result = compare_instructions(CELL, {INSTRUCTIONS: None}, _row(100_000), Gate(), ())
    assert result is not None and result.verdict == "unchecked"
    assert compare_instructions(CELL, {}, {}, Gate(), ()) is None  # time mode on both sides


def test_instruction_columns_and_op_shares() -> None:
    results: list[Any] = [
        {"instructions": {"total": total, "invokes": 10, "scope": "s", "error": None}}
        for total in (1000, 1010, 990)
    ]
    cols = instruction_columns(results)
    assert cols[INSTRUCTIONS] == 100
    assert (cols["instructions_min"], cols["instructions_max"]) == (99, 101)
    assert cols["latency_p50_ms"] is None  # Valgrind's times are not latencies
    failing: list[Any] = [{"instructions": {"error": "no dump", "invokes": 5}}]
    failed = instruction_columns(failing)
    assert failed[INSTRUCTIONS] is None and failed["instructions_scope"] == "unavailable: no dump"
    ops = [{"op_name": "a", "instructions": 30.0, "mean_us": None},
           {"op_name": "b", "instructions": 10.0, "mean_us": None}]  # fmt: skip
    profiled: list[Any] = [{"ops": ops}]
    assert list(ops_table(profiled)["share_pct"]) == [75.0, 25.0]


def test_the_worker_takes_the_new_request_keys() -> None:
    cell = {"runtime": "tflite", "model_path": "m", "delegate": {"name": "none"}, "threads": 1,
            "inputs": {}, "measure": {}, "timeout_s": 1.0,
            "collect_outputs": False, "profile_ops": True,
            "instructions": {"out_dir": "/tmp", "toggle_functions": []}}  # fmt: skip
    assert request_problem({"op": "cell", "cell": cell}) is None


def test_tflite_micro_on_the_emulated_dut_says_why_it_has_no_op_profile(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_suite
) -> None:
    from benchy.cli import main

    from .serial_dut import emulated_dut, target_file

    suite = make_suite(
        """
        [matrix]
        runtimes = ["tflm"]
        [models.cnn.variants]
        full_int8 = "@MODELS@/cnn_full_int8.tflite"
        """
    )
    out = tmp_path / "out"
    with emulated_dut(tmp_path) as emu:
        target = target_file(tmp_path, emu.port)
        assert main(["run", str(suite), "--target", str(target), "--out", str(out),
                     "--profile-ops"]) == 0  # fmt: skip
    cells = pd.read_parquet(out / "cells.parquet")
    row = cells[cells["status"] == "ok"].iloc[0]
    assert row["ops_source"].startswith("unavailable: the MLPerf Tiny protocol has no per-op")
    assert not (out / "ops.parquet").exists() or pd.read_parquet(out / "ops.parquet").empty
