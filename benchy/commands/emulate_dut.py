"""`benchy emulate-dut MODEL.tflite`: an MLPerf Tiny DUT on a pty, running real TFLite Micro.

Point a serial target at the port it prints (or at `--link PATH`, which survives an emulated
unplug). Every result from it is labelled emulated. Faults on demand, for testing hosts.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy.errors import TflmError, UsageError
from benchy.runtimes.tflm import tflm_arena_bytes, tflm_missing
from benchy.serial.faults import Faults
from benchy.serial.firmware import tflite_problem
from benchy.serial.ptylink import link_problem

EXPLAIN = {
    "drop": "probability that a byte is lost on the wire (both ways)",
    "corrupt": "probability that a byte gets a bit flipped on the wire (both ways)",
    "bad_hex_at": "garble a digit of the Nth `db HEX` chunk (repeatable)",
    "stall_at": "answer the Nth command only after --stall-s of silence (repeatable)",
    "reset_at": "reboot in the middle of the Nth command (repeatable)",
    "close_at": "close the port (unplug) when the Nth command arrives (repeatable)",
}


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds ≥ 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text}")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "emulate-dut",
        help="emulate an MCU running MLPerf Tiny firmware, on a pty",
        description="Emulate an MLPerf Tiny DUT on a pty pair with real TFLite Micro kernels. "
        "Runs until Ctrl-C (or --duration).",
    )
    p.add_argument("model", type=Path, help="the .tflite the emulated firmware holds")
    p.add_argument("--link", type=Path, help="also make this symlink to the port (stable path)")
    p.add_argument("--baud", type=_positive, help="pace both directions to baud/10 bytes/s")
    p.add_argument(
        "--results",
        choices=("float", "quantized"),
        default="float",
        help="print results dequantized (like the reference) or as raw integers",
    )
    p.add_argument("--duration", type=_seconds, help="stop after this many seconds")
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--drop", type=_probability, default=0.0, help=EXPLAIN["drop"])
    faults.add_argument("--corrupt", type=_probability, default=0.0, help=EXPLAIN["corrupt"])
    for key in ("bad_hex_at", "stall_at", "reset_at", "close_at"):
        faults.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            type=_positive,
            action="append",
            default=[],
            metavar="N",
            help=EXPLAIN[key],
        )
    faults.add_argument("--stall-s", type=_seconds, default=2.0, help="length of a stall (s)")
    faults.add_argument(
        "--reopen-after", type=_seconds, help="after a close, plug back in after this long (s)"
    )
    faults.add_argument("--seed", type=int, default=0, help="seed of the byte faults")
    p.set_defaults(func=cmd_emulate_dut)


def _check_model(model: Path) -> None:
    """The firmware's model must be a .tflite TFLite Micro runs: checked in a probe process
    first (a corrupt flatbuffer can crash TFLite Micro's C++, which would take the emulator)."""
    problem = tflite_problem(model)
    if problem is not None:
        raise UsageError(f"{model}: {problem}")
    if tflm_missing() is None:  # (missing: the emulator itself says which package, exit 3)
        try:
            tflm_arena_bytes(model)
        except TflmError as exc:
            raise UsageError(f"{model}: {exc}") from None


def cmd_emulate_dut(args: argparse.Namespace, console: Console) -> int:
    from benchy.serial.emulator import DutEmulator

    if not args.model.is_file():
        raise UsageError(f"{args.model}: file not found")
    if args.link is not None and (problem := link_problem(args.link)) is not None:
        raise UsageError(f"--link {problem}")
    _check_model(args.model)
    faults = Faults(
        drop=args.drop,
        corrupt=args.corrupt,
        bad_hex_at=tuple(args.bad_hex_at),
        stall_at=tuple(args.stall_at),
        stall_s=args.stall_s,
        reset_at=tuple(args.reset_at),
        close_at=tuple(args.close_at),
        reopen_after_s=args.reopen_after,
        seed=args.seed,
    )
    emulator = DutEmulator(
        args.model, faults=faults, baud=args.baud, link=args.link, results=args.results
    )
    port = emulator.start()
    pace = f"paced to {args.baud} baud" if args.baud else "not paced (a pty has no baud rate)"
    console.print(f"port {port}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"DUT emulator: {args.model.name} on TFLite Micro, {pace}"
        + (f"; faults: {faults}" if faults.any else "")
        + "; Ctrl-C stops",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    end = time.monotonic() + args.duration if args.duration else None
    try:
        while end is None or time.monotonic() < end:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    console.print(
        f"{emulator.injector.commands} commands; faults injected: {emulator.counts}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0
