"""The spectrum stage: eigen-decomposition of the closed system, with its accuracy figures.

* :mod:`.core` -- the :class:`Spectrum` container, phases, and the stage's certificate
  (:class:`SpectrumCertificate`, :func:`certify`);
* :mod:`.schur` -- complex Schur, the reference solver for a unitary;
* :mod:`.fast` -- the fast verified solver (Hermitian ``eigh`` refined to Schur accuracy);
* :mod:`.lapack` -- the one ``zheevd`` helper (full workspace);
* :mod:`.sectors` -- a Hamiltonian with a conserved quantity, block by block.

:func:`diagonalize_unitary` picks a unitary solver from :data:`UNITARY_SOLVERS` (a registry: a
new solver is one entry); :func:`diagonalize_hermitian` diagonalises a Hamiltonian.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import Backend, get_backend
from ..errors import InputError
from .core import (
    Spectrum,
    SpectrumCertificate,
    certify,
    eigen_residual,
    fold_quasienergy,
    orthonormality_error,
    phase_distance,
    probe_errors,
    unitarity_error,
)
from .fast import (
    BAND_TOL,
    CHECK_TOL,
    CLUSTER_TOL,
    DEFAULT_PHASE,
    REFINEMENTS,
    diagonalize_unitary_fast,
    rotated_hermitian_part,
)
from .lapack import eigh_fast
from .schur import schur_spectrum
from .sectors import SectorBlock, certify_sectors, diagonalize_sectors

__all__ = [
    "BAND_TOL",
    "CHECK_TOL",
    "CLUSTER_TOL",
    "DEFAULT_PHASE",
    "REFINEMENTS",
    "UNITARY_METHODS",
    "UNITARY_SOLVERS",
    "SectorBlock",
    "Spectrum",
    "SpectrumCertificate",
    "certify",
    "certify_sectors",
    "diagonalize_hermitian",
    "diagonalize_sectors",
    "diagonalize_unitary",
    "diagonalize_unitary_fast",
    "eigen_residual",
    "eigh_fast",
    "fold_quasienergy",
    "orthonormality_error",
    "phase_distance",
    "probe_errors",
    "rotated_hermitian_part",
    "schur_spectrum",
    "unitarity_error",
]

Source = np.ndarray | Callable[[], np.ndarray]
Apply = Callable[[np.ndarray], np.ndarray]


def _materialise(u: Any) -> Any:
    return u() if callable(u) else u


def _solve_schur(
    u: Source, be: Backend, overwrite: bool, apply: Apply | None, phase: float, tol: float
) -> Spectrum:
    return schur_spectrum(_materialise(u), be, overwrite)


def _solve_fast(
    u: Source, be: Backend, overwrite: bool, apply: Apply | None, phase: float, tol: float
) -> Spectrum:
    return diagonalize_unitary_fast(u, backend=be, apply=apply, phase=phase, tol=tol)


def _solve_auto(
    u: Source, be: Backend, overwrite: bool, apply: Apply | None, phase: float, tol: float
) -> Spectrum:
    spec = diagonalize_unitary_fast(u, backend=be, apply=apply, phase=phase, tol=tol)
    if spec.check["passed"]:
        return spec
    check = dict(spec.check)
    del spec
    out = schur_spectrum(_materialise(u), be, overwrite=overwrite and callable(u))
    out.method = "fast->schur"
    out.check = check
    return out


#: Unitary eigensolvers by name: ``(u, backend, overwrite, apply, phase, tol) -> Spectrum``.
UNITARY_SOLVERS: dict[str, Callable[..., Spectrum]] = {
    "schur": _solve_schur,
    "fast": _solve_fast,
    "auto": _solve_auto,
}

#: Names of the unitary eigensolvers (``method=`` values).
UNITARY_METHODS = tuple(UNITARY_SOLVERS)


def diagonalize_unitary(
    u: Source,
    method: str = "schur",
    overwrite: bool = False,
    *,
    backend: str | Backend = "cpu",
    apply: Apply | None = None,
    phase: float = DEFAULT_PHASE,
    tol: float = CHECK_TOL,
) -> Spectrum:
    """Quasienergies and orthonormal eigenvectors of a unitary.

    Parameters
    ----------
    u : ndarray, shape (N, N), or callable
        The unitary (complex), or a zero-argument callable that returns it (a *source*).  With
        a source and ``apply`` the fast method drops the unitary as soon as it has formed the
        Hermitian matrix (one ``N x N`` buffer less while ``eigh`` runs and after), and a
        fallback to Schur calls the source again.
    method : {"schur", "fast", "auto"}
        ``"schur"``: complex Schur decomposition (LAPACK ``zgees``); the eigenvectors are the
        Schur vectors.  ``"fast"``: :func:`diagonalize_unitary_fast` (Hermitian ``eigh``, cluster
        Schur, one refinement step), whatever its check says.  ``"auto"``: fast, and if its
        a-posteriori check fails, Schur; the result's ``method`` is then ``"fast->schur"`` and
        ``check`` keeps the failed figures.
    overwrite : bool
        Allow the Schur solver to destroy ``u`` (saves one ``N x N`` buffer; not used by the fast
        method, which needs ``u`` for its check and a possible fallback), or, for a source, the
        array the source returns (then also in a fallback).
    backend : {"cpu", "gpu"}
        Where the fast method runs (Schur always runs on the CPU).  The returned arrays are NumPy
        arrays on the CPU backend and CuPy arrays on the GPU backend.
    apply : callable, optional
        ``apply(X) = U @ X`` for an ``N x K`` block (e.g. the gate circuit of the model, much
        cheaper than a dense product); CPU only, default dense products with ``u``.
    phase : float
        Rotation phase of the fast method (see :data:`DEFAULT_PHASE`).
    tol : float
        Acceptance threshold of the fast method's check.
    """
    solver = UNITARY_SOLVERS.get(method)
    if solver is None:
        raise InputError(f"method={method!r} is not allowed: choose one of {UNITARY_METHODS}")
    return solver(u, get_backend(backend), overwrite, apply, phase, tol)


def diagonalize_hermitian(h: np.ndarray, overwrite: bool = False) -> Spectrum:
    """Energies (ascending) and orthonormal eigenvectors of a Hermitian matrix (``zheevd``)."""
    w, v = eigh_fast(np.asarray(h, dtype=np.complex128), overwrite=overwrite)
    return Spectrum(theta=np.asarray(w, dtype=float), V=v, periodic=False, method="eigh")
