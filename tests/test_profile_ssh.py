"""Issue 15 on an SSH board (a real sshd on 127.0.0.1; the board is this machine): instruction
mode runs where the board has Valgrind and `targets check` says so; the callgrind folder on the
board is removed; a board's LiteRT benchmark binary (`benchmark_bin`) is run on the pushed model
and its op profile read. No benchmark_model binary can be built here (no TensorFlow build), so a
script stands in for it: it records its arguments and prints that tool's output layout (the
recorded fixture), which the real parser reads."""

from __future__ import annotations

import glob
import shlex
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main

from .conftest import MODELS
from .sshd import SshServer
from .valgrind import valgrind_binary

FIXTURE = Path(__file__).parent / "data" / "litert_benchmark" / "xnnpack_space_aligned.txt"
SUITE = f"""
[models.cnn.variants]
fp32 = "{MODELS}/cnn_fp32.tflite"
[matrix]
runtimes = ["tflite"]
[measure]
repetitions = 1
warmup_runs = 2
min_runs = 5
min_seconds = 0.01
profile_ops = true
"""


@pytest.fixture
def board(tmp_path: Path) -> Iterator[SshServer]:
    valgrind_binary()
    server = SshServer.create(tmp_path / "sshd")
    yield server
    server.kill()


def test_instruction_mode_on_a_board_with_valgrind(  # type: ignore[no-untyped-def]
    board: SshServer, tmp_path: Path, capsys
) -> None:
    pi = tmp_path / "pi.toml"
    pi.write_text(board.target_toml())
    assert main(["targets", "check", str(pi)]) == 0
    assert "valgrind-3." in capsys.readouterr().out
    before = set(glob.glob("/tmp/benchy-callgrind.*"))
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE + 'mode = "instructions"\n')
    assert main(["run", str(suite), "--target", str(pi), "--out", str(tmp_path / "out")]) == 0
    cells = pd.read_parquet(tmp_path / "out" / "cells.parquet")
    cell = cells[cells["status"] == "ok"].iloc[0]
    assert cell["instructions_per_inference"] > 10_000
    assert cell["ops_source"] == "callgrind-ir"
    assert set(glob.glob("/tmp/benchy-callgrind.*")) == before  # the board's folder is gone


def test_a_boards_benchmark_binary_gives_the_op_profile(board: SshServer, tmp_path: Path) -> None:
    record = tmp_path / "argv.txt"
    tool = tmp_path / "benchmark_model"
    tool.write_text(
        f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {shlex.quote(str(record))}\n"
        f"cat {shlex.quote(str(FIXTURE))} >&2\n"  # the tool logs on stderr
    )
    tool.chmod(0o755)
    pi = tmp_path / "pi.toml"
    pi.write_text(board.target_toml(benchmark_bin=str(tool)))
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--target", str(pi), "--out", str(tmp_path / "out")]) == 0
    argv = record.read_text().split("\n")
    assert "--enable_op_profiling=true" in argv and "--use_xnnpack=true" in argv
    graph = next(a for a in argv if a.startswith("--graph="))
    assert graph.endswith("-cnn_fp32.tflite") and "/files/" in graph  # the pushed copy
    ops = pd.read_parquet(tmp_path / "out" / "ops.parquet")
    assert set(ops["source"]) == {"litert-benchmark-tool"}
    assert ops.iloc[0]["op_type"] == "Convolution (NHWC, F32) IGEMM"
    assert ops["mean_us"].notna().all() and ops["instructions"].isna().all()
