"""Per-op rows from a callgrind dump of TFLite invokes: instruction counts per kernel, mapped to
op types. Instructions, never microseconds.

How instructions are attributed, each counted once:
- TFLite's interpreter loop (`tflite::Subgraph::InvokeImpl()`) calls each node's kernel. Each
  callee is one row, with the inclusive cost of its calls: builtin kernels are named by their
  `tflite::ops::builtin::<op>` namespace (CONV_2D, FULLY_CONNECTED, MEAN, …), including the
  optimized/ruy/Eigen code below them.
- The XNNPACK delegate's kernel (`tflite::xnnpack::…::SubgraphInvoke`) is split by XNNPACK's own
  functions (self cost): ukernel families (igemm → convolution, dwconv → depthwise, gemm → fully
  connected / 1×1 convolution, maxpool, …), the operator drivers (`xnn_compute_*`) by the same
  names, and the runtime (xnn_invoke_runtime, pthreadpool) as such; what is left of the
  delegate's inclusive cost (memcpy, locks) is one "other" row.
- What is left of the total is the interpreter's own bookkeeping.
Without `InvokeImpl` in the dump (a runtime whose symbols are stripped), rows are per function
by self cost, classified by the same names where they are XNNPACK's.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from benchy.worker.callgrind import Profile

SOURCE = "callgrind-ir"
INTERPRETER_LOOP = "tflite::Subgraph::InvokeImpl()"
XNNPACK_KERNEL = "tflite::xnnpack::"
ANON = "(anonymous namespace)"

FAMILIES: Tuple[Tuple[str, str], ...] = (
    (r"igemm", "convolution"),
    (r"dwconv|depthwise", "depthwise convolution"),
    (r"(^|_)gemm|spmm|fully_connected", "fully connected / 1x1 convolution"),
    (r"maxpool|max_pooling", "max pooling"),
    (r"gavgpool|global_average|avgpool|average_pooling", "average pooling"),
    (r"raddstoreexpminusmax|rmax|softmax|vscaleexpminusmax", "softmax"),
    (r"rdsum|rsum|reduce|rminmax", "reduce (mean/sum)"),
    (r"vadd|vsub|vmul|vdiv|vmax|vmin|vsqrdiff|binary|vprelu", "elementwise"),
    (
        r"vclamp|vrelu|vlrelu|sigmoid|tanh|vhswish|velu|vgelu|vsqrt|unary|vabs|vneg|lut",
        "activation",
    ),
    (r"vcvt|convert|quantize", "convert / quantize"),
    (r"transpose|copy|fill|pad|zip|unpool|concat|slice|ibilinear|resize", "data movement"),
)
"""XNNPACK function name → op family, first match wins (igemm before gemm)."""

RUNTIME = re.compile(r"^(xnn_|pthreadpool)")

BUILTIN_OPS = {
    "conv": "CONV_2D",
    "depthwise_conv": "DEPTHWISE_CONV_2D",
    "fully_connected": "FULLY_CONNECTED",
    "unidirectional_sequence_lstm": "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "lstm": "LSTM",
    "strided_slice": "STRIDED_SLICE",
    "reshape": "RESHAPE",
    "add": "ADD",
    "mul": "MUL",
    "sub": "SUB",
    "concatenation": "CONCATENATION",
    "quantize": "QUANTIZE",
    "dequantize": "DEQUANTIZE",
    "transpose": "TRANSPOSE",
    "pad": "PAD",
    "squeeze": "SQUEEZE",
    "gather": "GATHER",
    "batch_matmul": "BATCH_MATMUL",
}
FUNCTION_OPS = {
    ("pooling", "MaxEval"): "MAX_POOL_2D",
    ("pooling", "AverageEval"): "AVERAGE_POOL_2D",
    ("pooling", "L2Eval"): "L2_POOL_2D",
    ("reduce", "EvalMean"): "MEAN",
    ("reduce", "EvalSum"): "SUM",
    ("activations", "SoftmaxEval"): "SOFTMAX",
    ("activations", "ReluEval"): "RELU",
    ("activations", "Relu6Eval"): "RELU6",
    ("activations", "TanhEval"): "TANH",
    ("activations", "SigmoidEval"): "LOGISTIC",
    ("activations", "LogSoftmaxEval"): "LOG_SOFTMAX",
}
_BUILTIN = re.compile(r"tflite::ops::builtin::(\w+)::(?:\w+::)*?(\w+?)(?:<|\(|$)")


def short_name(function: str) -> str:
    """A C++ name without its return type, template arguments and parameters:
    `TfLiteStatus tflite::ops::builtin::conv::Eval<(…)2>(TfLiteContext*, …)` →
    `tflite::ops::builtin::conv::Eval`."""
    text = function.replace(ANON, "\x00")
    depth, out = 0, []
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            if ch == "(":
                break
            out.append(ch)
    return "".join(out).strip().split(" ")[-1].replace("\x00", ANON)


def family(function: str) -> str | None:
    name = function.lower()
    for pattern, label in FAMILIES:
        if re.search(pattern, name):
            return label
    return None


def builtin_op(function: str) -> str:
    """`tflite::ops::builtin::conv::Eval<…>(…)` → CONV_2D; unknown kernels by their name."""
    m = _BUILTIN.search(function)
    if m is None:
        return short_name(function)
    namespace, fn = m.group(1), m.group(2)
    return FUNCTION_OPS.get((namespace, fn)) or BUILTIN_OPS.get(namespace) or namespace.upper()


def _row(name: str, op_type: str, calls: float | None, ir: float) -> Dict[str, Any]:
    return {"op_name": name, "op_type": op_type, "calls": calls, "instructions": ir,
            "mean_us": None, "source": SOURCE}  # fmt: skip


def _xnnpack_rows(profile: Profile, inclusive: int, invokes: int) -> List[Dict[str, Any]]:
    rows, counted = [], 0
    for function, cost in profile.self_cost.items():
        if not cost or not (RUNTIME.search(function) or "xnnpack" in function.lower()):
            continue
        if function.startswith(XNNPACK_KERNEL):
            continue  # the delegate kernel's own code: in "other" below
        label = family(function)
        if label is None:
            label = "XNNPACK runtime" if RUNTIME.search(function) else "XNNPACK (other)"
        calls = profile.calls_to(function) / invokes
        rows.append(_row(short_name(function), label, calls or None, cost / invokes))
        counted += cost
    if inclusive > counted:
        rows.append(_row("XNNPACK delegate (memcpy, locks, glue)", "XNNPACK (other)", None,
                         (inclusive - counted) / invokes))  # fmt: skip
    return rows


def tflite_rows(profile: Profile, invokes: int) -> List[Dict[str, Any]]:
    """Rows of instructions per inference, largest first; op_index is that rank."""
    rows: List[Dict[str, Any]] = []
    kernels = profile.callees(INTERPRETER_LOOP)
    if kernels:
        for function, (calls, inclusive) in kernels.items():
            if function.startswith(XNNPACK_KERNEL):
                rows += _xnnpack_rows(profile, inclusive, invokes)
            elif "::ops::" in function or "::builtin::" in function:
                rows.append(_row(short_name(function), builtin_op(function), calls / invokes,
                                 inclusive / invokes))  # fmt: skip
    else:
        for function, cost in profile.self_cost.items():
            if cost:
                label = family(function) if RUNTIME.search(function) else None
                rows.append(_row(short_name(function), label or "other", None, cost / invokes))
    rest = profile.total / invokes - sum(r["instructions"] for r in rows)
    if rest > 0.5:
        rows.append(_row("tflite::Subgraph::Invoke (interpreter)", "interpreter", None, rest))
    rows.sort(key=lambda r: -r["instructions"])
    for i, row in enumerate(rows):
        row["op_index"] = i
    return rows
