"""What one sample costs and what the machine has: time and memory per sample, RAM, cores.

The package's one cost model, used by ``reproduce --dry-run``, the runner's estimate and ETA,
``status`` and the SLURM time and memory requests:

* time: :func:`sample_seconds` -- wall seconds of one sample through the ensemble runner
  (:data:`SAMPLE_SECONDS`, measured by ``benchmarks/cost_model.py``; beyond the table each site
  costs 8x, the ``O(N**3)`` eigensolver);
* memory: :func:`sample_memory_bytes` -- complex ``N x N`` matrices (``16 * 4**L`` bytes each,
  ``N = 2**L``) alive at the peak of one sample's analysis, checked against measured peaks in
  ``benchmarks/memory.py``.
"""

from __future__ import annotations

import os

from .errors import InputError

__all__ = [
    "GPU_PEAK_MATRICES",
    "GPU_SAMPLES_IN_FLIGHT",
    "GPU_SAMPLE_SECONDS",
    "HEISENBERG_SAMPLE_SECONDS",
    "MAX_NODE_MEMORY",
    "MODEL_PEAK_MATRICES",
    "MODEL_SAMPLE_SECONDS",
    "PEAK_MATRICES",
    "SAMPLE_SECONDS",
    "THREAD_SPEEDUP",
    "available_memory_bytes",
    "check_allocation",
    "check_matrix_memory",
    "check_memory",
    "cpu_count",
    "format_bytes",
    "gpu_sample_seconds",
    "matrix_bytes",
    "sample_memory_bytes",
    "sample_seconds",
    "samples_per_gpu",
    "usable_threads",
]

#: Peak resident memory of one ``analyze_sample``, in complex ``N x N`` matrices above the
#: interpreter's base (``benchmarks/memory.py``; the live arrays are three matrices on both paths:
#: ``H`` and the ``zheevd`` workspaces, or ``T``, ``Z`` and the sorted ``Z``; the rest is BLAS
#: buffers and allocator slack).  Measured: fast path 3.96 (L = 10), 3.56 (11), 3.18 (12),
#: 3.16 (13), 3.22 (14: 13263 MiB); Schur path 3.65 (10), 3.18 (11).  Below L = 10 the 200 MiB
#: allowance dominates.
PEAK_MATRICES = 3.5


#: Wall seconds of one sample with one BLAS thread through the ensemble runner (analysis,
#: record, shard; alpha = 30 and 1 alternating), measured by ``benchmarks/cost_model.py`` on the
#: development machine (2-core Xeon, OpenBLAS 0.3.31 with its SkylakeX kernels, idle), 2026-12-02.
#: L = 2, 3 are the L = 4 figure (fixed costs dominate).
SAMPLE_SECONDS: dict[int, float] = {
    2: 0.0029,
    3: 0.0029,
    4: 0.0029,
    5: 0.0033,
    6: 0.0047,
    7: 0.0094,
    8: 0.030,
    9: 0.145,
    10: 0.87,
    11: 5.78,
    12: 42.9,
}

#: Speed-up of one sample from two BLAS threads over one, same script and machine: below L = 11
#: two threads are slower (the products are too small to share).  Below the table's smallest L
#: nothing is credited; above its largest L its value holds.
THREAD_SPEEDUP: dict[int, float] = {9: 0.63, 10: 0.82, 11: 1.37, 12: 1.66}


#: Wall seconds of one random-field Heisenberg (XXZ) sample, sector by sector (eigensolver,
#: rates and the block-tridiagonal slow-mode solver; W = 10 and 2 alternating), same script
#: (``--model heisenberg``), machine and conditions, 2026-12-02, the other core running an
#: ensemble; L = 14 is one sample of ``benchmarks/sectors.py`` (analysis only).  Beyond the
#: table its ``8**dL`` rule overestimates (the cost grows by about 5-6x per site here).
HEISENBERG_SAMPLE_SECONDS: dict[int, float] = {
    2: 0.0024,
    3: 0.0024,
    4: 0.0024,
    5: 0.0027,
    6: 0.0034,
    7: 0.0060,
    8: 0.0128,
    9: 0.0428,
    10: 0.174,
    11: 0.792,
    12: 2.78,
    13: 18.0,
    14: 87.0,
}

