"""Board farms: `kind = "labgrid"` targets against a real labgrid farm on 127.0.0.1.

One coordinator and one exporter for the module: two "boards" (real sshd servers, each with its
own host key, exported as NetworkService; board-1 also behind a network power switch) and one MCU
(the TFLite Micro DUT emulator on a pty, exported as RawSerialPort and served by ser2net).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.serial import EMULATOR_NAME

from .conftest import CNN_MODELS, MODELS, ROOT
from .farm import Farm, Place, PowerSwitch, farm, labgrid_bin
from .sshd import SshServer, free_port, ssh_available

pytestmark = pytest.mark.skipif(not ssh_available(), reason="no OpenSSH client")

SSH_SUITE = '[matrix]\nruntimes = ["tflite", "onnxruntime"]\n' + CNN_MODELS
LOOPBACK = 'tags = { board = "loopback" }'


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SshServer]]:
    root = tmp_path_factory.mktemp("boards")
    servers = [SshServer.create(root / f"board-{i}") for i in (1, 2)]
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def dut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed (Linux x86_64)")
    from benchy.serial.emulator import DutEmulator

    emu = DutEmulator(MODELS / "cnn_full_int8.tflite")
    emu.start()
    yield emu.port  # /dev/pts/N: labgrid's RawSerialPort wants a /dev path
    emu.stop()


@pytest.fixture(scope="module")
def power() -> Iterator[PowerSwitch]:
    switch = PowerSwitch()
    yield switch
    switch.close()


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory,
    boards: list[SshServer],
    dut: str,
    power: PowerSwitch,
) -> Iterator[Farm]:
    user = getpass.getuser()
    one, two = boards
    resources = (
        f"board-1:\n  NetworkService:\n    address: 127.0.0.1\n    username: {user}\n"
        f"    port: {one.port}\n"
        f"  NetworkPowerPort:\n    model: simplerest\n    host: '{power.url}'\n    index: 1\n"
        f"board-2:\n  NetworkService:\n    address: 127.0.0.1\n    username: {user}\n"
        f"    port: {two.port}\n"
        f"mcu-1:\n  RawSerialPort:\n    port: {dut}\n    speed: 115200\n"
    )
    places = [
        Place("pi-1", {"board": "loopback"}, ["board-1"]),
        Place("pi-2", {"board": "loopback"}, ["board-2"]),
        Place("mcu-1", {"board": "emu_nrf"}, ["mcu-1"]),
    ]
    with farm(tmp_path_factory.mktemp("farm"), places, resources) as f:
        yield f


def host_key(server: SshServer) -> str:
    return " ".join((server.dir / "host_key.pub").read_text().split()[:2])


def ssh_target(
    path: Path, lab: Farm, boards: list[SshServer], select: str = LOOPBACK, extra: str = ""
) -> Path:
    """A farm target whose boards' host keys are pinned per place."""
    one, two = boards
    path.write_text(
        f'kind = "labgrid"\ncoordinator = "{lab.address}"\n{select}\n'
        f'labgrid_python = "{lab.python}"\n'
        f'identity_file = "{one.dir / "client_key"}"\n'
        f'ssh_config = "/dev/null"\npython = "{sys.executable}"\n'
        f'workdir = "{one.dir.parent / "remote"}"\nconnect_timeout_s = 10\n'
        f"{extra}\n"
        f'[host_keys]\n"pi-1" = "{host_key(one)}"\n"pi-2" = "{host_key(two)}"\n'
    )
    # Both boards accept the one client key.
    (two.dir / "authorized_keys").write_text((one.dir / "client_key.pub").read_text())
    return path


def released(lab: Farm, *places: str) -> bool:
    """None of these places is acquired, and no reservation is left."""
    held = lab.client("who", check=True).stdout.split()
    return not set(places) & set(held) and "Reservation" not in lab.reservations()


