"""`benchy ab`: baseline and candidate measured in one job, interleaved, then compared."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchy.cli import main
from benchy.config import AB_P50_PCT

BODY = """
[matrix]
runtimes = ["tflite"]
[models.cnn.variants]
fp32 = "@MODELS@/{model}"
"""
# 12 repetitions: processes slowed by other load are set aside and α is split between looks, so
# 6 were no longer enough to call even a 30× slowdown at the gate's confidence.
MEASURE = "[measure]\nwarmup_runs = 20\nmin_runs = 200\nmin_seconds = 0.1\nrepetitions = 12\n"


def ab(make_suite, local_target: Path, tmp_path: Path, base: str, new: str, *extra: str) -> (  # type: ignore[no-untyped-def]
        tuple[int, Path]):  # fmt: skip
    a = make_suite(BODY.format(model=base), name="base.toml", measure=MEASURE)
    b = make_suite(BODY.format(model=new), name="new.toml", measure=MEASURE)
    out = tmp_path / "ab"
    junit = tmp_path / "junit.xml"
    code = main(["ab", str(a), str(b), "--target", str(local_target), "--out", str(out),
                 "--junit", str(junit), *extra])  # fmt: skip
    return code, out


def test_a_really_slower_candidate_is_regressed(
    make_suite, local_target: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The "candidate" is the LSTM (~30× slower than the CNN) under the same cell identity.
    code, out = ab(make_suite, local_target, tmp_path, "cnn_fp32.tflite", "lstm_fp32.tflite")
    assert code == 1
    manifest = json.loads((out / "candidate" / "run.json").read_text())
    assert manifest["ab_verdict"] == "regressed"
    base = pd.read_parquet(out / "base" / "samples.parquet")
    new = pd.read_parquet(out / "candidate" / "samples.parquet")
    # Both sides interleaved, repetition for repetition; a close call may take more than the
    # planned 12 (adaptive repetitions), on both sides alike.
    assert set(base.repetition) == set(new.repetition) >= set(range(12))
    assert "<failure" in (tmp_path / "junit.xml").read_text()


def test_the_same_model_on_both_sides_is_not_regressed(
    make_suite, local_target: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    code, out = ab(make_suite, local_target, tmp_path, "cnn_fp32.tflite", "cnn_fp32.tflite",
                   "--repetitions", "14")  # fmt: skip
    manifest = json.loads((out / "candidate" / "run.json").read_text())
    assert manifest["ab_verdict"] != "regressed"
    assert manifest["gate"]["p50_pct"] == AB_P50_PCT  # `benchy ab`'s own δ, kept with the run
    for side in ("base", "candidate"):  # both sides take --repetitions
        assert json.loads((out / side / "run.json").read_text())["measure"]["repetitions"] == 14
        assert set(pd.read_parquet(out / side / "repetitions.parquet").repetition) >= set(
            range(14))  # fmt: skip
    assert code in (0, 4)  # pass, or inconclusive when the shift's CI straddles the threshold
    # each round's two models were also timed in turn in one process (worker/pair.py)
    new = pd.read_parquet(out / "candidate" / "cells.parquet")
    figures = pd.read_parquet(out / "candidate" / "repetitions.parquet")
    assert (new["paired_rounds"] == new["repetitions"]).all() and new["paired_error"].isna().all()
    assert figures["paired_n"].notna().all() and (figures["paired_n"] >= 200).all()
    assert pd.read_parquet(out / "base" / "repetitions.parquet")["paired_n"].isna().all()


def test_one_more_layer_is_regressed(local_target: Path, tmp_path: Path) -> None:
    """Issue 12: a real A/B whose candidate has a known extra cost — an ONNX MLP chain of 5 vs 6
    layers (≈ +17% here) — is `regressed` (exit 1). 24 repetitions per side, up to 48 when the
    call is close: even with a third of the processes slowed by other load, the others alone put
    the CI far past δ (MDE 7–12% at 16 repetitions on this VM under load)."""
    from benchmarks.chains import chain_suite, mlp_chain

    gate = '[gate]\nmetrics = ["p50"]\nmax_repetitions = 48\n'
    base = chain_suite(mlp_chain(5, tmp_path / "c5.onnx"), tmp_path / "base.toml", 24, gate)
    new = chain_suite(mlp_chain(6, tmp_path / "c6.onnx"), tmp_path / "new.toml", 24, gate)
    out = tmp_path / "ab"
    code = main(["ab", str(base), str(new), "--target", str(local_target), "--out", str(out)])
    manifest = json.loads((out / "candidate" / "run.json").read_text())
    regressed = manifest["comparison"]["regressed"]
    assert code == 1, manifest["comparison"]
    assert [line.split(":")[0] for line in regressed] == ["local/chain/k onnxruntime/cpu ×1"]
    assert " p50 +" in regressed[0]
    assert manifest["adaptive"]["at"] == [24, 36, 48]


def test_a_longer_chain_is_regressed_on_two_threads_compared_round_by_round(
    local_target: Path, tmp_path: Path
) -> None:
    """A 2-thread cell's processes land in one of several speeds, in shares that differ from
    run to run, so its fastest speed is rarely matched between two runs. In `benchy ab` each
    round's two models are also timed in turn in one worker process (worker/pair.py): the
    machine's speed of the moment cancels out of each round's difference (Yuen's trimmed t on
    the differences). The 5 vs 10 layer chain (≈ +85%) is `regressed`."""
    from benchmarks.chains import chain_suite, mlp_chain

    gate = '[gate]\nmetrics = ["p50"]\nmax_repetitions = 48\n'
    base = chain_suite(mlp_chain(5, tmp_path / "c5.onnx"), tmp_path / "base.toml", 24, gate, 2)
    new = chain_suite(mlp_chain(10, tmp_path / "c10.onnx"), tmp_path / "new.toml", 24, gate, 2)
    out = tmp_path / "ab"
    code = main(["ab", str(base), str(new), "--target", str(local_target), "--out", str(out)])
    manifests = [
        json.loads((out / side / "run.json").read_text()) for side in ("base", "candidate")
    ]
    assert manifests[0]["ab"]["id"] == manifests[1]["ab"]["id"]  # one interleaved job
    regressed = manifests[1]["comparison"]["regressed"]
    assert code == 1, manifests[1]["comparison"]
    assert [line.split(":")[0] for line in regressed] == ["local/chain/k onnxruntime/cpu ×2"]
    assert "timed in turn in one process per round: 20% trimmed mean of " in regressed[0]
