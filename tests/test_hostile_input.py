"""Hostile input that must end in one line and exit 2, with nothing written or deleted (issue 9).

The suite-file cases with a fixed message live in config_corpus/; these need a file name, a
subprocess or files the corpus cannot hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchy.cli import main

from .conftest import MODELS, ROOT

MODEL = f'[models.cnn.variants]\nfp32 = "{MODELS / "cnn_fp32.tflite"}"\n'
FOLDER = 'one folder name: letters, digits, "_", "-", "+", "." (not first), ≤ 100 characters'


def test_non_utf8_suite_from_the_console_script(tmp_path: Path) -> None:
    suite = tmp_path / "latin1.toml"
    suite.write_bytes(b'[suite]\ndescription = "caf\xe9"\n' + MODEL.encode())
    proc = subprocess.run(
        [sys.executable, "-m", "benchy", "run", str(suite), "--results", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: {suite}: line 2: byte 0xe9 is not UTF-8; TOML files must be UTF-8 text"
    )
    assert not (tmp_path / "r").exists()


def test_a_file_name_that_is_no_folder_name_needs_a_suite_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """[suite].name defaults to the file's stem; ".x.toml" would make a hidden folder."""
    suite = tmp_path / ".x.toml"
    suite.write_text(MODEL)
    assert main(["run", str(suite), "--results", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {suite}: [suite].name: expected {FOLDER}, got ".x" '
        "(the default: the file's name); set one"
    )
    assert not (tmp_path / "r").exists()


def test_a_suite_name_cannot_write_outside_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suite]\nname = "../../escaped"\n{MODEL}')
    results = tmp_path / "a" / "b" / "results"
    assert main(["run", str(suite), "--results", str(results)]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {suite}: [suite].name: expected {FOLDER}, got "../../escaped"'
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "escaped").exists()


def test_history_refuses_a_suite_name_that_climbs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "../x", "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: ../x: no such suite file, and not a suite name ({FOLDER})"
    )


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("flag", "value", "why"),
    [
        ("--baseline", "nope", "--baseline: nope: no such run directory"),
        ("--out", "@/afile", "--out @/afile: exists and is not a directory"),
        ("--results", "@/afile/x", "--results @/afile/x: @/afile is not a directory"),
        ("--junit", "@/adir", "--junit @/adir: is a directory"),
        ("--markdown", "@/afile/s.md", "--markdown @/afile/s.md: @/afile is not a directory"),
    ],
)
def test_a_dry_run_refuses_what_a_real_run_refuses(
    flag: str, value: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--dry-run` checks every argument as the run would, with the same one line, exit 2;
    neither run creates anything."""
    suite = tmp_path / "suite.toml"
    suite.write_text(MODEL)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    before = _tree(tmp_path)
    argv = ["run", str(suite), flag, value.replace("@", str(tmp_path))]
    if flag != "--results":
        argv += ["--results", str(tmp_path / "results")]
    message = f"error: {why.replace('@', str(tmp_path))}"
    assert _refusal([*argv, "--dry-run"], capsys) == (2, message)
    assert _refusal(argv, capsys) == (2, message)
    assert _tree(tmp_path) == before


def test_a_dry_run_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(MODEL)
    argv = ["run", str(suite), "--dry-run", "--results", str(tmp_path / "r")]
    argv += ["--junit", str(tmp_path / "j" / "junit.xml"), "--baseline", "latest"]
    assert main(argv) == 0
    assert "1 cells to run" in capsys.readouterr().out
    assert _tree(tmp_path) == ["suite.toml"]
