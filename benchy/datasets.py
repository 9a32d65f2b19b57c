"""What a suite's dataset (.npz with arrays x and y) must be before anything runs.

Only the .npy headers inside the archive are read (shape and dtype), not the arrays: a large
dataset is checked as fast as a small one, and an object array (which needs pickle) is refused
without ever being unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

NUMBER_KINDS = {"b": "bool", "i": "int", "u": "uint", "f": "float"}


def _header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[np.generic]]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    return tuple(shape), dtype


def array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]]:
    """Shape and dtype of every array in an .npz archive. Raises ValueError or OSError."""
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as fh:
                        out[info.filename.removesuffix(".npy")] = _header(fh)
    except zipfile.BadZipFile as exc:
        raise ValueError(str(exc)) from None
    return out


def _kind(dtype: np.dtype[np.generic]) -> str:
    if dtype.kind == "O":
        return "object (Python objects, readable only with pickle)"
    if dtype.kind in ("U", "S"):
        return f"text ({dtype.str})"
    return str(dtype)


def dataset_problem(path: Path) -> str | None:
    """Why `path` cannot serve as a dataset, or None. x: (N, ...) numbers; y: (N, ...) numbers."""
    try:
        arrays = array_headers(path)
    except (OSError, ValueError) as exc:
        return f"expected an .npz file with arrays x and y: {exc}"
    if not {"x", "y"} <= set(arrays):
        return f"{path.name} must hold arrays x and y; it has {', '.join(sorted(arrays))}"
    for key in ("x", "y"):
        shape, dtype = arrays[key]
        if dtype.kind not in NUMBER_KINDS:
            kinds = ", ".join(NUMBER_KINDS.values())
            return f"{path.name}: {key} holds {_kind(dtype)}; expected numbers ({kinds})"
        if not shape:
            return f"{path.name}: {key} is a single value; expected one row per sample"
    n_x, n_y = arrays["x"][0][0], arrays["y"][0][0]
    if n_x == 0:
        return f"{path.name}: x holds no samples"
    if n_x != n_y:
        return f"{path.name}: x holds {n_x} samples but y holds {n_y}; expected one y per sample"
    return None
