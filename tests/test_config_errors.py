"""Each bad suite in config_corpus/ gives its exact one-line message and exit 2; nothing runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchy.cli import main
from benchy.runtimes.onnxruntime import known_providers

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((Path(__file__).parent / "config_corpus").glob("*.toml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    message = first.removeprefix("# expect: ")
    return (
        message.replace("@DIR@", str(path.parent.resolve()))
        .replace("@ROOT@", str(ROOT))
        .replace("@PROVIDERS@", ", ".join(known_providers()))
    )


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    rel = path.relative_to(ROOT)
    code = main(["run", str(rel), "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip()
    assert err == f"error: {rel}: {expected(path)}"
    assert code == 2
    assert not (tmp_path / "results").exists()  # nothing ran


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 25


def test_no_traceback_from_the_console_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    model = ROOT / "suites/models/cnn_fp32.tflite"
    bad.write_text(f"[models.cnn.variants]\nfp32 = '{model}'\n[matrix]\nthreads = 'two'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "benchy", "run", str(bad)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip()
        == f'error: {bad}: [matrix].threads: expected a non-empty list of integers ≥ 1, got "two"'
    )
    assert proc.stdout == ""


def test_missing_suite_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no/such/suite.toml"]) == 2
    assert capsys.readouterr().err.strip() == "error: no/such/suite.toml: file not found"


def test_unknown_target_kind(
    tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    suite = make_suite('[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n')
    target = tmp_path / "board.toml"
    target.write_text('kind = "jtag"\n')
    assert main(["run", str(suite), "--target", str(target)]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {target}: kind: unknown value "jtag"; valid choices: local'
    )


def test_unknown_target_option(
    tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    suite = make_suite('[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n')
    target = tmp_path / "mine.toml"
    target.write_text('kind = "local"\npin_cpu = [0]\n')
    assert main(["run", str(suite), "--target", str(target)]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {target}: top level: unknown key "pin_cpu"; '
        "valid keys: budgets, description, kind, name, pin_cpus, python"
    )


def test_pin_to_missing_cpu(tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import os

    suite = make_suite('[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n')
    target = tmp_path / "mine.toml"
    target.write_text('kind = "local"\npin_cpus = [4096]\n')
    assert main(["run", str(suite), "--target", str(target)]) == 2
    n = os.cpu_count()
    assert capsys.readouterr().err.strip() == (
        f"error: {target}: pin_cpus: CPU 4096 does not exist; valid: 0..{n - 1}"  # type: ignore[operator]
    )
