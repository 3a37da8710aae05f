"""The spectrum of the closed system: quasienergies, orthonormal eigenvectors, accuracy figures.

For a unitary ``U`` the eigenstates satisfy ``U |n> = exp(i theta_n) |n>``; quasienergies
``theta_n`` are in ``(-pi, pi]``, sorted ascending, and the eigenvectors are the columns of ``V``
in the same order, orthonormal to rounding.  For a Hamiltonian the "quasienergies" are the energies
``E_n`` (sorted ascending, not folded).  Basis: the computational basis of the conventions,
section 1 (site 1 the most significant bit of the basis index, site ``L`` the least).

This module holds the :class:`Spectrum` container and the spectrum stage's part of the accuracy
certificate (:class:`SpectrumCertificate`, :func:`certify`); the solvers are in
:mod:`~mbl_avalanche.spectrum.schur`, :mod:`~mbl_avalanche.spectrum.fast` and
:mod:`~mbl_avalanche.spectrum.lapack`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._repr import compact_repr
from ..backend import array_module

__all__ = [
    "Spectrum",
    "SpectrumCertificate",
    "certify",
    "eigen_residual",
    "fold_quasienergy",
    "orthonormality_error",
    "phase_distance",
    "probe_errors",
    "unitarity_error",
]


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
        The eigensolver that produced it (``"fast->schur"``: the fast method failed its check and
        Schur was used).
    check : dict
        The solver's own a-posteriori figures (empty for Schur); see
        :func:`diagonalize_unitary_fast`.
    blocks : list of SectorBlock or None
        For a Hamiltonian diagonalised sector by sector
        (:func:`~mbl_avalanche.spectrum.sectors.diagonalize_sectors`): the sectors' basis states,
        eigenstate positions and block eigenvectors (``V`` is block sparse).
    """

    theta: np.ndarray
    V: np.ndarray
    periodic: bool
    method: str
    check: dict[str, Any] = field(default_factory=dict)
    blocks: list[Any] | None = None

    __repr__ = compact_repr

    @property
    def N(self) -> int:
        """Hilbert-space dimension."""
        return int(self.theta.shape[0])

    def splitting(self, m: int, n: int) -> float:
        """``|theta_m - theta_n|`` (folded into ``[0, pi]`` modulo ``2 pi`` if periodic)."""
        if self.periodic:
            return float(phase_distance(self.theta[m], self.theta[n]))
        return abs(float(self.theta[m] - self.theta[n]))

    def record_fields(self) -> dict[str, Any]:
        """The solver's record columns: ``method`` and the fast solver's own figures
        (``fast_residual_fro``, ``fast_orthonormality_fro``, ``fast_residual_bound``,
        ``fast_clusters``) when it ran."""
        out: dict[str, Any] = {"method": self.method}
        for key in ("residual_fro", "orthonormality_fro", "residual_bound", "clusters"):
            if key in self.check:
                out[f"fast_{key}"] = self.check[key]
        return out

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


# --- accuracy figures -------------------------------------------------------------------------


def unitarity_error(u: np.ndarray) -> float:
    """``max_ij |(U^dagger U - 1)_ij|``."""
    g = u.conj().T @ u
    g[np.diag_indices_from(g)] -= 1.0
    return float(np.max(np.abs(g)))


def orthonormality_error(v: np.ndarray) -> float:
    """``max_ij |(V^dagger V - 1)_ij|``."""
    return unitarity_error(v)


def eigen_residual(op: np.ndarray | Callable[[np.ndarray], np.ndarray], spec: Spectrum) -> float:
    """``max_n ||op v_n - lambda_n v_n||_2``, ``lambda_n = exp(i theta_n)`` (unitary) or ``E_n``.

    The largest column residual: for a unitary op it bounds the reconstruction error
    ``||V diag(lambda) V^dagger - op||`` up to the orthonormality error.  ``op`` may be a
    callable ``X -> op @ X``.
    """
    lam = np.exp(1j * spec.theta) if spec.periodic else spec.theta
    r = op(spec.V) if callable(op) else op @ spec.V
    r -= spec.V * lam[None, :]
    return float(np.max(np.linalg.norm(r, axis=0)))


