"""Each bad suite in config_corpus/ gives its exact one-line message and exit 2; nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchy.cli import main
from benchy.runtimes.onnxruntime import known_providers
from benchy.targets import TARGET_KINDS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((Path(__file__).parent / "config_corpus").glob("*.toml"))


def expected(path: Path, config: Path) -> str:
    first = path.read_bytes().splitlines()[0].decode()  # the rest may be hostile bytes
    assert first.startswith("# expect: ")
    message = first.removeprefix("# expect: ")
    return (
        message.replace("@DIR@", str(path.parent.resolve()))
        .replace("@ROOT@", str(ROOT))
        .replace("@PROVIDERS@", ", ".join(known_providers()))
        .replace("@CONFIG@", str(config))
    )


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # target lookup looks there
    rel = path.relative_to(ROOT)
    code = main(["run", str(rel), "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip()
    assert err == f"error: {rel}: {expected(path, tmp_path / 'config')}"
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


SERIAL = 'kind = "serial"\nport = "/dev/ttyACM0"\nmodel = "cnn"\nvariant = "fp32"\n'
TARGET_CASES: dict[str, tuple[str | bytes, str]] = {
    "unknown_kind": (
        'kind = "jtag"\n',
        f'kind: unknown value "jtag"; valid choices: {", ".join(sorted(TARGET_KINDS))}',
    ),
    "unknown_key": (
        'kind = "local"\npin_cpu = [0]\n',
        'top level: unknown key "pin_cpu"; '
        "valid keys: benchmark_bin, budgets, cooldown_below_c, cooldown_max_wait_s, description, "
        "kind, name, pin_cpus, power, python",
    ),
    "missing_cpu": (
        'kind = "local"\npin_cpus = [4096]\n',
        f"pin_cpus: CPU 4096 does not exist; valid: 0..{(os.cpu_count() or 1) - 1}",
    ),
    "bad_budget": (
        'kind = "local"\n[budgets]\nram = 1\n',
        '[budgets]: unknown key "ram"; valid keys: '
        "accuracy_drop_max, accuracy_min, active_power_mw, battery_life_hours_min, "
        "energy_per_inference_mj, latency_p50_ms, latency_p90_ms, latency_p99_ms, "
        "model_memory_mb, model_size_kb, peak_memory_mb, tflm_arena_kb",
    ),
    "serial_baud": (
        SERIAL + "baud = 99999999999\n",
        "baud: expected 50..12000000, got 99999999999",
    ),
    "serial_timeout_inf": (
        SERIAL + "timeout_s = inf\n",
        "timeout_s: expected a finite number, got inf",
    ),
    "serial_reconnect_nan": (
        SERIAL + "reconnect_s = nan\n",
        "reconnect_s: expected a finite number, got nan",
    ),
    "ssh_host_option": (
        'kind = "ssh"\nhost = "-oProxyCommand=touch /tmp/pwned"\n',
        'host: refusing "-oProxyCommand=touch /tmp/pwned": '
        'ssh would read a leading "-" as an option',
    ),
    "ssh_host_space": (
        'kind = "ssh"\nhost = "pi\\nProxyCommand x"\n',
        'host: expected a host name, address or ssh_config alias, got "pi\\nProxyCommand x"',
    ),
    "not_utf8": (
        b'kind = "local"\ndescription = "\xff board"\n',
        "line 2: byte 0xff is not UTF-8; TOML files must be UTF-8 text",
    ),
}


@pytest.mark.parametrize("case", sorted(TARGET_CASES))
def test_target_file_errors(
    case: str, tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    text, message = TARGET_CASES[case]
    suite = make_suite('[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n')
    target = tmp_path / "board.toml"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["run", str(suite), "--target", str(target)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {target}: {message}"