#: Per-model tables of :func:`sample_seconds` (a model not listed: the Floquet table, whose dense
#: eigensolver is the most a sample can cost).
MODEL_SAMPLE_SECONDS: dict[str, dict[int, float]] = {
    "floquet": SAMPLE_SECONDS,
    "heisenberg": HEISENBERG_SAMPLE_SECONDS,
}


def sample_seconds(L: int, threads: int = 1, model: str = "floquet") -> float:
    """Estimated wall seconds of one sample at chain length ``L`` on ``threads`` BLAS threads.

    The model's table (:data:`MODEL_SAMPLE_SECONDS`; :data:`SAMPLE_SECONDS` for the Floquet
    model) within its range, ``8**dL`` times its last entry beyond; more than one thread is
    credited with the measured :data:`THREAD_SPEEDUP` of two (threads beyond two are not
    credited: unmeasured here).
    """
    table = MODEL_SAMPLE_SECONDS.get(model, SAMPLE_SECONDS)
    top, low = max(table), min(table)
    seconds = table[min(max(L, low), top)] * 8.0 ** max(L - top, 0)
    if threads > 1 and L >= min(THREAD_SPEEDUP):
        seconds /= THREAD_SPEEDUP[min(L, max(THREAD_SPEEDUP))]
    return float(seconds)


def matrix_bytes(L: int) -> int:
    """Bytes of one complex128 ``2**L x 2**L`` matrix."""
    return 16 * 4**L


#: Peak of one sample in complex ``N x N`` matrices per model (a model not listed:
#: :data:`PEAK_MATRICES`).  The sector-by-sector XXZ chain holds the real rate matrix, the
#: eigenvectors and the slow-mode factors: measured 1.95 GiB at L = 13 and 7.45 GiB at L = 14
#: (``benchmarks/sectors.py``, ``ru_maxrss``), i.e. 1.9 matrices with the allowance.
MODEL_PEAK_MATRICES: dict[str, float] = {"floquet": PEAK_MATRICES, "heisenberg": 1.9}


