"""Machine resources: memory estimates, available RAM, BLAS threads.

The memory model counts complex ``N x N`` matrices (``16 * 4**L`` bytes each, ``N = 2**L``) alive at
the peak of one sample's analysis; it is checked against measured peaks in ``benchmarks/``.
"""

from __future__ import annotations

import os

from .errors import InputError

#: Peak resident memory of one ``analyze_sample``, in complex ``N x N`` matrices above the
#: interpreter's base (``benchmarks/memory.py``; the live arrays are three matrices on both paths:
#: ``H`` and the ``zheevd`` workspaces, or ``T``, ``Z`` and the sorted ``Z``; the rest is BLAS
#: buffers and allocator slack).  Measured: fast path 3.96 (L = 10), 3.56 (11), 3.18 (12),
#: 3.16 (13), 3.22 (14: 13263 MiB); Schur path 3.65 (10), 3.18 (11).  Below L = 10 the 200 MiB
#: allowance dominates.
PEAK_MATRICES = 3.5


def matrix_bytes(L: int) -> int:
    """Bytes of one complex128 ``2**L x 2**L`` matrix."""
    return 16 * 4**L


def sample_memory_bytes(L: int) -> int:
    """Estimated peak resident memory of one sample's analysis at chain length ``L``."""
    return int(PEAK_MATRICES * matrix_bytes(L)) + 200 * 2**20


def available_memory_bytes() -> int:
    """Memory available to new processes (``MemAvailable`` of ``/proc/meminfo``, else total)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def format_bytes(n: float) -> str:
    """``1.5 GiB`` style."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(L: int, workers: int = 1) -> None:
    """Raise :class:`InputError` if ``workers`` samples at ``L`` would not fit in available RAM."""
    need = workers * sample_memory_bytes(L)
    have = available_memory_bytes()
    if need > have:
        who = f"{workers} workers at " if workers > 1 else ""
        raise InputError(
            f"L={L} is not allowed here: {who}L={L} needs about {format_bytes(need)} "
            f"but this machine has {format_bytes(have)} available"
        )


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
