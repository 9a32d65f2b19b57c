"""Typed errors. Each maps to a documented exit code in the CLI."""

from __future__ import annotations

from benchy import exitcodes


class BenchyError(Exception):
    """Base class for errors benchy reports as one line, without a traceback."""

    exit_code = exitcodes.ERROR


class ConfigError(BenchyError):
    """A suite or target file is wrong. The message names file, table and key."""

    exit_code = exitcodes.USAGE

    def __init__(
        self,
        file: str,
        where: str,
        message: str,
        table: str | None = None,
        key: str | None = None,
    ) -> None:
        self.file, self.where, self.reason = file, where, message
        self.table = table
        """The TOML table, dotted (`models.cnn`); "" for the top level; None when the error is
        about an argument rather than a file's table."""
        self.key = key
        place = f"{file}: {where}: " if where else f"{file}: "
        super().__init__(place + message)


class UsageError(BenchyError):
    """The command line is wrong."""

    exit_code = exitcodes.USAGE


class TargetError(BenchyError):
    """A target cannot be used (unreachable, worker died, protocol broken)."""

    exit_code = exitcodes.ERROR


class CellTimeout(TargetError):
    """A cell did not answer within its time limit."""


class PortUnavailable(TargetError):
    """A serial port is missing, cannot be opened, or vanished and did not come back."""


class ProtocolError(TargetError):
    """A device said something benchy cannot use (garbage, a missing field, a broken reply)."""


class DutError(ProtocolError):
    """The device under test answered a command with an `e-[...]` error line."""


class DutReset(ProtocolError):
    """The device under test rebooted in the middle of a command (`m-init-done` arrived)."""


class DutTimeout(CellTimeout):
    """The device under test did not finish its answer (`m-ready`) in time."""


class TflmError(BenchyError):
    """TFLite Micro cannot do what was asked: not installed, or the model uses types or
    kernels it lacks (dynamic-range int8, float16)."""
