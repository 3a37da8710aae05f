"""Complex Schur decomposition of a unitary: the reference eigensolver.

Why complex Schur (conventions, section 4): a general eigensolver (``zgeev``) returns
eigenvectors that are not orthogonal inside near-degenerate pairs -- exactly the many-body
resonances studied here.  The Schur vectors of a (numerically) normal matrix are unitary by
construction, and its triangular factor is diagonal to rounding, so they are the eigenvectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from ..backend import Backend
from .core import Spectrum, fold_quasienergy

__all__ = ["schur_spectrum"]


def schur_spectrum(u: Any, be: Backend, overwrite: bool) -> Spectrum:
    """Complex Schur on the CPU (arrays moved to and from the device if needed).

    With ``overwrite`` the input is first made Fortran-ordered (releasing a C-ordered original
    that nobody else holds) and ``zgees`` then works in place: ``T`` and ``Z`` and the sorted
    ``Z`` are the only ``N x N`` buffers.
    """
    a = np.asarray(be.to_host(u) if be.is_gpu else u, dtype=np.complex128)
    del u
    if overwrite and not a.flags.f_contiguous:
        a = np.asfortranarray(a)
    # an explicit workspace (N + 64 N, above zgees' optimum N + N * blocksize) skips scipy's
    # workspace query, which would copy ``a`` and allocate a second ``Z``
    t, z = sla.schur(
        a,
        output="complex",
        lwork=65 * max(a.shape[0], 1),
        overwrite_a=overwrite,
        check_finite=False,
    )
    del a
    lam = np.diagonal(t).copy()
    del t
    theta = fold_quasienergy(np.angle(lam))
    order = np.argsort(theta, kind="stable")
    z = z[:, order]
    if be.is_gpu:
        z = be.asarray(z)
    return Spectrum(theta=theta[order], V=z, periodic=True, method="schur")
