"""Board farms on labgrid (`kind = "labgrid"` targets, benchy/targets/labgrid.py).

- agent.py        the labgrid side: a script run by a Python that has labgrid; JSON lines
- coordinator.py  the host side of the agent; PlaceState; FarmError, LeaseLost
- options.py      the target file's keys → LabgridOptions; pinned host keys
- lease.py        reserve → wait (with the reason) → acquire; resources; lease checks
- lanes.py        a target's cells spread over its boards; facts of every board
- survey.py       `benchy targets check`: matching places and who holds them
- serialdist.py   which distribution's files `import serial` runs (pyserial or labgrid's fork)
"""

# The target registry first: its labgrid target imports these modules, and they import targets.
import benchy.targets  # noqa: F401
