"""Reading a callgrind output file (format: valgrind's docs, "Callgrind Format Specification"):
the total instructions, each function's self cost and the call arcs with their inclusive cost.
Stdlib only: the worker parses its own dump on the device and sends back a few numbers.

What the parser relies on: header lines `key: value` (`events:` names the cost columns,
`positions:` the position columns, `summary:` the total, `desc: Trigger:` why the dump was
written); `fn=`/`cfn=` set the current and the called function, with name compression
`(id) name` first and `(id)` after (one namespace for both); a `calls=N ...` line makes the next
cost line the inclusive cost of N calls to `cfn`, every other cost line is self cost of `fn`.
Positions may be absolute, `+n`, `-n` or `*`; missing trailing costs are 0.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Dict, List, Optional, Tuple

_NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


class Profile:
    """One dump. `arcs[(caller, callee)] = [calls, inclusive Ir]`."""

    def __init__(self) -> None:
        self.total = 0
        self.trigger = ""
        self.self_cost: Dict[str, int] = {}
        self.arcs: Dict[Tuple[str, str], List[int]] = {}

    def callees(self, caller: str) -> Dict[str, List[int]]:
        return {callee: v for (c, callee), v in self.arcs.items() if c == caller}

    def calls_to(self, callee: str) -> int:
        return sum(v[0] for (_, c), v in self.arcs.items() if c == callee)


def _name(value: str, names: Dict[str, str]) -> str:
    m = _NAME.match(value)
    if m is None:
        return value
    key, text = m.group(1), m.group(2)
    if text is not None:
        names[key] = text
    return names.get(key, value)


def parse(text: str) -> Profile:
    profile = Profile()
    names: Dict[str, str] = {}
    event, npos = 0, 1
    fn = callee = ""
    pending_calls: Optional[int] = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            fields = line.split()
            costs = fields[npos:]
            ir = int(costs[event]) if event < len(costs) else 0
            if pending_calls is not None:
                arc = profile.arcs.setdefault((fn, callee), [0, 0])
                arc[0] += pending_calls
                arc[1] += ir
                pending_calls = None
            else:
                profile.self_cost[fn] = profile.self_cost.get(fn, 0) + ir
            continue
        key, sep, value = line.partition("=")
        if sep and key in ("fn", "cfn", "cfi", "cfl", "fl", "fi", "fe", "ob", "cob", "calls"):
            if key == "fn":
                fn = _name(value, names)
            elif key == "cfn":
                callee = _name(value, names)
            elif key == "calls":
                pending_calls = int(value.split()[0])
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if key == "events":
            events = value.split()
            event = events.index("Ir") if "Ir" in events else 0
        elif key == "positions":
            npos = len(value.split())
        elif key == "summary":
            profile.total = int(value.split()[event])
        elif key == "desc" and value.startswith("Trigger:"):
            profile.trigger = value.split(":", 1)[1].strip()
    return profile


def find_dump(out_dir: str, pid: int, label: str) -> Optional[str]:
    """The part file this process dumped with `label` (callgrind.<pid>.<part>), if any."""
    prefix = "callgrind.%d." % pid
    try:
        names = sorted(n for n in os.listdir(out_dir) if n.startswith(prefix))
    except OSError:
        return None
    wanted = "Trigger: Client Request: %s" % label
    for name in names:
        path = os.path.join(out_dir, name)
        with open(path, errors="replace") as fh:
            head = fh.read(4096)
        if wanted in head:
            return path
    return None


def remove_dumps(out_dir: str, pid: int) -> None:
    """Delete what callgrind wrote for process `pid` (its parts and its final file)."""
    prefix = "callgrind.%d" % pid
    try:
        names = os.listdir(out_dir)
    except OSError:
        return
    for name in names:
        if name == prefix or name.startswith(prefix + "."):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(out_dir, name))
