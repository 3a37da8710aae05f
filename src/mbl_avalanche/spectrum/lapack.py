"""The one Hermitian eigensolver helper of the package: LAPACK ``?heevd`` with a full workspace.

Conventions, section 4: ``numpy.linalg.eigh`` and ``scipy.linalg.eigh(driver="evd")`` pass the
minimum workspace for complex matrices and run about 2x slower than ``zheevd`` given
``lwork = N**2 + 66 N``; the ``evr`` driver is as fast but its eigenvectors are about 1000x less
orthogonal.  Everything in the package that needs all eigenpairs of a dense Hermitian matrix
calls :func:`eigh_fast` (or, for arrays that may live on a GPU, :func:`eigh_destroying`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import lapack

from ..backend import Backend

__all__ = ["eigh_destroying", "eigh_fast"]


def eigh_fast(h: np.ndarray, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All eigenpairs (ascending) of a Hermitian matrix by LAPACK ``zheevd``/``dsyevd``.

    Full workspace (``lwork = N**2 + 66 N`` for ``zheevd``), lower triangle only (the upper one
    is not read).  With ``overwrite`` a Fortran-ordered ``h`` is destroyed instead of copied.
    """
    a = np.asarray(h)
    n = a.shape[0]
    if np.iscomplexobj(a):
        w, v, info = lapack.zheevd(
            a,
            compute_v=1,
            lower=1,
            lwork=n * n + 66 * n,
            lrwork=1 + 5 * n + 2 * n * n,
            liwork=3 + 5 * n,
            overwrite_a=int(overwrite),
        )
    else:
        w, v, info = lapack.dsyevd(
            a,
            compute_v=1,
            lower=1,
            lwork=1 + 6 * n + 2 * n * n,
            liwork=3 + 5 * n,
            overwrite_a=int(overwrite),
        )
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ?heevd failed with info={info}")
    return w, v


def eigh_destroying(h: Any, backend: Backend) -> tuple[Any, Any]:
    """All eigenpairs of a complex Hermitian ``h`` (lower triangle), which may be destroyed.

    CPU: :func:`eigh_fast`; GPU: ``cupy.linalg.eigh`` (cuSOLVER ``zheevd``).  The arrays stay on
    ``backend``'s device.
    """
    if backend.is_gpu:
        return backend.xp.linalg.eigh(h, UPLO="L")
    return eigh_fast(h, overwrite=True)
