"""Which distribution's files `import serial` runs: pyserial, labgrid's fork pyserial-labgrid, or
one over the other. Stdlib only, Python ≥ 3.9: benchy imports it for its own environment, the
labgrid agent loads it by path in labgrid's, and `python serialdist.py` prints it as JSON."""

from __future__ import annotations

import json
from typing import Any

FORK = "pyserial-labgrid"


def serial_files() -> dict[str, Any]:
    """Whose files `import serial` runs here: pyserial, labgrid's fork, or - both installed -
    the one installed last, which overwrote the other's copy of serial/rfc2217.py (pip does not
    notice; plain pyserial over the fork makes labgrid's RFC2217 ports slow). Told apart by the
    sha256 of serial/rfc2217.py against each distribution's RECORD."""
    import base64
    import hashlib
    from importlib import metadata
    from pathlib import Path

    found: dict[str, tuple[str, bool]] = {}
    for name in ("pyserial", FORK):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        record = next((f for f in dist.files or () if str(f) == "serial/rfc2217.py"), None)
        ok = False
        if record is not None and record.hash is not None:
            try:
                data = Path(record.locate()).read_bytes()
            except OSError:
                data = b""
            digest = hashlib.new(record.hash.mode, data).digest()
            ok = base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == record.hash.value
        found[name] = (dist.version, ok)
    active = [f"{n} {v}" for n, (v, ok) in found.items() if ok]
    overwritten = [f"{n} {v}" for n, (v, ok) in found.items() if not ok]
    text = " and ".join(active) or "none"
    if overwritten:
        text += f" (over {', '.join(overwritten)})"
    lost = FORK in found and not found[FORK][1]
    if lost:
        text += (
            f": labgrid's RFC2217 fixes are gone; pip install --force-reinstall --no-deps {FORK}"
        )
    return {"serial": text, "fork_intact": FORK in found and not lost}


if __name__ == "__main__":
    print(json.dumps(serial_files()))
