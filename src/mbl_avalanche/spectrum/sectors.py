"""A Hamiltonian with a conserved quantity, diagonalised sector by sector.

The random-field XXZ chain conserves total ``S^z``: in the sectors of fixed number of down spins
it is block diagonal, with blocks of ``binom(L, n)`` states, so the eigensolver costs about
``sum_n binom(L, n)**3`` instead of ``8**L`` (34 x less at L = 14) and every eigenstate has a
definite magnetisation (no mixing across sectors, even between nearly degenerate levels of
different sectors).  :func:`diagonalize_sectors` returns a :class:`~.core.Spectrum` whose
``blocks`` hold the block eigenvectors; :func:`mbl_avalanche.bath.rate_matrix` then builds
``S`` from them block by block.

Certificate: orthonormality and eigen-residual are exact max-norms over the blocks (cheap), and
``min_splitting`` is the smallest spacing *within* a sector: eigenvectors of different sectors
are orthogonal exactly, whatever their energies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._repr import compact_repr
from ..errors import InputError
from .core import Spectrum, SpectrumCertificate
from .lapack import eigh_fast

__all__ = ["SectorBlock", "certify_sectors", "diagonalize_sectors"]


@dataclass
class SectorBlock:
    """One sector of a block-diagonal Hamiltonian and its eigenvectors.

    Attributes
    ----------
    basis : ndarray of int
        The sector's computational-basis indices (ascending).
    states : ndarray of int
        Positions of its eigenstates in the global ascending-energy order.
    vectors : ndarray, shape (len(basis), len(basis))
        Block eigenvectors (columns, in the order of ``states``): eigenstate ``states[j]`` is
        ``vectors[:, j]`` on ``basis`` and zero elsewhere.
    energies : ndarray
        Their energies.
    residual : float
        ``max_j ||H_b v_j - E_j v_j||`` of the block.
    orthonormality : float
        ``max|V_b^dagger V_b - 1|`` of the block.
    """

    basis: np.ndarray
    states: np.ndarray
    vectors: np.ndarray
    energies: np.ndarray
    residual: float
    orthonormality: float

    __repr__ = compact_repr


def diagonalize_sectors(
    blocks: Sequence[np.ndarray], sectors: Sequence[np.ndarray], *, check: bool = True
) -> Spectrum:
    """Energies (ascending) and eigenvectors of a Hamiltonian given by its sector blocks.

    Parameters
    ----------
    blocks : sequence of ndarray
        The diagonal blocks ``H[np.ix_(s, s)]`` (Hermitian; real symmetric for the XXZ chain).
    sectors : sequence of ndarray of int
        The basis indices of each sector; together a partition of ``0 .. 2**L - 1``.
    check : bool
        Validate the partition and the hermiticity of the blocks (one-line :class:`InputError`).
    """
    sizes = [len(s) for s in sectors]
    n = int(sum(sizes))
    if check:
        if len(blocks) != len(sectors):
            raise InputError(f"{len(blocks)} blocks are not allowed for {len(sectors)} sectors")
        allidx = np.sort(np.concatenate([np.asarray(s) for s in sectors]))
        if n < 4 or 2 ** (n.bit_length() - 1) != n or not np.array_equal(allidx, np.arange(n)):
            raise InputError("sectors are not allowed: they must partition the 2**L basis states")
        for b, sz in zip(blocks, sizes, strict=True):
            b = np.asarray(b)
            if b.shape != (sz, sz):
                raise InputError(
                    f"a block of shape {b.shape} is not allowed for a sector of {sz} states"
                )
            scale = max(float(np.max(np.abs(b))), 1e-300) if b.size else 1.0
            if b.size and float(np.max(np.abs(b - b.conj().T))) > 1e-10 * scale:
                raise InputError("a sector block is not allowed: it is not Hermitian")
    parts = []
    for b, s in zip(blocks, sectors, strict=True):
        b = np.asarray(b)
        real = not np.iscomplexobj(b)
        w, v = eigh_fast(
            np.array(b, dtype=float if real else np.complex128, order="F"), overwrite=True
        )
        parts.append((np.asarray(s, dtype=np.int64), np.asarray(w, dtype=float), v, b))
    energies = np.concatenate([p[1] for p in parts])
    order = np.argsort(energies, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    V = np.zeros((n, n), dtype=np.complex128)
    out_blocks = []
    start = 0
    for basis, w, v, b in parts:
        k = len(w)
        states = position[start : start + k]
        start += k
        V[np.ix_(basis, states)] = v
        res = float(np.max(np.linalg.norm(b @ v - v * w[None, :], axis=0))) if k else 0.0
        g = v.conj().T @ v
        g[np.diag_indices_from(g)] -= 1.0
        orth = float(np.max(np.abs(g))) if k else 0.0
        out_blocks.append(SectorBlock(basis, states, v, w, res, orth))
    return Spectrum(
        theta=energies[order],
        V=V,
        periodic=False,
        method="eigh-sectors",
        check={"sectors": len(parts), "largest_sector": max(sizes)},
        blocks=out_blocks,
    )


def certify_sectors(spec: Spectrum) -> SpectrumCertificate:
    """The spectrum stage's certificate of a sector-by-sector spectrum (exact max-norms)."""
    blocks = spec.blocks or []
    emax = max(float(np.max(np.abs(spec.theta))), 1e-300)
    spacing = [np.min(np.diff(b.energies)) for b in blocks if b.energies.size > 1]
    return SpectrumCertificate(
        unitarity_error=0.0,
        orthonormality_error=max((b.orthonormality for b in blocks), default=0.0),
        eigen_residual=max((b.residual for b in blocks), default=0.0) / emax,
        min_splitting=float(min(spacing)) if spacing else float("inf"),
    )
