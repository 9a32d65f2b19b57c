"""Valgrind client requests from Python: how a worker running under callgrind switches counting
on and off at exact places in its own code (stdlib only, Python >= 3.9).

valgrind.h's requests are a magic instruction sequence that does nothing on a real CPU and that
Valgrind's JIT recognises. Python cannot emit it, so this module writes the few bytes of one
function, `unsigned long request(unsigned long args[6])`, into an executable page and calls it
through ctypes. The bytes are valgrind.h's own sequence for the machine (x86_64 and aarch64; the
same ones `gcc` emits for VALGRIND_DO_CLIENT_REQUEST_EXPR), so under Valgrind they are requests
and natively they return 0. They are only ever called when the worker was started under Valgrind
(`on_valgrind()`), so the page is never executed natively.

The callgrind requests used (callgrind.h): ZERO_STATS before the timed loop, DUMP_STATS_AT after
it, TOGGLE_COLLECT around each invoke where the runtime has no symbol to toggle on, and
START_INSTRUMENTATION in the forked child (the fork server runs with instrumentation off, ~5×
faster than instrumented).
"""

from __future__ import annotations

import ctypes
import mmap
import platform
from typing import Any, Optional

RUNNING_ON_VALGRIND = 0x1001
_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)  # VG_USERREQ_TOOL_BASE('C', 'T')
DUMP_STATS = _CALLGRIND + 0
ZERO_STATS = _CALLGRIND + 1
TOGGLE_COLLECT = _CALLGRIND + 2
DUMP_STATS_AT = _CALLGRIND + 3
START_INSTRUMENTATION = _CALLGRIND + 4
STOP_INSTRUMENTATION = _CALLGRIND + 5

_ARM64 = (0xAA0003E4, 0xD2800003, 0x93CC0D8C, 0x93CC358C, 0x93CCCD8C, 0x93CCF58C,
          0xAA0A014A, 0xAA0303E0, 0xD65F03C0)  # fmt: skip
_CODE = {
    # xor edx,edx; mov rax,rdi; rol rdi,3; rol rdi,13; rol rdi,61; rol rdi,51;
    # xchg rbx,rbx (the request: rdx = request(rax)); mov rax,rdx; ret
    "x86_64": bytes.fromhex("31d2 4889f8 48c1c703 48c1c70d 48c1c73d 48c1c733 4887db 4889d0 c3"),
    # mov x4,x0; mov x3,#0; ror x12 by 3, 13, 51, 61; orr x10,x10,x10 (the request:
    # x3 = request(x4)); mov x0,x3; ret — little-endian words
    "aarch64": b"".join(word.to_bytes(4, "little") for word in _ARM64),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def on_valgrind() -> bool:
    """True when this process runs under Valgrind: its preload library is mapped (read from
    /proc, so nothing special is executed natively)."""
    try:
        with open("/proc/self/maps") as fh:
            return any("vgpreload_core" in line for line in fh)
    except OSError:
        return False


class ClientRequests:
    """The request function, made once per process (the page stays mapped while it lives)."""

    def __init__(self) -> None:
        machine = platform.machine().lower()
        code = _CODE.get(_ALIASES.get(machine, machine))
        if code is None:
            raise OSError("no Valgrind client requests for %s (have: x86_64, aarch64)" % machine)
        prot = mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=prot)  # may be refused (W^X kernels)
        self._page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        proto = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong))
        self._fn: Any = proto(address)
        self._toggle = (ctypes.c_ulong * 6)(TOGGLE_COLLECT, 0, 0, 0, 0, 0)

    def request(self, code: int, arg: int = 0) -> int:
        args = (ctypes.c_ulong * 6)(code, arg, 0, 0, 0, 0)
        return int(self._fn(args))

    def zero(self) -> None:
        self.request(ZERO_STATS)

    def toggle_function(self) -> Any:
        """A callable that toggles collection, with as few instructions as ctypes allows
        (~2,200 per call here, counted half before and half after what it brackets)."""
        fn, args = self._fn, self._toggle
        return lambda: fn(args)

    def start_instrumentation(self) -> None:
        self.request(START_INSTRUMENTATION)

    def stop_instrumentation(self) -> None:
        self.request(STOP_INSTRUMENTATION)

    def dump(self, label: str) -> None:
        """Write the counts so far to the next part file; its trigger line names `label`."""
        text = ctypes.create_string_buffer(label.encode())
        self.request(DUMP_STATS_AT, ctypes.addressof(text))


_REQUESTS: Optional[ClientRequests] = None


def requests() -> ClientRequests:
    """This process's client requests (raises OSError when they cannot be made here)."""
    global _REQUESTS
    if _REQUESTS is None:
        _REQUESTS = ClientRequests()
    return _REQUESTS
