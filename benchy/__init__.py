"""benchy: benchmark edge ML models on real targets against latency, memory and accuracy budgets.

As a library (see benchy/api.py): `benchy.run(SUITE)`, `benchy.load(RUN_DIR)`,
`benchy.history(SUITE)`; errors are `benchy.ConfigError` (file, table, key) and
`benchy.UsageError`, both `benchy.BenchyError`."""

__version__ = "0.2.0.dev0"

from benchy.api import Compared, Run, history, load, run
from benchy.errors import BenchyError, ConfigError, TargetError, UsageError

__all__ = [
    "BenchyError",
    "Compared",
    "ConfigError",
    "Run",
    "TargetError",
    "UsageError",
    "__version__",
    "history",
    "load",
    "run",
]
