"""LiteRT's native benchmark binary (`benchmark_model`, built from
tensorflow/lite/tools/benchmark or LiteRT's tools) as a per-op source on boards that have it:
`benchmark_bin = "/path/benchmark_model"` in the target file.

benchy runs it with `--enable_op_profiling=true` on the pushed model and reads the "Run Order"
table of the block headed `Operator-wise Profiling Info for Regular Benchmark Runs:`, which the
tool prints through its stats calculator (tensorflow/core/util/stats_calculator.cc): one line
per node, columns named by a bracketed header line —

    [node type]  [start]  [first]  [avg ms]  [%]  [cdf%]  [mem KB]  [times called]  [Name]

(`[start]` only in older builds; tab-separated in older builds, space-aligned in newer ones; a
logger may prefix lines with `INFO: `). `avg ms` is per call and `times called` per run, so a
node's time per inference is avg × times called; `[%]` is that share of a run. Names look like
`[MobilenetV1/Conv2d_0/Relu6]:0` (builtin kernels) or `Delegate/Convolution (NHWC, F32) IGEMM:3`
(XNNPACK's own per-operator profiling); the number after the last `:` is the node index.
"""

from __future__ import annotations

import re
from typing import Any

from benchy.worker.protocol import OpRow

SOURCE = "litert-benchmark-tool"
SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"
_HEADER = re.compile(r"\[([^\]]+)\]")
_NUMBER = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?)"
_PREFIX = re.compile(r"^(?:INFO:\s?|.*\btflite\s+:\s?)")
_INDEX = re.compile(r"^(.*):(\d+)$")


def argv(binary: str, model: str, threads: int, delegate: str) -> list[str]:
    """The tool's command line for a cell; XNNPACK on or off as the cell asked."""
    return [
        binary,
        f"--graph={model}",
        f"--num_threads={threads}",
        f"--use_xnnpack={'true' if delegate == 'xnnpack' else 'false'}",
        "--enable_op_profiling=true",
        "--warmup_runs=5",
        "--num_runs=50",
        "--min_secs=0.1",
        "--max_secs=2",
    ]


def parse(text: str) -> list[OpRow]:
    """The per-node rows of the regular runs' Run Order table (empty when there is none)."""
    lines = [_PREFIX.sub("", raw.rstrip("\r")) for raw in text.splitlines()]
    try:
        start = next(i for i, ln in enumerate(lines) if SECTION in ln)
    except StopIteration:
        return []
    rows: list[OpRow] = []
    columns: list[str] | None = None
    pattern: re.Pattern[str] | None = None
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if columns is None:
            if "[node type]" in stripped:
                columns = [c.strip().lower() for c in _HEADER.findall(stripped)]
                numeric = len(columns) - 2  # all but [node type] and [Name]
                pattern = re.compile(
                    r"^\s*(?P<type>.*?\S)\s+" + r"\s+".join([_NUMBER] * numeric)
                    + r"\s+(?P<name>\S.*?)\s*$"
                )  # fmt: skip
            continue
        if not stripped or stripped.startswith("="):
            break  # the end of the Run Order table
        assert pattern is not None
        m = pattern.match(line)
        if m is None:
            continue
        numbers = [float(v.rstrip("%")) for v in m.groups()[1:-1]]
        values = dict(zip(columns[1:-1], numbers, strict=True))
        rows.append(_row(m.group("type"), m.group("name"), values, len(rows)))
    return rows


def _row(op_type: str, name: str, values: dict[str, float], position: int) -> OpRow:
    calls = values.get("times called", 1.0) or 1.0
    avg_ms = values.get("avg ms", 0.0)
    name = name.strip()
    index = position
    m = _INDEX.match(name)
    if m is not None:
        name, index = m.group(1), int(m.group(2))
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    row: Any = {
        "op_index": index,
        "op_name": name,
        "op_type": op_type.strip(),
        "provider": None,
        "calls": calls,
        "mean_us": avg_ms * 1000.0 * calls,  # per inference: avg per call × calls per run
        "instructions": None,
        "source": SOURCE,
        # The tool's own share: finer than its avg ms (three decimals: 1 µs steps).
        "share_pct": values.get("%"),
    }
    return row  # type: ignore[no-any-return]