def test_an_unreachable_coordinator_fails_the_target(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "rpi.toml"
    target.write_text(
        f'kind = "labgrid"\ncoordinator = "127.0.0.1:{free_port()}"\n{LOOPBACK}\n'
        f'labgrid_python = "{labgrid_bin() / "python"}"\n'
    )
    out = tmp_path / "out"
    assert (
        main(["run", str(make_suite(SSH_SUITE)), "--target", str(target), "--out", str(out)]) == 3
    )
    cells = pd.read_parquet(out / "cells.parquet")
    error = cells[cells.status != "n/a"].error.iloc[0]
    assert error.startswith("target failed: cannot reach the labgrid coordinator at 127.0.0.1:")


def test_example_suite_spread_over_two_boards(
    lab: Farm, boards: list[SshServer], tmp_path: Path
) -> None:
    target = ssh_target(tmp_path / "rpi.toml", lab, boards, extra="count = 2")
    out = tmp_path / "out"
    suite = ROOT / "suites" / "wearable.toml"
    code = main(["run", str(suite), "--quick", "--target", str(target), "--out", str(out)])
    cells = pd.read_parquet(out / "cells.parquet")
    assert code == 0, cells[["model", "variant", "status", "error"]]
    ran = cells[cells.status == "ok"]
    # One target, every cell once, spread over both places, every cell on one board.
    assert set(cells.target) == {"rpi"}
    assert not cells.duplicated(["model", "variant", "runtime", "delegate", "threads"]).any()
    per_place = ran.groupby("place").size()
    assert set(per_place.index) == {"pi-1", "pi-2"} and per_place.min() >= 10, per_place
    assert ran.board.notna().all() and (ran.repetitions == 5).all()
    # Accuracy drop against the reference variant, measured on whichever board ran it.
    compared = ran[ran.variant != "fp32"]
    assert compared.accuracy_drop.notna().all(), compared[["place", "variant", "accuracy_drop"]]
    facts = json.loads((out / "run.json").read_text())["targets"]["rpi"]
    assert set(facts["boards"]) == {"pi-1", "pi-2"}
    assert (
        facts["labgrid"]["boards"] == 2 and "pyserial-labgrid" in facts["labgrid"]["labgrid_serial"]
    )
    # Both boards were held at once: both acquisitions precede the first release.
    log = [ln for ln in (lab.dir / "coordinator.log").read_text().splitlines() if "place " in ln]
    events = [ln for ln in log if "place acquired" in ln or "place released" in ln]
    first_release = next(i for i, ln in enumerate(events) if "released" in ln)
    held = {ln.split(":")[0] for ln in events[:first_release]}
    assert {"pi-1", "pi-2"} <= held, events
    assert released(lab, "pi-1", "pi-2")


def test_a_held_place_is_waited_for_and_its_holder_named(
    lab: Farm,
    boards: list[SshServer],
    tmp_path: Path,
    make_suite,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    suite = make_suite(SSH_SUITE)
    lab.client("-p", "pi-1", "acquire", user="alice", check=True)
    try:
        target = ssh_target(
            tmp_path / "pi1.toml", lab, boards, 'place = "pi-1"', "reserve_timeout_s = 3"
        )
        out = tmp_path / "timeout"
        with caplog.at_level("INFO"):
            assert main(["run", str(suite), "--target", str(target), "--out", str(out)]) == 3
        cells = pd.read_parquet(out / "cells.parquet")
        ran = cells[cells.status != "n/a"]
        expected = (
            "target failed: no place pi-1 became free within 3 s: pi-1 acquired by lab-pc/alice"
        )
        assert (ran.error == expected).all(), ran.error.tolist()
        assert "waiting for place pi-1" in caplog.text and "lab-pc/alice" in caplog.text
        assert lab.holder("pi-1") == "lab-pc/alice"
        assert "Reservation" not in lab.reservations()  # benchy's was cancelled

        # Freed while benchy waits: benchy gets it and runs.
        threading.Timer(2.0, lambda: lab.client("-p", "pi-1", "release", user="alice")).start()
        patient = ssh_target(tmp_path / "pi1b.toml", lab, boards, 'place = "pi-1"')
        out = tmp_path / "waited"
        assert main(["run", str(suite), "--target", str(patient), "--out", str(out)]) == 0
        cells = pd.read_parquet(out / "cells.parquet")
        assert set(cells[cells.status == "ok"].place) == {"pi-1"}
    finally:
        lab.client("-p", "pi-1", "release", "--kick")
    assert released(lab, "pi-1")


def _benchy(args: list[str], out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "benchy", "run", *args, "--out", str(out)],
        env=env, stdout=subprocess.DEVNULL, stderr=(out.parent / f"{out.name}.log").open("wb"),
    )  # fmt: skip


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_releases_every_board(
    lab: Farm,
    boards: list[SshServer],
    tmp_path: Path,
    make_suite,
    how: signal.Signals,  # type: ignore[no-untyped-def]
) -> None:
    slow = "[measure]\nrepetitions = 20\nmin_seconds = 0.2\ntimeout_s = 60\n"
    suite = make_suite(SSH_SUITE, measure=slow)
    target = ssh_target(tmp_path / "rpi.toml", lab, boards, extra="count = 2")
    out = tmp_path / "out"
    proc = _benchy([str(suite), "--target", str(target)], out)
    try:
        lab.wait_for(
            lambda: (
                proc.poll() is not None or {"pi-1", "pi-2"} <= set(lab.client("who").stdout.split())
            ),
            "both boards acquired",
        )
        assert proc.poll() is None, (tmp_path / "out.log").read_text()
        proc.send_signal(how)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == signal.SIGINT:
        assert code == 130, (tmp_path / "out.log").read_text()[-3000:]
    # SIGTERM kills benchy outright; its agents see their input close and give the boards back.
    lab.wait_for(lambda: released(lab, "pi-1", "pi-2"), "the boards to be released")


def test_serial_place_runs_the_mcu_cells(lab: Farm, tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    suite = make_suite(
        '[matrix]\nruntimes = ["tflite", "tflm"]\n'
        '[models.cnn]\ndataset = "@DATA@"\ndataset_limit = 8\n[models.cnn.variants]\n'
        'full_int8 = "@MODELS@/cnn_full_int8.tflite"\n'
    )
    target = tmp_path / "nrf.toml"
    target.write_text(
        f'kind = "labgrid"\ncoordinator = "{lab.address}"\nrole = "serial"\n'
        f'tags = {{ board = "emu_nrf" }}\nlabgrid_python = "{lab.python}"\n'
        'model = "cnn"\nvariant = "full_int8"\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(suite), "--target", str(target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    tflm = cells[cells.runtime == "tflm"].iloc[0]
    assert tflm.status == "ok" and tflm.place == "mcu-1" and bool(tflm.emulated)
    assert tflm.latency_p50_ms > 0 and tflm.accuracy is not None
    assert tflm.board == EMULATOR_NAME  # the DUT's own name
    assert (cells[cells.runtime == "tflite"].status == "n/a").all()
    facts = json.loads((out / "run.json").read_text())["targets"]["nrf"]
    assert facts["port"].startswith("rfc2217://127.0.0.1:")
    assert released(lab, "mcu-1")


def test_a_lost_lease_fails_the_remaining_cells(
    lab: Farm,
    boards: list[SshServer],
    tmp_path: Path,
    make_suite,  # type: ignore[no-untyped-def]
) -> None:
    slow = "[measure]\nrepetitions = 4\nmin_seconds = 0.2\ntimeout_s = 60\n"
    suite = make_suite(SSH_SUITE, measure=slow)
    target = ssh_target(tmp_path / "pi.toml", lab, boards, 'place = "pi-2"')
    out = tmp_path / "out"
    proc = _benchy([str(suite), "--target", str(target)], out)
    try:
        # The first rows (cells not applicable) are written once the board is up.
        lab.wait_for(lambda: (out / "cells.jsonl").exists() or proc.poll() is not None, "a row")
        lab.client("-p", "pi-2", "release", "--kick", user="alice", check=True)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 3
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status != "n/a"]
    lost = ran[ran.error.fillna("").str.contains("lease lost: place pi-2 was released")]
    assert len(lost) == len(ran), ran[["variant", "status", "error"]]
    assert released(lab, "pi-2")


def test_power_cycle_before_the_run(
    lab: Farm,
    boards: list[SshServer],
    power: PowerSwitch,
    tmp_path: Path,
    make_suite,  # type: ignore[no-untyped-def]
) -> None:
    suite = make_suite(SSH_SUITE)
    extra = "power_cycle_before = true\npower_off_s = 0.1"
    target = ssh_target(tmp_path / "pi.toml", lab, boards, 'place = "pi-1"', extra)
    out = tmp_path / "out"
    power.calls.clear()
    assert main(["run", str(suite), "--target", str(target), "--out", str(out)]) == 0
    assert power.calls == ["/relay/1/0", "/relay/1/1"]  # off, then on: labgrid's cycle
    cells = pd.read_parquet(out / "cells.parquet")
    assert cells[cells.status == "ok"].power_cycled.all()
    board = json.loads((out / "run.json").read_text())["targets"]["pi"]["boards"]["pi-1"]
    assert board["power_cycle"]["resource"] == "farm/board-1/NetworkPowerPort/NetworkPowerPort"

    # A place without a power resource cannot do it: the target fails, the place is released.
    other = ssh_target(tmp_path / "pi2.toml", lab, boards, 'place = "pi-2"', extra)
    assert main(["run", str(suite), "--target", str(other), "--out", str(tmp_path / "o2")]) == 3
    cells = pd.read_parquet(tmp_path / "o2" / "cells.parquet")
    assert cells[cells.status != "n/a"].error.str.contains("has no power resource").all()
    assert released(lab, "pi-1", "pi-2")


def test_host_keys_are_checked_per_place(
    lab: Farm,
    boards: list[SshServer],
    tmp_path: Path,
    make_suite,  # type: ignore[no-untyped-def]
) -> None:
    """A pinned key that is not the board's is refused, as is a board with no known key."""
    suite = make_suite(SSH_SUITE)
    target = ssh_target(tmp_path / "pi.toml", lab, boards, 'place = "pi-1"')
    text = target.read_text().replace(host_key(boards[0]), host_key(boards[1]))
    target.write_text(text)
    assert main(["run", str(suite), "--target", str(target), "--out", str(tmp_path / "o")]) == 3
    cells = pd.read_parquet(tmp_path / "o" / "cells.parquet")
    error = cells[cells.status != "n/a"].error.iloc[0]
    assert "place pi-1" in error and "CHANGED" in error, error

    unpinned = target.read_text().split("[host_keys]")[0]
    target.write_text(unpinned + f'known_hosts = "{tmp_path / "empty_known_hosts"}"\n')
    (tmp_path / "empty_known_hosts").write_text("")
    assert main(["run", str(suite), "--target", str(target), "--out", str(tmp_path / "o2")]) == 3
    cells = pd.read_parquet(tmp_path / "o2" / "cells.parquet")
    error = cells[cells.status != "n/a"].error.iloc[0]
    assert "host key is not known" in error and "[host_keys]" in error, error
    assert released(lab, "pi-1")


def test_targets_check_lists_places_and_holders(
    lab: Farm, boards: list[SshServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ssh_target(tmp_path / "rpi.toml", lab, boards, extra='count = "all"')
    lab.client("-p", "pi-2", "acquire", user="alice", check=True)
    try:
        assert main(["targets", "check", str(target)]) == 0
        out = capsys.readouterr().out
        assert "pi-1" in out and "free" in out
        assert "pi-2" in out and "acquired by lab-pc/alice" in out
        assert "2 of 3 places" in out and "mcu-1" not in out.split("2 of 3")[0]
        assert lab.holder("pi-1") is None  # checking takes no board
    finally:
        lab.client("-p", "pi-2", "release", user="alice")
    nothing = ssh_target(tmp_path / "x.toml", lab, boards, 'tags = { board = "rpi9" }')
    assert main(["targets", "check", str(nothing)]) == 3
    assert "0 of 3 places" in capsys.readouterr().err


def test_clean_every_matching_board(
    lab: Farm, boards: list[SshServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Last in this file: it removes the workdir the boards share here."""
    target = ssh_target(tmp_path / "rpi.toml", lab, boards)
    workdir = boards[0].dir.parent / "remote"
    assert (workdir / ".benchy-workdir").exists()
    assert main(["clean", "--target", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"pi-1: removed {workdir}" in out and "pi-2: nothing to clean" in out, out
    assert not workdir.exists()
    assert released(lab, "pi-1", "pi-2")