def sample_memory_bytes(L: int, model: str = "floquet") -> int:
    """Estimated peak resident memory of one sample's analysis at chain length ``L``."""
    peak = MODEL_PEAK_MATRICES.get(model, PEAK_MATRICES)
    return int(peak * matrix_bytes(L)) + 200 * 2**20


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
    """``1.5 GiB`` style (up to EiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} EiB"


def check_memory(L: int, workers: int = 1, model: str = "floquet") -> None:
    """Raise :class:`InputError` if ``workers`` samples at ``L`` would not fit in available RAM."""
    need = workers * sample_memory_bytes(L, model)
    have = available_memory_bytes()
    if need > have:
        who = f"{workers} workers at " if workers > 1 else ""
        raise InputError(
            f"L={L} is not allowed here: {who}L={L} needs about {format_bytes(need)} "
            f"but this machine has {format_bytes(have)} available"
        )


#: Memory of the largest node any request is sized for (16 TiB, above the largest shared-memory
#: machines in general use); a SLURM memory request beyond it is refused rather than printed.
MAX_NODE_MEMORY = 16 * 2**40

#: Allocations below this size are not checked against available memory (they always fit).
_SMALL_ALLOCATION = 256 * 2**20


def check_matrix_memory(L: int, what: str = "a matrix", itemsize: int = 16, rows: int = 0) -> None:
    """Raise :class:`InputError` before allocating a ``2**L x 2**L`` array (``itemsize`` bytes
    per entry: 16 for complex128, 8 for float64) that does not fit in available memory.

    ``rows`` (if given) replaces ``2**L`` as the number of rows and columns (a sector block).
    The message names ``L``, the bytes needed and the bytes available.  Models call it before
    they build an operator, so that an impossible ``L`` fails with one line instead of being
    killed by the kernel.
    """
    n = rows if rows else 2**L
    shape = f"{n}x{n}" if rows else f"2**{L} x 2**{L}"
    dtype = {16: "complex128", 8: "float64"}.get(itemsize, f"{itemsize}-byte")
    check_allocation(L, what, itemsize * n * n, f"one {shape} {dtype} array")


def check_allocation(L: int, what: str, need: int, array: str = "") -> None:
    """Raise :class:`InputError` if ``need`` bytes (for ``what`` at chain length ``L``: ``array``
    says what they hold) exceed the available memory; requests below 256 MiB are not checked."""
    if need <= _SMALL_ALLOCATION:
        return
    have = available_memory_bytes()
    if need > have:
        held = f" for {array}" if array else ""
        raise InputError(
            f"L={L} is not allowed here: {what} needs {need} bytes ({format_bytes(need)}){held} "
            f"but {have} bytes ({format_bytes(have)}) are available"
        )


def usable_threads(threads: int, workers: int = 1) -> tuple[int, str | None]:
    """``(threads, note)``: BLAS threads per sample clamped to the cores this process may use
    (``threads = 0``: ``cores // workers``), and a one-line note when the request was lowered
    (``None`` otherwise).  Records store the clamped value as ``blas_threads``."""
    cores = cpu_count()
    if threads <= 0:
        return max(1, cores // max(1, workers)), None
    if threads > cores:
        return cores, (
            f"threads={threads} exceeds the {cores} usable cores: using {cores} BLAS thread(s) "
            "per sample"
        )
    return threads, None


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


#: Peak device memory of one sample on the GPU in complex ``N x N`` matrices (the CuPy pool
#: peaked at 128 GiB at L = 15 on an H200, with the solvers' workspaces and the pool's slack:
#: docs/beyond_one_device.md).
GPU_PEAK_MATRICES = 8.0

#: Most samples in flight on one GPU (``per_gpu = 0``): up to L = 10 a sample's kernels are too
#: small to fill a device, L = 11, 12 half fill it, from L = 13 one sample does.  Not measured on
#: a device yet (benchmarks/gpu_check.py prints the per-sample times to check it against).
GPU_SAMPLES_IN_FLIGHT: dict[int, int] = {10: 4, 12: 2}


def samples_per_gpu(L: int, device_bytes: int) -> int:
    """Samples in flight per GPU (worker processes sharing it) at chain length ``L``: the
    :data:`GPU_SAMPLES_IN_FLIGHT` entry for the smallest listed ``L`` at or above ``L`` (1
    beyond the table), no more than fit in ``device_bytes`` at :data:`GPU_PEAK_MATRICES`
    matrices each (at least 1)."""
    want = next((v for k, v in sorted(GPU_SAMPLES_IN_FLIGHT.items()) if L <= k), 1)
    fit = int(device_bytes // max(1.0, GPU_PEAK_MATRICES * matrix_bytes(L)))
    return max(1, min(want, fit))


#: Wall seconds of one Floquet sample on one H200 with U_F built on the host (the table of
#: docs/_snippets/h200_table.md, 2026-11-26); below L = 12 taken as L = 12's, beyond L = 15
#: ``8**dL`` times L = 15's.  An upper estimate since U_F is built on the device.
GPU_SAMPLE_SECONDS: dict[int, float] = {12: 2.22, 13: 5.65, 14: 31.0, 15: 155.5}


def gpu_sample_seconds(L: int) -> float:
    """Estimated wall seconds of one sample on one GPU (:data:`GPU_SAMPLE_SECONDS`)."""
    top, low = max(GPU_SAMPLE_SECONDS), min(GPU_SAMPLE_SECONDS)
    return float(GPU_SAMPLE_SECONDS[min(max(L, low), top)] * 8.0 ** max(L - top, 0))
