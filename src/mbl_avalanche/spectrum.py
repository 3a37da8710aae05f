"""Eigen-decomposition of the closed system, with its accuracy figures.

For a unitary ``U`` the eigenstates satisfy ``U |n> = exp(i theta_n) |n>``; quasienergies
``theta_n`` are returned in ``(-pi, pi]``, sorted ascending, and the eigenvectors are the columns of
``V`` in the same order, orthonormal to rounding.  For a Hamiltonian the "quasienergies" are the
energies ``E_n`` (sorted ascending, not folded).

Why complex Schur (SPEC section 4): a general eigensolver (``zgeev``) returns eigenvectors that are
not orthogonal inside near-degenerate pairs -- exactly the many-body resonances studied here.  The
Schur vectors of a (numerically) normal matrix are unitary by construction, and its triangular
factor is diagonal to rounding, so they are the eigenvectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from .errors import InputError

#: Eigensolvers available for unitaries.
UNITARY_METHODS = ("schur",)


@dataclass
class Spectrum:
    """Eigenvalues and orthonormal eigenvectors of the closed system.

    Attributes
    ----------
    theta : ndarray, shape (N,)
        Quasienergies in ``(-pi, pi]`` (``periodic=True``) or energies (``periodic=False``),
        sorted ascending.
    V : ndarray, shape (N, N), complex128
        ``V[:, n]`` is eigenstate ``|n>`` in the computational basis (site 1 the most significant
        bit).
    periodic : bool
        True for quasienergies of a unitary (differences are taken modulo ``2 pi``).
    method : str
        The eigensolver that produced it.
    """

    theta: np.ndarray
    V: np.ndarray
    periodic: bool
    method: str

    @property
    def N(self) -> int:
        """Hilbert-space dimension."""
        return int(self.theta.shape[0])

    def splitting(self, m: int, n: int) -> float:
        """``|theta_m - theta_n|`` (folded into ``[0, pi]`` modulo ``2 pi`` if periodic)."""
        return phase_distance(self.theta[m], self.theta[n]) if self.periodic else abs(
            float(self.theta[m] - self.theta[n])
        )

    def level_spacings(self) -> np.ndarray:
        """Gaps between neighbouring levels (with the wrap-around gap if periodic)."""
        gaps = np.diff(self.theta)
        if self.periodic:
            gaps = np.append(gaps, self.theta[0] + 2 * np.pi - self.theta[-1])
        return gaps


def phase_distance(a: float | np.ndarray, b: float | np.ndarray) -> float | np.ndarray:
    """Distance between phases on the circle, in ``[0, pi]``."""
    d = np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))
    return float(d) if np.ndim(d) == 0 else d


def fold_quasienergy(theta: np.ndarray) -> np.ndarray:
    """Map angles into ``(-pi, pi]`` (``-pi`` becomes ``pi``)."""
    t = np.angle(np.exp(1j * np.asarray(theta, dtype=float)))
    return np.where(t <= -np.pi, np.pi, t)


def diagonalize_unitary(u: np.ndarray, method: str = "schur", overwrite: bool = False) -> Spectrum:
    """Quasienergies and orthonormal eigenvectors of a unitary.

    Parameters
    ----------
    u : ndarray, shape (N, N)
        The unitary (complex).
    method : {"schur"}
        ``"schur"``: complex Schur decomposition (LAPACK ``zgees``); the eigenvectors are the
        Schur vectors.
    overwrite : bool
        Allow the solver to destroy ``u`` (saves one ``N x N`` buffer).
    """
    if method not in UNITARY_METHODS:
        raise InputError(f"method={method!r} is not allowed: choose one of {UNITARY_METHODS}")
    t, z = sla.schur(
        np.asarray(u, dtype=np.complex128), output="complex", overwrite_a=overwrite,
        check_finite=False,
    )
    lam = np.diagonal(t).copy()
    del t
    theta = fold_quasienergy(np.angle(lam))
    order = np.argsort(theta, kind="stable")
    return Spectrum(theta=theta[order], V=z[:, order], periodic=True, method=method)


def eigh_fast(h: np.ndarray, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All eigenpairs of a complex Hermitian matrix by LAPACK ``zheevd`` with a full workspace.

    SPEC section 4: ``numpy.linalg.eigh`` and ``scipy.linalg.eigh(driver="evd")`` pass the minimum
    workspace and run about 2x slower; ``lwork = N**2 + 66 N`` restores the blocked algorithm.
    Uses the lower triangle.
    """
    a = np.asarray(h)
    n = a.shape[0]
    if np.iscomplexobj(a):
        w, v, info = lapack.zheevd(
            a, compute_v=1, lower=1, lwork=n * n + 66 * n, lrwork=1 + 5 * n + 2 * n * n,
            liwork=3 + 5 * n, overwrite_a=int(overwrite),
        )
    else:
        w, v, info = lapack.dsyevd(
            a, compute_v=1, lower=1, lwork=1 + 6 * n + 2 * n * n, liwork=3 + 5 * n,
            overwrite_a=int(overwrite),
        )
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ?heevd failed with info={info}")
    return w, v


def diagonalize_hermitian(h: np.ndarray, overwrite: bool = False) -> Spectrum:
    """Energies (ascending) and orthonormal eigenvectors of a Hermitian matrix."""
    w, v = eigh_fast(np.asarray(h, dtype=np.complex128), overwrite=overwrite)
    return Spectrum(theta=np.asarray(w, dtype=float), V=v, periodic=False, method="eigh")


# --- accuracy figures -------------------------------------------------------------------------


def unitarity_error(u: np.ndarray) -> float:
    """``max_ij |(U^dagger U - 1)_ij|``."""
    g = u.conj().T @ u
    g[np.diag_indices_from(g)] -= 1.0
    return float(np.max(np.abs(g)))


def orthonormality_error(v: np.ndarray) -> float:
    """``max_ij |(V^dagger V - 1)_ij|``."""
    return unitarity_error(v)


def eigen_residual(op: np.ndarray, spec: Spectrum) -> float:
    """``max_n ||op v_n - lambda_n v_n||_2``, ``lambda_n = exp(i theta_n)`` (unitary) or ``E_n``.

    The largest column residual: for a unitary op it bounds the reconstruction error
    ``||V diag(lambda) V^dagger - op||`` up to the orthonormality error.
    """
    lam = np.exp(1j * spec.theta) if spec.periodic else spec.theta
    r = op @ spec.V
    r -= spec.V * lam[None, :]
    return float(np.max(np.linalg.norm(r, axis=0)))
