"""Array backend dispatch: NumPy (+ SciPy LAPACK) on the CPU, CuPy on a CUDA GPU.

One object, :class:`Backend`, carries the array module ``xp`` and the few operations that differ
between devices (transfers, synchronisation, freeing memory, products without conjugated
copies); the Hermitian eigensolver of either device is
:func:`mbl_avalanche.spectrum.lapack.eigh_destroying`.  The algorithms in
:mod:`mbl_avalanche.spectrum` and :mod:`mbl_avalanche.bath` are written once against ``xp``.

Why CuPy and not torch: CuPy is a drop-in NumPy work-alike (the same function names, dtypes,
slicing and broadcasting), so the verified CPU code runs unchanged with ``xp = cupy``;
``cupy.linalg.eigh`` is cuSOLVER's ``zheevd`` (divide and conquer, the same algorithm class as the
CPU path), complex128 is first class, and the extra is one wheel (``cupy-cuda12x``) without a
second tensor library or autograd machinery.  torch would need a translation layer for every
array operation and defaults to float32, which is never adequate here (conventions, section 4).

Everything on the device is float64/complex128.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "BACKENDS",
    "Backend",
    "array_module",
    "blas_threads",
    "column_blocks",
    "get_backend",
    "gpu_available",
    "gpu_devices",
    "linalg_module",
    "run_blocks",
    "to_host",
]

_THREADPOOLS: Any = None


def _threadpools() -> Any:
    global _THREADPOOLS
    if _THREADPOOLS is None:
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS


def blas_threads() -> int:
    """The BLAS thread count in force (the largest over the loaded BLAS libraries; 1 if none):
    the number of cores a sample was given (``threads``, ``threadpool_limits``)."""
    info = _threadpools().select(user_api="blas").info()
    return max([int(i.get("num_threads") or 1) for i in info] + [1])


def column_blocks(n: int, width: int) -> list[slice]:
    """Consecutive slices ``[j, j + width)`` covering ``range(n)`` (the last one may be short)."""
    return [slice(j, min(n, j + width)) for j in range(0, n, width)]


def run_blocks(fn: Callable[[Any], None], blocks: Sequence[Any]) -> None:
    """``fn(b)`` for every ``b`` of ``blocks`` (independent work, e.g. disjoint column blocks of
    one output), on the CPU cores a sample was given.

    With :func:`blas_threads` ``= t > 1`` the blocks run on ``t`` Python threads, each with one
    BLAS thread (NumPy and BLAS release the GIL), so that many cache-sized products and
    element-wise passes use every core, which one multithreaded BLAS call on a narrow block
    does not; the BLAS limit is restored afterwards.  With one thread they run in order.  The
    result does not depend on the thread count (each block is computed the same way).
    """
    threads = min(blas_threads(), len(blocks))
    if threads <= 1:
        for b in blocks:
            fn(b)
        return
    with _threadpools().limit(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(fn, blocks):  # re-raises the first error of any block
                pass


#: Backends accepted by ``--backend`` and the ``backend=`` arguments.
BACKENDS = ("cpu", "gpu")


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise InputError(
            "backend='gpu' is not allowed here: CuPy is not installed "
            "(pip install 'mbl-avalanche[gpu]', i.e. cupy-cuda12x)"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise InputError(f"backend='gpu' is not allowed here: no CUDA device ({exc})") from exc
    if n < 1:  # pragma: no cover
        raise InputError("backend='gpu' is not allowed here: no CUDA device found")
    return cupy


def gpu_available() -> bool:
    """True if CuPy imports and sees at least one CUDA device."""
    try:
        _import_cupy()
    except InputError:
        return False
    return True


def gpu_devices() -> list[tuple[str, int]]:
    """The GPUs this process may use: ``(ordinal, memory in bytes)`` each, the ordinal as
    ``CUDA_VISIBLE_DEVICES`` names it (its entries in order where it is set, else ``"0"``,
    ``"1"``, ...).  Raises :class:`~mbl_avalanche.errors.InputError` without CuPy or a device.
    """
    cupy = _import_cupy()
    n = int(cupy.cuda.runtime.getDeviceCount())
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    names = visible if len([v for v in visible if v]) == n else [str(i) for i in range(n)]
    out = []
    for i in range(n):
        total = int(cupy.cuda.runtime.getDeviceProperties(i)["totalGlobalMem"])
        out.append((names[i], total))
    return out


@dataclass(frozen=True)
class Backend:
    """Array module and device-specific operations.

    Attributes
    ----------
    name : {"cpu", "gpu"}
    xp : module
        ``numpy`` or ``cupy``.
    """

    name: str
    xp: Any

    @property
    def is_gpu(self) -> bool:
        """Whether arrays live on a CUDA device."""
        return self.name == "gpu"

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """``a`` as an array of this backend (copied to the device if needed)."""
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a: Any) -> np.ndarray:
        """``a`` as a NumPy array (copied from the device if needed)."""
        if self.is_gpu:
            return self.xp.asnumpy(a)
        return np.asarray(a)

    def synchronize(self) -> None:
        """Wait for queued device work (for timings); no-op on the CPU."""
        if self.is_gpu:
            self.xp.cuda.Stream.null.synchronize()

    def free(self) -> None:
        """Return cached device memory to the driver; no-op on the CPU."""
        if self.is_gpu:
            self.xp.get_default_memory_pool().free_all_blocks()

    def ah_b(self, a: Any, b: Any) -> Any:
        """``a^dagger @ b`` without forming a conjugated copy of ``a`` where possible.

        ``a`` and ``b`` must have the same dtype (complex128, or complex64 on the CPU).
        """
        if self.is_gpu:
            return self.xp.matmul(a.conj().T, b)
        from scipy.linalg import blas

        if a.flags.f_contiguous:
            aa, ta = a, 2
        else:  # a.T is F-contiguous: a^dagger = conj(a.T^T) is not expressible; copy once
            aa, ta = np.asfortranarray(a), 2
        if b.flags.f_contiguous:
            bb, tb = b, 0
        elif b.flags.c_contiguous:
            bb, tb = b.T, 1
        else:
            bb, tb = np.asfortranarray(b), 0
        gemm = blas.zgemm if aa.dtype == np.complex128 else blas.cgemm
        return gemm(1.0, aa, bb, trans_a=ta, trans_b=tb)


_CPU = Backend("cpu", np)


def get_backend(name: str | Backend = "cpu") -> Backend:
    """The :class:`Backend` called ``name`` (``"cpu"`` or ``"gpu"``).

    Raises :class:`~mbl_avalanche.errors.InputError` for an unknown name, or for ``"gpu"`` when
    CuPy or a CUDA device is missing (the message says which).
    """
    if isinstance(name, Backend):
        return name
    if name == "cpu":
        return _CPU
    if name == "gpu":
        return Backend("gpu", _import_cupy())
    raise InputError(f"backend={name!r} is not allowed: choose one of {BACKENDS}")


def array_module(a: Any) -> Any:
    """``cupy`` for a CuPy array, else ``numpy`` (without importing CuPy needlessly)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


def to_host(a: Any) -> Any:
    """A NumPy array (or Python scalar) for a NumPy/CuPy array or scalar."""
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return a


def linalg_module(xp: Any) -> Any:
    """The SciPy-style ``linalg`` namespace for array module ``xp`` (``cholesky``,
    ``solve_triangular``): :mod:`scipy.linalg` for NumPy, ``cupyx.scipy.linalg`` for CuPy (a
    stand-in module may carry its own as ``_scipy_linalg``)."""
    own = getattr(xp, "_scipy_linalg", None)
    if own is not None:
        return own
    if xp is np:
        import scipy.linalg

        return scipy.linalg
    import cupyx.scipy.linalg  # type: ignore[import-not-found]  # pragma: no cover

    return cupyx.scipy.linalg  # pragma: no cover
