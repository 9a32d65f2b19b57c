"""The SSH target against a real OpenSSH server on 127.0.0.1 (started per test)."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main

from .conftest import CNN_MODELS, QUICK_MEASURE, ROOT, one_repetition_unless_asked
from .sshd import SshServer

SUITE = '[matrix]\nruntimes = ["tflite", "onnxruntime"]\n' + CNN_MODELS


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    server = SshServer.create(tmp_path / "sshd")
    yield server
    server.kill()


def write_target(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run(*argv: str) -> int:
    return main(["run", *argv])


def remote_files(server: SshServer) -> dict[str, float]:
    root = server.dir / "remote benchy 'dir'"
    files = (p for p in root.rglob("*") if p.is_file() and p.name != ".benchy-workdir")
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in files}


def test_suite_over_ssh_matches_local_shape_and_reuploads_nothing(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, local_target: Path, tmp_path: Path
) -> None:
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    suite = make_suite(SUITE)
    assert (
        run(
            str(suite),
            "--target",
            str(pi),
            "--target",
            str(local_target),
            "--out",
            str(tmp_path / "r1"),
        )
        == 0
    )
    cells = pd.read_parquet(tmp_path / "r1" / "cells.parquet")
    remote, local = cells[cells.target == "pi"], cells[cells.target == "local"]
    key = ["model", "variant", "runtime", "delegate", "threads", "status"]
    assert remote[key].reset_index(drop=True).equals(local[key].reset_index(drop=True))
    ok = remote[remote.status == "ok"]
    assert len(ok) == 3
    assert ok.latency_p50_ms.notna().all() and ok.peak_rss_mb.notna().all()
    assert (ok.accuracy == local[local.status == "ok"].accuracy.to_numpy()).all()
    manifest = json.loads((tmp_path / "r1" / "run.json").read_text())
    facts = manifest["targets"]["pi"]
    assert facts["ssh"].startswith(f"{os.environ.get('USER', 'root')}@127.0.0.1:") or facts["ssh"]
    assert facts["runtimes"]["tflite"]["available"] and "cpu_model" in facts

    # Pushed by content hash into a private directory; a second run uploads nothing.
    root = sshd.dir / "remote benchy 'dir'"
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    before = remote_files(sshd)
    assert any(name.startswith("worker-") for name in before)
    assert sum(name.startswith("files/") for name in before) == 4  # 3 models + dataset
    assert run(str(suite), "--target", str(pi), "--out", str(tmp_path / "r2")) == 0
    assert remote_files(sshd) == before


def test_unknown_host_key_is_refused_with_advice(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path, capsys
) -> None:
    (sshd.dir / "known_hosts").write_text("")
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    out = tmp_path / "out"
    assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(out)) == 3
    cells = pd.read_parquet(out / "cells.parquet")
    errors = cells[cells.status == "error"].error
    assert len(errors) == 3
    assert errors.str.contains("the host key is not known — refusing to connect").all()
    assert errors.str.contains(f"ssh-keyscan -p {sshd.port} 127.0.0.1 >>").all()


def test_changed_host_key_is_refused(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path
) -> None:
    other = SshServer.create(tmp_path / "other")  # a different host key for the same address
    other.kill()
    line = (other.dir / "known_hosts").read_text().split()
    (sshd.dir / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {line[1]} {line[2]}\n")
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    out = tmp_path / "out"
    assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(out)) == 3
    errors = pd.read_parquet(out / "cells.parquet").query("status == 'error'").error
    assert errors.str.contains("the host key has CHANGED").all()
    assert errors.str.contains(f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'", regex=False).all()


def test_unreachable_port_fails_the_target_not_the_run(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, local_target: Path, tmp_path: Path
) -> None:
    sshd.kill()
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    out = tmp_path / "out"
    argv = [str(make_suite(SUITE)), "--target", str(pi), "--target", str(local_target)]
    assert run(*argv, "--out", str(out)) == 3
    cells = pd.read_parquet(out / "cells.parquet")
    pi_cells = cells[(cells.target == "pi") & (cells.status != "n/a")]
    assert set(pi_cells.status) == {"error"}
    assert pi_cells.error.str.contains("cannot connect").all()
    assert pi_cells.error.str.contains("Connection refused").all()
    assert set(cells[(cells.target == "local") & (cells.status != "n/a")].status) == {"ok"}


def test_missing_runtime_on_the_device_is_unavailable(  # type: ignore[no-untyped-def]
    sshd: SshServer, tflite_runtime_python: Path, make_suite, tmp_path: Path
) -> None:
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml(python=str(tflite_runtime_python)))
    out = tmp_path / "out"
    assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(out)) == 0
    cells = pd.read_parquet(out / "cells.parquet").query("status != 'n/a'")
    assert set(cells[cells.runtime == "tflite"].status) == {"ok"}
    assert set(cells[cells.runtime == "tflite"].runtime_module) == {"tflite_runtime"}
    ort = cells[cells.runtime == "onnxruntime"]
    assert set(ort.status) == {"unavailable"}
    assert ort.error.str.startswith("onnxruntime is not installed").all()


def test_sshd_killed_mid_run_keeps_finished_cells(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, local_target: Path, tmp_path: Path
) -> None:
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    measure = "[measure]\nmin_runs = 5\nmin_seconds = 0.5\nmax_seconds = 0.5\nwarmup_seconds = 0\n"
    suite = make_suite(
        SUITE + '[matrix.tflite]\ndelegates = ["xnnpack", "none"]\n', measure=measure
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchy", "run", str(suite), "--target", str(pi),
         "--target", str(local_target), "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    journal = out / "cells.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
        if any(r["target"] == "pi" and r["status"] == "ok" for r in rows):
            break
        time.sleep(0.05)
    sshd.kill()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    cells = pd.read_parquet(out / "cells.parquet")
    pi_cells = cells[(cells.target == "pi") & (cells.status != "n/a")]
    assert len(pi_cells) == 5  # every cell is accounted for
    assert (pi_cells.status == "ok").sum() >= 1
    lost = pi_cells[pi_cells.status != "ok"]
    assert len(lost) >= 1
    assert lost.error.str.contains("connection lost|target lost").all()
    assert set(cells[(cells.target == "local") & (cells.status != "n/a")].status) == {"ok"}


def test_targets_check_and_clean(sshd: SshServer, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    assert main(["targets", "check", str(pi)]) == 0
    out = capsys.readouterr().out
    assert "tflite" in out and "ai_edge_litert" in out and "onnxruntime" in out
    root = sshd.dir / "remote benchy 'dir'"
    assert (root / ".benchy-workdir").exists()
    assert main(["clean", "--target", str(pi)]) == 0
    assert not root.exists()
    assert "removed" in capsys.readouterr().out


def test_clean_refuses_a_directory_benchy_did_not_make(
    sshd: SshServer, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    foreign = sshd.dir / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not delete")
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml(workdir=str(foreign)))
    assert main(["clean", "--target", str(pi)]) == 0
    assert (foreign / "thesis.tex").exists()
    assert "no .benchy-workdir marker" in capsys.readouterr().out


def test_password_in_toml_is_a_config_error(tmp_path: Path, make_suite, capsys) -> None:  # type: ignore[no-untyped-def]
    pi = write_target(tmp_path / "pi.toml", 'kind = "ssh"\nhost = "pi"\npassword = "raspberry"\n')
    assert run(str(make_suite(SUITE)), "--target", str(pi)) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {pi}: password: passwords do not belong in TOML; use an SSH key"
    )


def test_silent_host_times_out_with_a_clear_error(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path
) -> None:
    """A host that accepts TCP but never speaks SSH (a hung board) fails after the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        text = sshd.target_toml().replace(
            f"port = {sshd.port}", f"port = {silent.getsockname()[1]}"
        )
        pi = write_target(
            tmp_path / "pi.toml", text.replace("connect_timeout_s = 5", "connect_timeout_s = 1")
        )
        out = tmp_path / "out"
        assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(out)) == 3
    errors = pd.read_parquet(out / "cells.parquet").query("status == 'error'").error
    assert len(errors) == 3
    assert errors.str.contains("timed out during banner exchange").all()


