"""Farm targets without a farm: their target files, how cells are spread over boards, how a cell
waits for its reference on another board, and what the waiting says."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.config import TargetConfig, load_target
from benchy.farm.coordinator import PlaceState
from benchy.farm.lanes import References, merge_facts, split
from benchy.farm.lease import waiting_reason
from benchy.farm.options import pinned_known_hosts
from benchy.matrix import Cell
from benchy.runtimes import Delegate
from benchy.targets import TARGET_KINDS

from .conftest import CNN_MODELS, MODELS

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEf2b9c1+Jx1d6I4bqQm5i7m5yGq0Dq3v3bB2K1mWkzz"
BASE = f'kind = "labgrid"\ncoordinator = "127.0.0.1:1"\nlabgrid_python = "{sys.executable}"\n'

CASES = {
    "crossbar_url": (
        'kind = "labgrid"\ncoordinator = "ws://farm:20408/ws"\ntags = { board = "rpi5" }\n',
        'coordinator: "ws://farm:20408/ws" is a crossbar URL (labgrid < 24); labgrid ≥ 24 '
        'coordinators speak gRPC: give "HOST:PORT", e.g. "farm:20408"',
    ),
    "place_and_tags": (
        BASE + 'place = "pi5-1"\ntags = { board = "rpi5" }\n',
        'place: give either place = "NAME" or tags, not both',
    ),
    "neither": (
        BASE,
        'tags: required: tags = { board = "rpi5" } (any free place with them), or place',
    ),
    "count_with_place": (
        BASE + 'place = "pi5-1"\ncount = 2\n',
        "count: needs tags: a single place is one board",
    ),
    "count_word": (
        BASE + 'tags = { board = "rpi5" }\ncount = "many"\n',
        'count: expected an integer ≥ 1 or "all", got "many"',
    ),
    "tag_key": (
        BASE + 'tags = { Board = "rpi5" }\n',
        "[tags].Board: labgrid tag keys are lower-case letters, digits and _, "
        "starting with a letter",
    ),
    "host_key": (
        BASE + 'tags = { board = "rpi5" }\n[host_keys]\n"pi5-1" = "AAAA"\n',
        "[host_keys].pi5-1: expected a host key as ssh-keyscan prints it without the host, e.g. "
        '"ssh-ed25519 AAAAC3Nza…" (types: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, '
        "ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, "
        'sk-ecdsa-sha2-nistp256@openssh.com), got "AAAA"',
    ),
    "role_key": (
        BASE + 'tags = { board = "nrf" }\nrole = "serial"\nmodel = "cnn"\nvariant = "int8"\n'
        "[host_keys]\n",
        'host_keys: belongs to role = "ssh", not "serial"',
    ),
    "serial_model": (
        BASE + 'tags = { board = "nrf" }\nrole = "serial"\n',
        "model: required key is missing",
    ),
    "password": (
        BASE + 'tags = { board = "rpi5" }\npassword = "raspberry"\n',
        "password: passwords do not belong in TOML; use an SSH key",
    ),
    "labgrid_python": (
        'kind = "labgrid"\ntags = { board = "rpi5" }\nlabgrid_python = "/no/such/python"\n',
        'labgrid_python: "/no/such/python" is not an executable (the Python that has labgrid)',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_farm_target_file_errors(
    case: str, tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    text, message = CASES[case]
    suite = make_suite(CNN_MODELS)
    target = tmp_path / "farm.toml"
    target.write_text(text)
    assert main(["run", str(suite), "--target", str(target)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {target}: {message}"


def test_coordinator_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "farm.toml"
    target.write_text('kind = "labgrid"\ntags = { board = "rpi5" }\n')
    monkeypatch.setenv("LG_COORDINATOR", "farm.example:20408")
    assert load_target(str(target)).options.coordinator == "farm.example:20408"
    monkeypatch.delenv("LG_COORDINATOR")
    assert load_target(str(target)).options.coordinator == "127.0.0.1:20408"  # labgrid's default
    monkeypatch.setenv("LG_COORDINATOR", "ws://old:20408/ws")
    with pytest.raises(Exception, match=r"\(from \$LG_COORDINATOR\)"):
        load_target(str(target))


def _farm(tmp_path: Path, body: str) -> TargetConfig:
    path = tmp_path / "rpi.toml"
    path.write_text(BASE + body)
    return load_target(str(path))


def _cells(n: int) -> list[Cell]:
    model = MODELS / "cnn_fp32.tflite"
    return [
        Cell("rpi", "cnn", f"v{i}", "tflite", Delegate("xnnpack", {}), 1, model) for i in range(n)
    ]


def test_cells_are_dealt_over_the_boards_with_their_partners(tmp_path: Path) -> None:
    config = _farm(tmp_path, 'tags = { board = "rpi5" }\ncount = 3\n')
    base, new = object(), object()
    cells = _cells(7)
    jobs = [(side, c) for c in cells for side in (base, new)]  # benchy ab: pairs
    lanes = split(config, jobs)
    assert [lane.options.slot for lane, _ in lanes] == [1, 2, 3]
    assert all(lane.name == "rpi" and lane.options.slots == 3 for lane, _ in lanes)
    owner = {}
    for i, (_, share) in enumerate(lanes):
        for _side, cell in share:
            assert owner.setdefault(cell.key, i) == i  # a cell and its partner: one board
    assert sorted(owner.values()) == [0, 0, 0, 1, 1, 2, 2]
    assert [len(share) for _, share in lanes] == [6, 4, 4]
    # Cells that run are dealt evenly, whatever the n/a rows in between.
    na = [Cell("rpi", "cnn", f"n{i}", "onnxruntime", Delegate("-", {}), 0, c.model_file, "n/a")
          for i, c in enumerate(cells)]  # fmt: skip
    mixed = [(base, c) for pair in zip(na, cells, strict=True) for c in pair]
    runs = [[c for _, c in share if c.applicable] for _, share in split(config, mixed)]
    assert [len(r) for r in runs] == [3, 2, 2]

    single = _farm(tmp_path, 'place = "pi5-1"\n')
    assert split(single, jobs) == [(single, jobs)]


def test_facts_of_every_board_are_kept() -> None:
    one = {"cpu": "a", "boards": {"pi-1": {"board": "Pi 5"}}}
    two = {"cpu": "b", "boards": {"pi-2": {"board": "Pi 5"}}}
    merged = merge_facts(merge_facts(None, one), two)
    assert merged == {"cpu": "b", "boards": {"pi-1": {"board": "Pi 5"}, "pi-2": {"board": "Pi 5"}}}
    assert merge_facts({"cpu": "a"}, {"cpu": "b"}) == {"cpu": "b"}  # not a farm


def test_a_cell_waits_for_the_reference_another_board_owes() -> None:
    refs, stop = References(), threading.Event()
    ref = _cells(1)[0]
    refs.expect("g", ref, lane=0)
    outputs: list[str] = []
    waited = threading.Event()

    def board_two() -> None:
        refs.wait("g", 1, lambda: bool(outputs), stop)
        waited.set()

    t = threading.Thread(target=board_two)
    t.start()
    assert not waited.wait(0.5)  # still owed
    outputs.append("reference outputs")
    refs.done("g", ref)
    t.join(10)
    assert waited.is_set()
    # Never for a reference its own board owes (it runs references first), nor for one that
    # no lane owes any more (failed, or its board gave up).
    refs.expect("g", ref, lane=1)
    refs.wait("g", 1, lambda: False, stop)
    refs.lane_over(1)
    refs.wait("g", 0, lambda: False, stop)
    refs.expect("g", ref, lane=0)
    stop.set()
    refs.wait("g", 1, lambda: False, stop)  # Ctrl-C ends every wait


def test_waiting_reason_names_every_holder() -> None:
    def place(name: str, **kw: object) -> PlaceState:
        data = {
            "name": name,
            "tags": {"board": "rpi5"},
            "resources": [{"path": "e/g/NS/NS", "avail": True}],
        }
        return PlaceState.from_reply({**data, **kw})

    places = [
        place("pi5-1", acquired="ci/alice"),
        place("pi5-2", reservation="T", reserved_for="lab/bob"),
        place("pi5-3", resources=[{"path": "e/g/NS/NS", "avail": False}]),
        place("x", tags={"board": "jetson"}),
    ]
    reason = waiting_reason(places, {"board": "rpi5"}, "me/root")
    assert reason == (
        "pi5-1 acquired by ci/alice; pi5-2 reserved for lab/bob; pi5-3 resources offline: e/g/NS/NS"
    )
    assert waiting_reason(places, {"name": "x"}, "me/root") == "x free"
    assert waiting_reason(places, {"board": "pi9"}, "me/root") == "no place matches"


def test_pinned_host_keys_file(tmp_path: Path) -> None:
    path = pinned_known_hosts(tmp_path, "pi-1", "10.0.0.7", 22, (KEY,))
    assert path.read_text() == f"10.0.0.7 {KEY}\n" and oct(path.stat().st_mode & 0o777) == "0o600"
    path = pinned_known_hosts(tmp_path, "pi-2", "127.0.0.1", 2201, (KEY, KEY))
    assert path.read_text() == f"[127.0.0.1]:2201 {KEY}\n" * 2


def test_a_serial_place_runs_only_its_firmware(tmp_path: Path) -> None:
    config = _farm(
        tmp_path, 'tags = { board = "nrf" }\nrole = "serial"\nmodel = "cnn"\nvariant = "int8"\n'
    )
    kind = TARGET_KINDS["labgrid"]
    assert kind.refuses(config.options, "cnn", "int8", "tflm") is None
    assert "holds cnn/int8" in str(kind.refuses(config.options, "cnn", "fp32", "tflm"))
    ssh = _farm(tmp_path, 'tags = { board = "rpi5" }\n')
    assert "serial targets only" in str(kind.refuses(ssh.options, "cnn", "int8", "tflm"))


@pytest.mark.skipif(
    importlib.util.find_spec("labgrid") is not None, reason="labgrid is installed here"
)
def test_labgrid_missing_says_how_to_get_it(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "rpi.toml"
    target.write_text(BASE + 'tags = { board = "rpi5" }\n')
    out = tmp_path / "out"
    assert (
        main(["run", str(make_suite(CNN_MODELS)), "--target", str(target), "--out", str(out)]) == 3
    )
    cells = pd.read_parquet(out / "cells.parquet")
    error = cells[cells.status != "n/a"].error.iloc[0]
    assert "labgrid is not importable" in error and "pip install 'benchy[farm]'" in error


@pytest.mark.parametrize("value", ["-oProxyCommand=touch /tmp/x", "pi;reboot", "a b", "$(id)", ""])
def test_names_from_the_coordinator_are_checked(value: str) -> None:
    """An exporter publishes a NetworkService's address and user name; ssh must not take one
    for an option, nor a shell for syntax."""
    from benchy.farm.coordinator import FarmError
    from benchy.targets.labgrid import _checked

    with pytest.raises(FarmError, match="refusing"):
        _checked(value, "address", "pi-1")
    for good in ("127.0.0.1", "pi5-1.lab.example", "fe80::1%eth0", "[::1]", "pi_user"):
        assert _checked(good, "address", "pi-1") == good
