"""What a labgrid farm costs benchy, on loopback: a real coordinator and exporter (tests/farm.py),
two sshd "boards" (tests/sshd.py).

    python benchmarks/farm_overhead.py [--rounds 10] [--full]

1. Per target, reserve + acquire + release (goal ≤ 3 s): benchy's agent started and connected,
   a reservation allocated and its place acquired, then released and the agent quit - what a
   farm target adds before and after its cells. Timed `--rounds` times.
2. Wall time of the wearable suite (`--quick`, or the full suite with `--full`) on one board
   (`place = "pi-1"`) and on two (`tags`, `count = 2`). Both loopback boards share this machine's
   cores, so two boards cannot halve the time here as two real boards would; the figure shows
   what the farm machinery adds and how the cells split.
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchy.farm.coordinator import Coordinator  # noqa: E402
from benchy.farm.lease import take  # noqa: E402
from benchy.targets import TARGET_KINDS  # noqa: E402
from benchy.tomltable import load_toml  # noqa: E402
from tests.farm import Farm, Place, farm  # noqa: E402
from tests.sshd import SshServer  # noqa: E402


def target_file(path: Path, lab: Farm, boards: list[SshServer], select: str) -> Path:
    keys = "".join(
        f'"pi-{i}" = "{" ".join((b.dir / "host_key.pub").read_text().split()[:2])}"\n'
        for i, b in enumerate(boards, 1)
    )
    path.write_text(
        f'kind = "labgrid"\ncoordinator = "{lab.address}"\n{select}\n'
        f'labgrid_python = "{lab.python}"\nidentity_file = "{boards[0].dir / "client_key"}"\n'
        f'ssh_config = "/dev/null"\npython = "{sys.executable}"\n'
        f'workdir = "{path.parent / "remote"}"\n[host_keys]\n{keys}'
    )
    return path


def lease_rounds(path: Path, rounds: int) -> list[tuple[float, float, float]]:
    """(agent start + connect, reserve + acquire, release + agent quit) per round, seconds."""
    opts = TARGET_KINDS["labgrid"].parse_options(load_toml(path, str(path)))
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        coordinator = Coordinator(opts.labgrid_python, opts.coordinator)
        coordinator.connect()
        t1 = time.perf_counter()
        lease = take(coordinator, opts, "bench", threading.Event())
        t2 = time.perf_counter()
        coordinator.request("release", place=lease.place, token=lease.token)
        coordinator.close()
        t3 = time.perf_counter()
        out.append((t1 - t0, t2 - t1, t3 - t2))
    return out


def suite_wall(target: Path, out: Path, full: bool) -> tuple[float, pd.DataFrame]:
    argv = [sys.executable, "-m", "benchy", "run", "suites/wearable.toml"]
    argv += [] if full else ["--quick"]
    t0 = time.perf_counter()
    subprocess.run(
        [*argv, "--target", str(target), "--out", str(out)], cwd=ROOT, capture_output=True,
        check=False,
    )  # fmt: skip
    return time.perf_counter() - t0, pd.read_parquet(out / "cells.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="the full suite, not --quick")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        boards = [SshServer.create(root / f"board-{i}") for i in (1, 2)]
        (boards[1].dir / "authorized_keys").write_text(
            (boards[0].dir / "client_key.pub").read_text()
        )
        user = getpass.getuser()
        resources = "".join(
            f"board-{i}:\n  NetworkService:\n    address: 127.0.0.1\n    username: {user}\n"
            f"    port: {b.port}\n"
            for i, b in enumerate(boards, 1)
        )
        places = [Place(f"pi-{i}", {"board": "loopback"}, [f"board-{i}"]) for i in (1, 2)]
        try:
            with farm(root / "farm", places, resources) as lab:
                one = target_file(root / "one.toml", lab, boards, 'place = "pi-1"')
                two = target_file(
                    root / "two.toml", lab, boards, 'tags = { board = "loopback" }\ncount = 2'
                )
                rounds = lease_rounds(one, args.rounds)
                total = [sum(r) for r in rounds]
                print(f"reserve + acquire + release per target, {args.rounds} rounds:")
                med, top = statistics.median(total), max(total)
                print(f"  total                  median {med:.2f} s, max {top:.2f} s (goal ≤ 3 s)")
                for i, what in enumerate(
                    ("agent start + connect", "reserve + acquire", "release + quit")
                ):
                    part = [r[i] for r in rounds]
                    med, top = statistics.median(part), max(part)
                    print(f"  {what:<22} median {med:.3f} s, max {top:.3f} s")
                suite_wall(one, root / "warm", args.full)  # uploads once; both boards share a disk
                for name, target in (("one board", one), ("two boards", two)):
                    wall, cells = suite_wall(target, root / name.replace(" ", "-"), args.full)
                    ok = cells[cells.status == "ok"]
                    split = ", ".join(f"{p}: {n}" for p, n in ok.groupby("place").size().items())
                    how = "" if args.full else " --quick"
                    print(f"wearable suite{how} on {name}: {wall:.1f} s wall, {len(ok)} cells ok")
                    print(f"  cells per place: {split}")
        finally:
            for b in boards:
                b.kill()


if __name__ == "__main__":
    main()