def test_ssh_config_alias_is_honoured(sshd: SshServer, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The user's ~/.ssh/config decides address, port, user, key and known_hosts for an alias."""
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host board\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {sshd.dir / 'client_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {sshd.dir / 'known_hosts'}\n"
    )
    pi = write_target(
        tmp_path / "board.toml",
        f'kind = "ssh"\nhost = "board"\nssh_config = "{config}"\npython = "{sys.executable}"\n'
        f'workdir = "{sshd.dir / "w"}"\n',
    )
    out = tmp_path / "out"
    assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(out)) == 0
    assert set(pd.read_parquet(out / "cells.parquet").query("status != 'n/a'").status) == {"ok"}


def test_power_is_sampled_on_the_device(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path
) -> None:
    """A device-side source runs in the board's worker: here a recorded RAPL tree, which the
    board's python sees through BENCHY_SYSFS (set by a wrapper: sshd passes no environment)."""
    from .fake_power import Rapl

    sysfs = tmp_path / "board-sys"
    sysfs.mkdir()
    sensor = Rapl(sysfs, lambda: 3.0, max_range_uj=2**32)
    python = tmp_path / "board-python"
    python.write_text(f'#!/bin/sh\nBENCHY_SYSFS="{sysfs}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    text = sshd.target_toml(python=str(python)) + '[power]\nsource = "rapl"\nidle_s = 0.3\n'
    pi = write_target(tmp_path / "pi.toml", text)
    measure = "[measure]\nmin_runs = 10\nmin_seconds = 0.5\nwarmup_seconds = 0\n"
    body = '[matrix]\nruntimes = ["tflite"]\n'
    body += '[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n'
    out = tmp_path / "out"
    sensor.start()
    try:
        assert (
            run(str(make_suite(body, measure=measure)), "--target", str(pi), "--out", str(out)) == 0
        )
    finally:
        sensor.stop()
    row = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").iloc[0]
    assert row.power_source == "rapl:package-0"
    assert row.active_power_mw == pytest.approx(3000, rel=0.08)


@pytest.mark.parametrize("extra", [(), ("-O", "exit"), ("-M", "-N", "-f")])
def test_a_host_that_looks_like_an_option_never_reaches_ssh_as_one(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """Even past validation, a host "-oProxyCommand=..." is a destination, not an option: ssh
    gets `--` before it (command, master and `-O exit` alike), so the command never runs."""
    from benchy.targets.ssh import Ssh, SshOptions

    pwned = tmp_path / "pwned"
    opts = SshOptions(host=f"-oProxyCommand=touch {pwned}", connect_timeout_s=2)
    argv = Ssh(opts, tmp_path).argv(*extra)
    subprocess.run([*argv, "true"], capture_output=True, timeout=30, check=False)
    assert not pwned.exists()
    assert argv[-2:] == ["--", opts.host]


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under root (root too) with its mode and, for files, its content."""
    paths = [root, *root.rglob("*")]
    return {
        str(p.relative_to(root)): (p.lstat().st_mode, p.read_bytes() if p.is_file() else None)
        for p in paths
    }


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [
        (
            "foreign",
            "already exists and holds files benchy did not put there (no .benchy-workdir marker)",
        ),
        ("empty", "is an empty directory benchy did not make (no .benchy-workdir marker)"),
        ("symlink", "is a symbolic link"),
    ],
)
def test_run_refuses_a_workdir_benchy_did_not_make_and_clean_leaves_it(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, local_target: Path, tmp_path: Path, capsys, kind: str, refusal: str
) -> None:
    """An existing directory (here one holding important/t.txt, as /home/pi would) is never
    made private, filled, or deleted by `benchy clean`: the target fails with the reason
    (exit 3), the other targets go on, and every mode and byte stays as it was."""
    precious = sshd.dir / "x"
    precious.mkdir(mode=0o755)
    precious.chmod(0o755)
    if kind != "empty":
        (precious / "important").mkdir()
        (precious / "important" / "t.txt").write_text("do not delete")
    workdir = precious
    if kind == "symlink":
        workdir = sshd.dir / "link"
        workdir.symlink_to(precious)
    before = _tree(precious)
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml(workdir=str(workdir)))
    out = tmp_path / "out"
    argv = [str(make_suite(SUITE)), "--target", str(pi), "--target", str(local_target)]
    assert run(*argv, "--out", str(out)) == 3
    cells = pd.read_parquet(out / "cells.parquet").query("status != 'n/a'")
    errors = cells[cells.target == "pi"].error
    assert len(errors) == 3
    expected = f"target failed: {getpass.getuser()}@127.0.0.1:{sshd.port}: workdir {workdir} "
    assert errors.str.startswith(f"{expected}{refusal}: refusing to use it").all()
    assert errors.str.contains("set workdir to a path that does not exist yet").all()
    assert set(cells[cells.target == "local"].status) == {"ok"}
    assert _tree(precious) == before

    capsys.readouterr()
    assert main(["targets", "check", str(pi)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and refusal in err

    assert main(["clean", "--target", str(pi)]) == 0
    assert "alone: it has no .benchy-workdir marker" in capsys.readouterr().out
    assert _tree(precious) == before
    assert workdir.is_symlink() or workdir.is_dir()


def test_clean_removes_only_what_benchy_put_in_its_workdir(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path, capsys
) -> None:
    """benchy creates the workdir (0700, parents too); clean removes the worker and the pushed
    files by name, and keeps the directory while it holds anything else."""
    root = sshd.dir / "new parent" / "benchy"
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml(workdir=str(root)))
    assert run(str(make_suite(SUITE)), "--target", str(pi), "--out", str(tmp_path / "r")) == 0
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    pushed = sorted(p.name for p in (root / "files").iterdir())
    assert len(pushed) == 4 and any(root.glob("worker-*.pyz"))
    (root / "notes.txt").write_text("mine")
    (root / "files" / "my-model.tflite").write_text("mine too")

    capsys.readouterr()
    assert main(["clean", "--target", str(pi)]) == 0
    out = capsys.readouterr().out
    assert "kept the directory: it also holds what benchy did not put there" in out
    assert sorted(p.name for p in root.rglob("*")) == [
        ".benchy-workdir", "files", "my-model.tflite", "notes.txt"
    ]  # fmt: skip

    (root / "notes.txt").unlink()
    (root / "files" / "my-model.tflite").unlink()
    assert main(["clean", "--target", str(pi)]) == 0
    assert f"removed {root}" in capsys.readouterr().out
    assert not root.exists() and root.parent.is_dir()


def test_models_with_external_data_and_several_inputs_run_on_the_board(  # type: ignore[no-untyped-def]
    sshd: SshServer, tiny: dict[str, Path], tmp_path: Path
) -> None:
    """An ONNX model whose weights live in weights.data goes to the board with that file
    beside it, under that name, in a folder named by both files' content; the streaming
    three-input model runs there as locally. `clean` removes the folder too."""
    from .tiny_models import WEIGHTS

    x = np.random.default_rng(5).uniform(-1, 1, size=(6, 1, 16)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x, y=(x @ WEIGHTS).reshape(6, 4))
    frames = np.random.default_rng(1).uniform(-1, 1, size=(8, 1, 16)).astype(np.float32)
    y = frames.mean(axis=(1, 2)) + np.arange(8) + 1.6
    np.savez(tmp_path / "frames.npz", input=frames, y=y)
    suite = tmp_path / "s.toml"
    suite.write_text(
        f"""
[models.w]
dataset = "x.npz"
metric = "mae"
[models.w.variants]
fp32 = "{tiny["weights"]}"
[models.vad]
dataset = "frames.npz"
metric = "mae"
dims = {{ batch = 1, sequence = 16 }}
[models.vad.variants]
fp32 = "{tiny["vad"]}"
[models.vad.inputs.state]
source = "zeros"
[models.vad.inputs.sr]
value = 16000
[models.vad.feedback]
stateN = "state"
"""
        + one_repetition_unless_asked(QUICK_MEASURE)
    )
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    assert run(str(suite), "--target", str(pi), "--out", str(tmp_path / "r")) == 0
    cells = pd.read_parquet(tmp_path / "r" / "cells.parquet")
    cells = cells[cells.status != "n/a"].set_index("model")
    assert cells.loc["w", "status"] == "ok" and cells.loc["w", "metric_value"] < 1e-6
    assert cells.loc["vad", "status"] == "ok" and cells.loc["vad", "metric_value"] < 1e-5
    files = remote_files(sshd)
    bundled = sorted(name for name in files if ".d/" in name)
    assert len(bundled) == 2
    folder = bundled[0].rsplit("/", 1)[0]
    assert bundled == [f"{folder}/weights.data", f"{folder}/weights.onnx"]
    assert folder.startswith("files/") and len(folder) == len("files/") + 64 + len(".d")
    assert main(["clean", "--target", str(pi)]) == 0
    assert not (sshd.dir / "remote benchy 'dir'").exists()


def test_ab_over_ssh_times_each_rounds_two_models_in_one_process_on_the_board(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path
) -> None:
    """`benchy ab` on a board: the pair requests (worker/pair.py) go to the board's worker like
    any cell, and every round of the candidate's cells was timed so."""
    pi = write_target(tmp_path / "pi.toml", sshd.target_toml())
    suite = make_suite(SUITE)
    out = tmp_path / "ab"
    code = main(["ab", str(suite), str(suite), "--target", str(pi), "--quick", "--out", str(out)])
    assert code in (0, 4)  # the same suite: pass, or a close call
    cells = pd.read_parquet(out / "candidate" / "cells.parquet")
    ok = cells[cells.status == "ok"]
    assert len(ok) == 3
    assert (ok["paired_rounds"] == ok["repetitions"]).all(), ok[["paired_rounds", "paired_error"]]
