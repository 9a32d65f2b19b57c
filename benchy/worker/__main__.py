"""Entry point of the worker (`python worker-<sha>.pyz serve`, or `python -m benchy.worker`).

numpy is imported first so that its absence is a protocol reply, not a traceback."""

from __future__ import annotations

import json
import os
import sys


def run() -> int:
    # BLAS threads are never used here; fewer threads make fork() safe and cheap.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import numpy  # noqa: F401
    except ImportError as exc:
        sys.stdout.write(json.dumps({"ok": False, "error": "numpy is not installed: %s" % exc}))
        sys.stdout.write("\n")
        return 3
    from benchy.worker.server import main

    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(run())
