"""Fixed cost per cell over SSH on loopback, with the connection reused and files already present.

    python benchmarks/ssh_overhead.py

Starts a real sshd on 127.0.0.1 (tests/sshd.py), runs the wearable suite with `--quick` twice
over SSH (the first run uploads, the second must upload nothing) and once locally, and reports
`overhead_s` (a cell's wall time minus the warmup, timed loop and accuracy pass the suite asked
for) per target, plus the wall time of each run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sshd import SshServer  # noqa: E402


def run(target: Path, out: Path) -> tuple[pd.DataFrame, float, str]:
    argv = [sys.executable, "-m", "benchy", "run", "suites/wearable.toml", "--quick"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*argv, "--target", str(target), "--out", str(out)], cwd=ROOT, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    cells = pd.read_parquet(out / "cells.parquet")
    return cells[cells.status == "ok"], wall, proc.stderr


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = SshServer.create(base / "sshd")
        try:
            pi = base / "pi.toml"
            pi.write_text(server.target_toml())
            local = base / "local.toml"
            local.write_text('kind = "local"\n')
            first, wall1, log1 = run(pi, base / "ssh1")
            second, wall2, log2 = run(pi, base / "ssh2")
            here, wall3, _ = run(local, base / "local")
        finally:
            server.kill()
    for name, cells, wall in (("ssh, first run", first, wall1), ("ssh, re-run", second, wall2),
                              ("local", here, wall3)):  # fmt: skip
        ms = cells.overhead_s / cells.repetitions * 1000  # per worker process
        print(
            f"{name:15s} {len(cells)} cells, run wall {wall:.1f} s; fixed cost per cell: "
            f"median {ms.median():.0f} ms, p90 {ms.quantile(0.9):.0f} ms, max {ms.max():.0f} ms"
        )
    print(f"uploads in first run: {log1.count('uploading')}; in re-run: {log2.count('uploading')}")


if __name__ == "__main__":
    main()
