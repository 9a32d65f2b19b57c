"""`benchy targets check` on a farm target: the matching places, their state and who holds them.

It takes no board: checking must not take a board away from a colleague's test.
"""

from __future__ import annotations

from benchy.errors import TargetError
from benchy.farm.coordinator import Coordinator
from benchy.farm.options import LabgridOptions
from benchy.farm.serialdist import serial_files
from benchy.targets.base import Survey


def _resources(resources: tuple[dict[str, object], ...]) -> str:
    return (
        ", ".join(f"{r['cls']}{'' if r.get('avail') else ' (offline)'}" for r in resources)
        or "none"
    )


def survey(opts: LabgridOptions) -> Survey:
    coordinator = Coordinator(opts.labgrid_python, opts.coordinator)
    try:
        coordinator.connect()
        places = coordinator.places()
    finally:
        coordinator.close()
    matching = [p for p in places if p.matches(opts.filter)]
    rows = tuple(
        (
            p.name,
            ", ".join(f"{k}={v}" for k, v in sorted(p.tags.items())),
            p.state(coordinator.owner),
            _resources(p.resources),
            p.comment,
        )
        for p in matching
    )
    free = sum(1 for p in matching if p.state() == "free")
    wanted = "all" if opts.count is None else str(opts.count)
    summary = (
        f"{len(matching)} of {len(places)} places on {opts.coordinator} match {opts.wanted}: "
        f"{free} free now; count = {wanted}. labgrid {coordinator.labgrid_version} as "
        f"{coordinator.owner}; its serial package: {coordinator.serial}; benchy's: "
        f"{serial_files()['serial']}"
    )
    needed = 1 if opts.count is None else opts.count
    if len(matching) < needed:
        raise TargetError(summary + f" (fewer than the {needed} this target needs)")
    return Survey(
        title=f"places for {opts.wanted}",
        columns=("place", "tags", "state", "resources", "comment"),
        rows=rows,
        summary=summary,
        ok=True,
    )
