"""What a suite's dataset (.npz: one array per input, or x; labels y) must be before anything runs.

Only the .npy headers inside the archive are read (shape and dtype), not the arrays: a large
dataset is checked as fast as a small one, and an object array (which needs pickle) is refused
without ever being unpickled.
"""

from __future__ import annotations

import functools
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


def array_problem(
    path: Path, key: str, arrays: dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]]
) -> str | None:
    """Why array `key` (when present) cannot be dataset rows: not numbers, or a single value."""
    if key not in arrays:
        return None
    shape, dtype = arrays[key]
    if dtype.kind not in NUMBER_KINDS:
        kinds = ", ".join(NUMBER_KINDS.values())
        return f"{path.name}: {key} holds {_kind(dtype)}; expected numbers ({kinds})"
    if not shape:
        return f"{path.name}: {key} is a single value; expected one row per sample"
    return None


def dataset_problem(path: Path) -> str | None:
    """Why `path` cannot serve as a dataset, or None: arrays of numbers with one row per sample
    (first axis) — x, or one per input name — and, optionally, labels y. Other arrays may hold
    anything (class names…); whether the arrays the inputs take fit them and agree on the count
    is checked with the model (inputs/plan.py)."""
    try:
        arrays = dict(array_headers(path))
    except (OSError, ValueError) as exc:
        return f"expected an .npz file with one array per input and labels y: {exc}"
    if not set(arrays) - {"y"}:
        return f"{path.name} holds no input arrays (x, or one per input name); it has: " + (
            ", ".join(sorted(arrays)) or "nothing"
        )
    for key in ("x", "y"):
        problem = array_problem(path, key, arrays)
        if problem is not None:
            return problem
    if "x" in arrays:
        n = arrays["x"][0][0]
        if n == 0:
            return f"{path.name}: x holds no samples"
        if "y" in arrays and arrays["y"][0][0] != n:
            m = arrays["y"][0][0]
            return f"{path.name}: x holds {n} samples but y holds {m}; expected one y per sample"
    return None


@functools.lru_cache(maxsize=64)
def _cached_headers(
    path: Path, _size: int, _mtime_ns: int
) -> dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]]:
    return array_headers(path)


def headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype[np.generic]]]:
    """array_headers, read once per file version."""
    st = path.stat()
    return _cached_headers(path, st.st_size, st.st_mtime_ns)
