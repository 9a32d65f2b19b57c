"""A target that stands for several boards (`count = N`): its cells spread over them.

Each cell goes to one board with all its repetitions (and with its partner cells of `benchy ab`),
so what is compared stays paired on one board. Cells that run are dealt round-robin in the
matrix's order, which spreads every model and variant over the boards. The rows keep the
target's name; `place` and `board` columns say where each cell ran.

References: a variant's accuracy drop and agreement are measured against the model's reference
variant on the same target, which may now run on another board (another thread). `References`
lets a cell wait for the reference cells other boards still have to finish.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from benchy.config import TargetConfig
from benchy.matrix import Cell
from benchy.results.schema import CellKey
from benchy.targets import TARGET_KINDS

J = TypeVar("J", bound=tuple[Any, Cell])

WAIT_SLICE_S = 0.2


def split(config: TargetConfig, jobs: Sequence[J]) -> list[tuple[TargetConfig, list[J]]]:
    """(lane config, its jobs) per board; one lane, all jobs, for a single device."""
    lanes = TARGET_KINDS[config.kind].lanes(config.options)
    if len(lanes) == 1:
        return [(dataclasses.replace(config, options=lanes[0]), list(jobs))]
    lane_of: dict[CellKey, int] = {}
    for applicable in (True, False):  # cells that run are dealt evenly; n/a rows are only written
        keys = dict.fromkeys(c.key for _, c in jobs if c.applicable is applicable)
        lane_of.update({key: i % len(lanes) for i, key in enumerate(keys)})
    shares: list[list[J]] = [[] for _ in lanes]
    for job in jobs:
        shares[lane_of[job[1].key]].append(job)
    return [
        (dataclasses.replace(config, options=options), share)
        for options, share in zip(lanes, shares, strict=True)
    ]


def merge_facts(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The target's facts as its boards open one by one: the latest board's facts, and every
    board's own facts under `boards` (keyed by place)."""
    if not old or "boards" not in new:
        return new
    return {**new, "boards": {**(old.get("boards") or {}), **new["boards"]}}


class References:
    """Which reference cells are still to finish, per (side, target, model), and by which lane.

    A cell whose reference runs on another lane waits for it (`wait`); one on its own lane never
    waits (its lane runs references first). Every reference cell ends as recorded (`done`) or
    abandoned with its lane (`lane_over`), so no wait outlives the lanes that could end it."""

    def __init__(self) -> None:
        self._pending: dict[Hashable, dict[CellKey, int]] = {}
        self._cond = threading.Condition()

    def expect(self, group: Hashable, cell: Cell, lane: int) -> None:
        with self._cond:
            self._pending.setdefault(group, {})[cell.key] = lane

    def done(self, group: Hashable, cell: Cell) -> None:
        with self._cond:
            self._pending.get(group, {}).pop(cell.key, None)
            self._cond.notify_all()

    def lane_over(self, lane: int) -> None:
        with self._cond:
            for pending in self._pending.values():
                for key in [k for k, owner in pending.items() if owner == lane]:
                    del pending[key]
            self._cond.notify_all()

    def wait(
        self, group: Hashable, lane: int, ready: Callable[[], bool], stop: threading.Event
    ) -> None:
        """Until `ready()` (the reference's outputs are in) or no other lane owes a reference."""
        with self._cond:
            while not ready() and not stop.is_set():
                owners = set(self._pending.get(group, {}).values())
                if not owners or lane in owners:
                    return
                self._cond.wait(WAIT_SLICE_S)