def probe_errors(
    mul: Callable[[Any], Any] | Any,
    v: Any,
    lam: Any,
    probes: int = 4,
    seed: int = 0,
) -> tuple[float, float]:
    """Randomised estimates of ``||U V - V diag(lam)||_F`` and ``||V^dagger V - 1||_F``.

    For complex Gaussian ``x`` with ``E|x_i|^2 = 1``, ``E ||A x||^2 = ||A||_F^2``; the mean over
    ``probes`` vectors estimates it (relative spread ``~ 1/sqrt(2 probes)``).  The Frobenius
    norm bounds the largest column norm (the eigen-residual) and the largest entry (the
    orthonormality error) from above.  Cost ``O(probes N^2)``.

    Parameters
    ----------
    mul : callable or array
        ``X -> U @ X``, or the matrix ``U`` itself.
    v : array, shape (N, N)
        Eigenvectors (columns).
    lam : array, shape (N,)
        Eigenvalues (``exp(i theta)`` for a unitary, energies for a Hamiltonian).
    """
    xp = array_module(v)
    if not callable(mul):
        op = mul

        def mul(x: Any) -> Any:
            return op @ x

    n = v.shape[0]
    rng = np.random.default_rng(seed)
    p = (rng.standard_normal((n, probes)) + 1j * rng.standard_normal((n, probes))) / np.sqrt(2)
    p = xp.asarray(p)
    vp = v @ p
    r = mul(vp) - v @ (xp.asarray(lam)[:, None] * p)
    o = v.conj().T @ vp - p
    return (float(xp.linalg.norm(r)) / np.sqrt(probes), float(xp.linalg.norm(o)) / np.sqrt(probes))


@dataclass
class SpectrumCertificate:
    """The spectrum stage's part of a sample's accuracy certificate.

    Attributes
    ----------
    unitarity_error : float
        ``max|U^dagger U - 1|`` of the input unitary (0 for a Hamiltonian).
    orthonormality_error : float
        ``max|V^dagger V - 1|`` of the eigenvectors.
    eigen_residual : float
        ``max_n ||U v_n - exp(i theta_n) v_n||`` (or ``||H v_n - E_n v_n|| / max|E|``); NaN when
        the input was overwritten.
    min_splitting : float
        Smallest quasienergy spacing (modulo ``2 pi``); inside a pair with spacing ``delta`` the
        eigenvectors carry an error of about ``1e-15 / delta``.

    The first three are exact max-norms with ``exact=True`` in :func:`certify`, else randomised
    Frobenius-norm estimates (:func:`probe_errors`, ``O(N^2)``), which bound the max-norms from
    above (the eigen-residual: the largest column norm; the others: the largest entry).
    """

    unitarity_error: float
    orthonormality_error: float
    eigen_residual: float
    min_splitting: float


def certify(
    spec: Spectrum,
    op: Any,
    *,
    unitarity_error: float,
    exact: bool = False,
    overwritten: bool = False,
) -> SpectrumCertificate:
    """Accuracy figures of an eigen-decomposition (see :class:`SpectrumCertificate`).

    Parameters
    ----------
    spec : Spectrum
        The eigen-decomposition (NumPy arrays).
    op : array or callable
        The operator, or ``X -> op @ X`` (e.g. the model's gate circuit).
    unitarity_error : float
        Already measured on the input (0 for a Hamiltonian).
    exact : bool
        Exact max-norms (two ``N x N`` products) instead of probe estimates.
    overwritten : bool
        The solver destroyed ``op``: no eigen-residual (NaN).
    """
    lam = np.exp(1j * spec.theta) if spec.periodic else spec.theta
    if exact:
        orth = orthonormality_error(spec.V)
        resid = float("nan") if overwritten else eigen_residual(op, spec)
    else:
        resid, orth = probe_errors(op, spec.V, lam, seed=1)  # seed 1: not the solver's probes
        resid = float("nan") if overwritten else resid
    if not spec.periodic:
        resid /= max(float(np.max(np.abs(spec.theta))), 1e-300)
    return SpectrumCertificate(
        unitarity_error=float(unitarity_error),
        orthonormality_error=float(orth),
        eigen_residual=float(resid),
        min_splitting=float(np.min(spec.level_spacings())),
    )
