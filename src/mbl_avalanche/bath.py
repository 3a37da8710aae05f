"""The bath in the weak-coupling limit: rate matrix ``S``, slowest mode, ``Gamma``, ``D_mn``, ``R``.

Paper Eqs. (3)-(5) and conventions, section 2.  The bath couples to site ``L`` with jump operators
``(E_1, E_2, E_3) = (X_L, Y_L, Z_L)``; in the weak-coupling limit the diagonal operators
``tau = sum_n c_n |n><n|`` evolve with the symmetric stochastic matrix::

    S_mn = (1/3) sum_j |<m|E_j|n>|**2                                   (Eq. 3)

and the slowest mode ``c`` is the eigenvector of ``S`` with the smallest gap ``Gamma`` from 1,
orthogonal to the uniform vector, normalised to ``sum_n c_n**2 = 2**L``.  The relaxation rate is
``r_S = 3 gamma Gamma`` to first order in the bath coupling ``gamma``.

Numerics (conventions, section 4)
---------------------------------
* Matrix elements on site ``L`` need no ``2**L x 2**L`` site operator: with ``V0`` (``V1``) the
  rows of ``V`` with ``s_L = 0`` (``1``), i.e. even (odd) basis indices, ``A = V0^dagger V1`` and
  ``B = V0^dagger V0`` give ``X = A + A^dagger``, ``Y = i (A^dagger - A)``, ``Z = 2 B - 1``, so
  ``|X_mn|**2 + |Y_mn|**2 = 2 (|A_mn|**2 + |A_nm|**2)``.
* ``Gamma`` is tiny in the MBL regime (1e-11 at L = 9) and is never taken as ``1 - lambda(S)``.
  The slowest mode comes from the graph Laplacian of the off-diagonal ``S`` (zero row sums by
  construction), with the uniform vector deflated exactly by a Householder reflection; ``Gamma``
  is then the positive sum of Eq. (5), ``Gamma = sum_{m<n} S_mn (c_m - c_n)**2 / 2**L``, with no
  cancellation.  The eigenvalue itself is kept for comparison.

Sign convention of ``c``: the first entry, in ascending-quasienergy order, whose magnitude is at
least 0.1 of ``max|c|`` is positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from ._repr import compact_repr
from .backend import array_module, linalg_module, to_host

__all__ = [
    "BLOCK_SOLVER_MIN_STATES",
    "EPS",
    "SlowModes",
    "TopPair",
    "contributions",
    "fix_sign",
    "jump_matrix_elements",
    "laplacian_apply",
    "laplacian_form",
    "rate_matrix",
    "rate_matrix_dense",
    "rate_matrix_sectors",
    "rayleigh_gap",
    "resolution_of",
    "row_sum_error",
    "sector_groups",
    "slowest_modes",
    "top_contributions",
    "top_pair",
]

EPS = float(np.finfo(np.float64).eps)

#: Rows per block when streaming ``N x N`` element-wise products (bounded temporaries).
_BLOCK_ELEMENTS = 1 << 22
#: The same for CPU passes of several element-wise steps (temporaries that stay in cache).
_CACHE_ELEMENTS = 1 << 16


def jump_matrix_elements(v: np.ndarray, m: int, n: int) -> np.ndarray:
    """``(<m|X_L|n>, <m|Y_L|n>, <m|Z_L|n>)`` for eigenvectors ``V[:, m]``, ``V[:, n]`` (O(N))."""
    vm0, vm1 = v[0::2, m], v[1::2, m]
    vn0, vn1 = v[0::2, n], v[1::2, n]
    a_mn = np.vdot(vm0, vn1)
    a_nm_c = np.vdot(vm1, vn0)  # = conj(A_nm)
    x = a_mn + a_nm_c
    y = 1j * (a_nm_c - a_mn)
    z = np.vdot(vm0, vn0) - np.vdot(vm1, vn1)
    return np.array([x, y, z])


def rate_matrix(v: np.ndarray) -> np.ndarray:
    """The weak-coupling rate matrix ``S`` of Eq. (3), diagonal included (real, symmetric).

    Parameters
    ----------
    v : ndarray, shape (N, N)
        Orthonormal eigenvectors (columns) in the computational basis.

    Notes
    -----
    Costs one ``N x N x N/2`` product for ``A`` and one for ``B``; memory two complex ``N x N``
    temporaries at most.  Rows sum to 1 up to the orthonormality error of ``V``.  Works on NumPy
    and CuPy arrays alike (the result lives where ``v`` lives).
    """
    xp = array_module(v)
    if xp is np:
        return _rate_matrix_blas(v)
    v0 = v[0::2]
    v0h = v0.conj().T
    s = _abs_squared(xp, v0h @ v[1::2])
    s += s.T.copy()
    s *= 2.0
    b = v0h @ v0
    del v0h
    s += _z_squared(xp, b)
    s /= 3.0
    return s


def _abs_squared(xp: Any, a: Any) -> Any:
    """``|a|**2`` as a new real array (``a`` may be released by the caller afterwards)."""
    out = xp.abs(a)
    out *= out
    return out


def _z_squared(xp: Any, b: Any) -> Any:
    """``|2 B - 1|**2 = |<m|Z_L|n>|**2`` from ``B = V0^dagger V0``; overwrites ``b``."""
    b *= 2.0
    idx = xp.arange(b.shape[0])
    b[idx, idx] -= 1.0
    return _abs_squared(xp, b)


def _upper_gram(v0: np.ndarray, blocks: int = 8) -> np.ndarray:
    """Upper triangle (diagonal included) of ``V0^dagger V0``, zero below; Fortran order.

    Column block ``j`` of width ``~N/blocks`` takes one ``zgemm`` of rows ``0..j``: about
    ``(1 + 1/blocks) / 2`` of a full product, the saving of ``zherk``.  ``zherk`` itself is not
    used: the multithreaded ``zherk`` of the OpenBLAS bundled with SciPy (0.3.31) segfaulted for
    an ``8192 x 16384`` ``V0`` (L = 14, 2 threads), reproducibly, while ``zgemm`` of the same
    operands did not.
    """
    from scipy.linalg import blas

    n = v0.shape[1]
    out = np.zeros((n, n), dtype=np.complex128, order="F")
    width = max(1, -(-n // blocks))
    for j0 in range(0, n, width):
        j1 = min(n, j0 + width)
        blk = blas.zgemm(1.0, v0[:, :j1], v0[:, j0:j1], trans_a=2)
        blk[j0:j1] = np.triu(blk[j0:j1])
        out[:j1, j0:j1] = blk
    return out


def _rate_matrix_blas(v: np.ndarray) -> np.ndarray:
    """:func:`rate_matrix` on the CPU: ``A`` by ``zgemm``, of the Hermitian ``B`` the upper half.

    With ``M = 2 |A|**2 + Z_up`` (``Z = |2 B - 1|**2`` on and above the diagonal, zero below),
    ``S = (M + M^T - diag Z) / 3``.  Peak memory: ``V`` plus two complex ``N x N`` buffers.
    """
    from scipy.linalg import blas

    v0 = np.asfortranarray(v[0::2])
    v1 = np.asfortranarray(v[1::2])
    a = blas.zgemm(1.0, v0, v1, trans_a=2)  # A = V0^dagger V1
    del v1
    m = _abs_squared(np, a)
    del a
    m *= 2.0
    b = _upper_gram(v0)  # upper triangle of B = V0^dagger V0, zero below
    del v0
    z = _z_squared(np, b)
    del b
    m += z
    zdiag = np.diagonal(z).copy()
    del z
    s = m + m.T
    del m
    idx = np.arange(s.shape[0])
    s[idx, idx] -= zdiag
    s /= 3.0
    return s


def rate_matrix_sectors(blocks: Sequence[Any], n: int) -> np.ndarray:
    """Eq. (3) from the block eigenvectors of a Hamiltonian that conserves the number of down
    spins (:func:`mbl_avalanche.spectrum.diagonalize_sectors`), block by block.

    The bath site ``L`` is the least significant bit: basis state ``2i`` (``s_L = 0``) of
    sector ``p`` (``p`` down spins) and ``2i + 1`` of sector ``p + 1`` are the rows of
    ``V0``, ``V1`` (conventions, section 4), so ``A = V0^dagger V1`` is nonzero only from sector
    ``p`` to ``p + 1`` and ``B = V0^dagger V0`` only inside a sector: ``Z_L`` acts within a
    sector (``S = |2 B - 1|**2 / 3`` there), ``X_L``, ``Y_L`` between neighbouring ones
    (``S = 2 |A|**2 / 3``).  Cost ``O(sum_p b_p**2 (b_p + b_{p+1}))``; the ``N x N`` result is
    in the global eigenstate order of the blocks' ``states``.
    """
    s = np.zeros((n, n))
    by_sector = {}
    for blk in blocks:
        basis = np.asarray(blk.basis)
        if basis.size:
            by_sector[bin(int(basis[0])).count("1")] = blk
    for p, blk in by_sector.items():
        even = (blk.basis & 1) == 0
        v0 = blk.vectors[even]  # rows with s_L = 0
        b = v0.conj().T @ v0
        b *= 2.0
        b[np.diag_indices_from(b)] -= 1.0
        s[np.ix_(blk.states, blk.states)] = np.abs(b) ** 2 / 3.0
        nxt = by_sector.get(p + 1)
        if nxt is None or not np.any(even):
            continue
        rows = np.searchsorted(nxt.basis, blk.basis[even] + 1)  # partners with s_L = 1
        a = v0.conj().T @ nxt.vectors[rows]
        x = 2.0 * np.abs(a) ** 2 / 3.0
        s[np.ix_(blk.states, nxt.states)] = x
        s[np.ix_(nxt.states, blk.states)] = x.T
    return s


def sector_groups(blocks: Sequence[Any]) -> list[np.ndarray]:
    """Global eigenstate indices of each sector, in the order of the number of down spins.

    In this order the rate matrix of :func:`rate_matrix_sectors` is block tridiagonal (``Z_L``
    inside a sector, ``X_L``, ``Y_L`` between neighbouring ones): the structure that
    :func:`slowest_modes` uses when given ``groups``.
    """
    by_sector = {}
    for blk in blocks:
        basis = np.asarray(blk.basis)
        if basis.size:
            by_sector[bin(int(basis[0])).count("1")] = np.asarray(blk.states)
    return [by_sector[p] for p in sorted(by_sector)]


def rate_matrix_dense(v: np.ndarray) -> np.ndarray:
    """Eq. (3) from dense site operators ``X_L, Y_L, Z_L`` (reference implementation for tests)."""
    n = v.shape[0]
    eye = np.eye(n // 2)
    paulis = (
        np.array([[0, 1], [1, 0]], dtype=complex),
        np.array([[0, -1j], [1j, 0]]),
        np.array([[1, 0], [0, -1]], dtype=complex),
    )
    s = np.zeros((n, n))
    for p in paulis:
        e = v.conj().T @ np.kron(eye, p) @ v
        s += np.abs(e) ** 2
    return s / 3.0


def _row_blocks(n: int, cache: bool = False) -> Iterator[slice]:
    """Row blocks of an ``n``-column pass: ``_BLOCK_ELEMENTS`` elements each, or with ``cache``
    (CPU passes of several element-wise steps) ``_CACHE_ELEMENTS``, so that the temporaries stay
    in cache (about 2x faster at ``N = 2048`` than blocks of ``2**22``)."""
    step = max(1, (_CACHE_ELEMENTS if cache else _BLOCK_ELEMENTS) // max(n, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def rayleigh_gap(s: np.ndarray, c: np.ndarray) -> float:
    """``sum_{m<n} S_mn (c_m - c_n)**2 / sum_n c_n**2``: the positive sum of Eq. (5).

    Equals ``Gamma`` for the slowest mode normalised as ``sum c**2 = N``.  The diagonal of ``S``
    does not enter (``c_n - c_n = 0``).
    """
    total = 0.0
    for rows in _row_blocks(s.shape[0], cache=array_module(s) is np):
        d = c[rows, None] - c[None, :]
        d *= d
        d *= s[rows]
        total += float(d.sum())
    return 0.5 * total / float(c @ c)


def _top_contributions_device(s: Any, c: Any, k: int) -> list[tuple[int, int, float]]:
    """:func:`top_contributions` for CuPy arrays (same streaming, host-side bookkeeping)."""
    xp = array_module(s)
    c = xp.asarray(c)
    best: list[tuple[float, int, int]] = []
    n = s.shape[0]
    for rows in _row_blocks(n):
        d = c[rows, None] - c[None, :]
        d *= d
        d *= s[rows]
        m_idx = xp.arange(rows.start, rows.stop)[:, None]
        d[xp.arange(n)[None, :] <= m_idx] = -1.0
        flat = d.ravel()
        kk = min(k, flat.size)
        cand = to_host(xp.argpartition(flat, flat.size - kk)[-kk:])
        vals = to_host(flat[xp.asarray(cand)])
        for f, val in zip(cand, vals, strict=True):
            if val >= 0:
                i, j = divmod(int(f), n)
                best.append((float(val), rows.start + i, j))
        best.sort(key=lambda t: (-t[0], t[1], t[2]))
        best = best[:k]
    return [(m, nn, val) for val, m, nn in best]


def top_contributions(s: np.ndarray, c: np.ndarray, k: int = 1) -> list[tuple[int, int, float]]:
    """The ``k`` largest ``D_mn = S_mn (c_m - c_n)**2`` with ``m < n`` (Eq. 4), largest first.

    Streams over row blocks, so no ``N x N`` array of ``D`` is formed.
    """
    if array_module(s) is not np:
        return _top_contributions_device(s, c, k)
    best: list[tuple[float, int, int]] = []
    for rows in _row_blocks(s.shape[0], cache=True):
        r0, r1 = rows.start, rows.stop
        # only the columns n >= r0 can hold pairs m < n of these rows
        d = c[rows, None] - c[None, r0:]
        d *= d
        d *= s[rows, r0:]
        d[:, : r1 - r0][np.tri(r1 - r0, dtype=bool)] = -1.0  # n <= m: not a pair m < n
        flat = d.ravel()
        kk = min(k, flat.size)
        if kk == 1:  # the first maximum: the smallest (m, n) among ties, as the sort below
            cand = np.array([int(np.argmax(flat))])
        else:
            cand = np.argpartition(flat, -kk)[-kk:]
        for f in cand:
            val = float(flat[f])
            if val >= 0:
                i, j = divmod(int(f), d.shape[1])
                best.append((val, r0 + i, r0 + j))
        best.sort(key=lambda t: (-t[0], t[1], t[2]))
        best = best[:k]
    return [(m, n, val) for val, m, n in best]


def contributions(s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The full matrix ``D_mn = S_mn (c_m - c_n)**2`` (Eq. 4), zero diagonal. ``O(N**2)`` memory."""
    d = c[:, None] - c[None, :]
    d *= d
    d *= s
    return d


@dataclass(frozen=True)
class TopPair:
    """The pair of eigenstates that carries the largest share of the relaxation (Fig. 2).

    Attributes
    ----------
    mu, nu : int
        The pair ``mu < nu`` with the largest ``D_mn`` (Eq. 4).
    D_top : float
        ``D_mu_nu``.
    R : float
        ``R = D_mu_nu / (2**L Gamma)``: the fraction of the relaxation rate of Eq. (5) carried by
        that pair (NaN when ``Gamma <= 0``).
    """

    mu: int
    nu: int
    D_top: float
    R: float


def top_pair(s: np.ndarray, c: np.ndarray, gamma: float) -> TopPair:
    """The top pair ``(mu, nu)`` of ``D_mn``, ``D_mu_nu`` and ``R`` (Fig. 2) of a slowest mode."""
    ((mu, nu, d_top),) = top_contributions(s, c, k=1)
    n = s.shape[0]
    r = d_top / (n * gamma) if gamma > 0 else float("nan")
    return TopPair(mu=int(mu), nu=int(nu), D_top=float(d_top), R=float(r))


def row_sum_error(s: Any) -> float:
    """``max_n |sum_m S_mn - 1|``: the rate-matrix stage's part of the certificate.

    ``S`` is stochastic for orthonormal, complete eigenvectors; this tests both as the bath sees
    them.
    """
    return float(np.max(np.abs(to_host(s.sum(axis=1)) - 1.0)))


def _householder_vector(n: int) -> np.ndarray:
    """``w`` with ``(1 - 2 w w^T) u = e_1`` for the uniform unit vector ``u``."""
    w = np.full(n, -1.0 / np.sqrt(n))
    w[0] += 1.0
    return w / np.linalg.norm(w)


@dataclass
class SlowModes:
    """The slowest relaxation modes of ``S`` (weak-coupling limit).

    Attributes
    ----------
    c : ndarray, shape (N,)
        Slowest mode, ``sum c**2 = N``, orthogonal to the uniform vector, sign as in the module
        docstring.
    Gamma : float
        Gap of the slowest mode from Eq. (5) (positive sum).
    Gamma_eig : float
        The same gap as the eigenvalue of the deflated Laplacian (absolute error ~ ``resolution``).
    Gamma2 : float
        Gap of the second slowest mode (Eq. 5 with its eigenvector).
    gaps_eig : ndarray
        The smallest few eigenvalues of the deflated Laplacian, ascending.
    resolution : float
        Absolute eigenvalue resolution ``sqrt(N) eps ||Lap||`` of the dense eigensolver.
    residual : float
        A-posteriori residual ``||Lap c - Gamma c|| / ||c||`` of the slowest mode (difference form,
        accurate far below ``eps``).
    gap_out : float
        Lower bound on the gap between ``Gamma`` and the modes outside the Ritz space
        (the largest computed Laplacian eigenvalue minus ``Gamma``).
    form_error : float
        Absolute error of the slow Ritz block (``4 eps`` times its largest entry, plus
        ``N eps**2``): separations below ~100x this are not resolved.
    ritz_coupling : float
        Mixing angle neglected by solving the slow Ritz block alone (its coupling to the fast
        Ritz vectors over their gap).
    floor : float
        Estimated absolute error of ``Gamma``: ``residual**2 / gap_out + form_error``.
    """

    c: np.ndarray
    Gamma: float
    Gamma_eig: float
    Gamma2: float
    gaps_eig: np.ndarray
    resolution: float
    residual: float
    gap_out: float
    form_error: float
    ritz_coupling: float
    floor: float

    __repr__ = compact_repr

    @property
    def separation(self) -> float:
        """``Gamma2 - Gamma`` from the Rayleigh quotients (accurate even when tiny)."""
        return self.Gamma2 - self.Gamma

    @property
    def mode_error(self) -> float:
        """Estimated error (angle) of ``c``: out-of-span ``residual / gap_out``, plus the in-span
        ``form_error / (Gamma2 - Gamma)`` (infinite when the separation vanishes), plus
        :attr:`ritz_coupling`."""
        sep = self.separation
        out = self.residual / self.gap_out if self.gap_out > 0 else float("inf")
        return out + (self.form_error / sep if sep > 0 else float("inf")) + self.ritz_coupling

    @property
    def degenerate(self) -> bool:
        """The slowest mode is not determined to 1% (:attr:`mode_error` above 0.01)."""
        return bool(not self.mode_error < 0.01)

    @property
    def below_precision(self) -> bool:
        """``Gamma`` is below 10x its estimated float64 error floor (or not positive)."""
        return bool(not self.Gamma > 10.0 * self.floor)

    def certificate(self) -> dict[str, Any]:
        """The slow-mode stage's part of a sample's certificate (``Certificate`` field names).

        ``gamma_rel_diff = |Gamma - Gamma_eig| / Gamma`` (infinite if ``Gamma <= 0``),
        ``gamma_ratio = Gamma / Gamma2``, the resolution, residual, floor and mode error, and the
        two flags ``degenerate_slow_mode`` and ``gamma_below_precision``.
        """
        g = self.Gamma
        return dict(
            gamma_rel_diff=abs(g - self.Gamma_eig) / g if g > 0 else float("inf"),
            gamma_ratio=g / self.Gamma2 if self.Gamma2 > 0 else float("nan"),
            gamma_resolution=self.resolution,
            gamma_residual=self.residual,
            gamma_floor=self.floor,
            mode_error=self.mode_error,
            degenerate_slow_mode=self.degenerate,
            gamma_below_precision=self.below_precision,
        )


def fix_sign(c: np.ndarray) -> np.ndarray:
    """Apply the package's sign convention to a mode (see module docstring)."""
    big = np.flatnonzero(np.abs(c) >= 0.1 * np.max(np.abs(c)))
    if big.size and c[big[0]] < 0:
        return -c
    return c


def laplacian_apply(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(Lap x)_n = sum_m S_nm (x_n - x_m)`` for the Laplacian of the off-diagonal ``S``.

    Summed in this difference form, never as ``diag * x - S x``: the strong links (``S ~ 2/3``
    between bath-flip partners, whose ``x`` nearly agree) then contribute small terms instead of
    cancelling ``O(1)`` ones, so the result is accurate far below ``eps ||Lap||``.
    """
    xp = array_module(s)
    out = xp.empty(s.shape[0])
    for rows in _row_blocks(s.shape[0], cache=xp is np):
        d = x[rows, None] - x[None, :]
        d *= s[rows]
        out[rows] = d.sum(axis=1)
    return out


def laplacian_form(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``X^T Lap X = (1/2) sum_mn S_mn (x_m - x_n)(x_m - x_n)^T`` for ``X`` of shape ``(N, k)``.

    The positive form of Eq. (5) for several vectors at once (no cancellation); used for the
    Rayleigh-Ritz refinement of the slow modes.
    """
    xp = array_module(s)
    n, k = x.shape
    out = xp.zeros((k, k))
    # CPU: 512 kB blocks (the temporaries stay in cache: 2x faster than 4 MB at N = 2048,
    # measured); GPU: large blocks (few kernel launches)
    block = _CACHE_ELEMENTS if xp is np else _BLOCK_ELEMENTS * 8
    step = max(1, block // max(n * k, 1))
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        d = x[rows, None, :] - x[None, :, :]
        w = d * s[rows][:, :, None]
        out += w.reshape(-1, k).T @ d.reshape(-1, k)  # a BLAS product over the (m, n) pairs
    return 0.5 * out


def resolution_of(n: int, lap_norm: float) -> float:
    """Absolute eigenvalue resolution ``sqrt(N) eps ||Lap||`` of a dense symmetric eigensolver."""
    return float(np.sqrt(n) * EPS * max(lap_norm, EPS))


def slowest_modes(
    s: np.ndarray, n_modes: int = 6, *, groups: Sequence[np.ndarray] | None = None
) -> SlowModes:
    """Slowest modes of the rate matrix ``S`` by the deflated Laplacian (conventions, sections 2
    and 4).

    Parameters
    ----------
    s : ndarray, shape (N, N)
        Rate matrix of Eq. (3) (its diagonal is ignored).
    n_modes : int
        How many of the smallest nonzero Laplacian eigenvalues to compute (``>= 2``).
    groups : sequence of index arrays, optional
        A partition of the states in which ``S`` is block tridiagonal (``S`` vanishes between
        groups ``i`` and ``j`` with ``|i - j| >= 2``; :func:`sector_groups` of a chain that
        conserves ``S^z``).  The slow modes then come from subspace iteration with the shifted
        Laplacian factorised block by block (:func:`_slow_subspace_blocks`, cost about
        ``sum_i b_i**3`` instead of ``N**3``) when ``N >= BLOCK_SOLVER_MIN_STATES``; otherwise,
        or if that iteration does not converge, from a dense eigensolver.  Without ``groups``,
        for ``N >= CHOLESKY_MIN_STATES`` (CPU or GPU), the slow modes are first sought by inverse
        subspace iteration on one dense Cholesky factor (:func:`_slow_subspace_cholesky`,
        ``N**3 / 3`` flops at BLAS-3 speed against the ``4 N**3 / 3``, half BLAS-2, of the
        tridiagonal reduction); when the slow spectrum is too clustered for it (thermal
        samples) it gives way to the dense eigensolver within three sweeps.  Either way the
        result passes through the same Rayleigh-Ritz step and certificate.

    Notes
    -----
    The Laplacian ``Lap = diag(W 1) - W`` of ``W`` = off-diagonal ``S`` has exact zero row sums by
    construction.  The Householder reflection ``H`` with ``H u = e_1`` (``u`` uniform) turns it
    into ``H Lap H`` whose first row and column vanish; the smallest eigenpairs of the remaining
    ``(N-1) x (N-1)`` block (LAPACK ``dsyevr`` for a few eigenpairs) are mapped back through
    ``H``, so every mode is orthogonal to ``u`` to rounding.

    The dense eigensolver resolves eigenvalues only to about ``eps ||Lap||`` (~1e-16), so two slow
    modes a few 1e-14 apart come out mixed by a percent.  A Rayleigh-Ritz step in the span of the
    ``n_modes`` computed modes, with the Laplacian applied in the cancellation-free form of
    Eq. (5) (:func:`laplacian_form`), removes that mixing.  ``Gamma`` is the positive sum of
    Eq. (5), certified by the residual ``||Lap c - Gamma c||`` computed the same way.
    """
    xp = array_module(s)
    n = s.shape[0]
    k = min(max(2, n_modes), n - 1)
    solved = None
    if groups is not None and xp is np and len(groups) > 2 and n >= BLOCK_SOLVER_MIN_STATES:
        solved = _slow_subspace_blocks(s, groups, k)
    elif groups is None and n >= CHOLESKY_MIN_STATES:
        solved = _slow_subspace_cholesky(s, k)
    if solved is not None:
        vals, modes, lap_norm = solved
    else:
        vals, modes, lap_norm = _slow_subspace_dense(s, k)
    return _refine_slow_modes(s, vals, modes, lap_norm)


def _slow_subspace_dense(s: np.ndarray, k: int) -> tuple[np.ndarray, Any, float]:
    """The ``k`` smallest nonzero Laplacian eigenpairs from a dense eigensolver (``dsyevr``)."""
    xp = array_module(s)
    n = s.shape[0]
    lap = xp.negative(s)
    idx = xp.arange(n)
    lap[idx, idx] = 0.0
    lap[idx, idx] = -lap.sum(axis=1)  # exact zero row sums of the off-diagonal part
    lap_norm = 2.0 * float(xp.max(xp.diagonal(lap)))  # Gershgorin bound on ||Lap||_2
    # Deflate the uniform vector: H Lap H with H = 1 - 2 w w^T, H u = e_1.
    w = xp.asarray(_householder_vector(n))
    p = lap @ w
    q = p - (w @ p) * w
    t = xp.outer(w, q)
    lap -= 2.0 * t
    lap -= 2.0 * t.T
    del t
    if xp is np:
        vals, vecs = sla.eigh(
            lap[1:, 1:],
            subset_by_index=[0, k - 1],
            driver="evr",
            check_finite=False,
            overwrite_a=True,
        )
    else:  # cuSOLVER has no subset driver: all eigenpairs (cheap on a GPU), keep k
        vals, vecs = xp.linalg.eigh(lap[1:, 1:])
        vals, vecs = vals[:k], vecs[:, :k].copy()
    del lap
    modes = xp.zeros((n, k))
    modes[1:] = vecs
    modes -= 2.0 * xp.outer(w, w @ modes)  # back through H
    return np.asarray(to_host(vals)), modes, lap_norm


#: Smallest ``N`` at which :func:`slowest_modes` uses the block-tridiagonal solver when given
#: ``groups`` (below it the dense solver is faster: ``benchmarks/sectors.py``).
BLOCK_SOLVER_MIN_STATES = 1024

#: Subspace iteration of :func:`_slow_subspace_blocks`: block size ``k + _EXTRA_VECTORS``, at
#: most ``_MAX_ITERATIONS`` sweeps, converged when every wanted unit Ritz vector has a residual
#: ``||K x - mu x||`` below ``_ITERATION_TOL * ||Lap||`` (a dense eigensolver's is ~eps ||Lap||).
_EXTRA_VECTORS = 8
_MAX_ITERATIONS = 400
_ITERATION_TOL = 1e-13


def _slow_subspace_blocks(
    s: np.ndarray, groups: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The ``k`` smallest nonzero Laplacian eigenpairs of a block-tridiagonal ``S``.

    ``K = Lap + tau 1`` (``tau`` = the dense solver's resolution :func:`resolution_of`, so that
    ``K`` is safely positive definite while the spectrum below ``tau`` is no more compressed than
    a dense eigensolver leaves it) is factorised by block Cholesky in the order of ``groups``:
    ``K_ii - C_{i-1}^T C_{i-1} = L_i L_i^T``, ``C_i = L_i^{-1} K_{i,i+1}``, cost
    ``sum_i (b_i**3 / 3 + b_i**2 b_{i+1})``.  Subspace iteration with Rayleigh-Ritz on
    ``P K^{-1} P`` (``P`` projects out the uniform vector, an exact eigenvector of ``K``) gives
    the largest eigenvalues ``1 / (lambda_j + tau)``, i.e. the slowest modes; a sweep costs two
    block-triangular solves with ``k + 8`` right-hand sides.  Returns ``None`` (the caller uses
    the dense solver) if the factorisation fails or the iteration does not converge.
    """
    from scipy.linalg import LinAlgError, cholesky, solve_triangular

    n = s.shape[0]
    idx = [np.asarray(g, dtype=np.int64) for g in groups if len(g)]
    if sum(g.size for g in idx) != n:
        raise ValueError("groups must partition the states of S")
    diag_s = np.diagonal(s)
    degree = s.sum(axis=1) - diag_s  # row sums of the off-diagonal S: the Laplacian's diagonal
    lap_norm = 2.0 * float(np.max(degree))
    tau = resolution_of(n, lap_norm)
    factors: list[np.ndarray] = []
    couplings: list[np.ndarray] = []
    prev: np.ndarray | None = None
    try:
        for i, g in enumerate(idx):
            d = np.negative(s[np.ix_(g, g)])
            d[np.diag_indices_from(d)] = degree[g] + tau
            if prev is not None:
                d -= prev.T @ prev
            f = cholesky(d, lower=True, overwrite_a=True, check_finite=False)
            factors.append(f)
            if i + 1 < len(idx):
                b = np.negative(s[np.ix_(g, idx[i + 1])])
                prev = solve_triangular(f, b, lower=True, overwrite_b=True, check_finite=False)
                couplings.append(prev)
    except LinAlgError:
        return None

    def solve(x: np.ndarray) -> np.ndarray:
        """``K^{-1} x`` (forward then backward block substitution)."""
        z = []
        carry = None
        for i, g in enumerate(idx):
            r = x[g]
            if carry is not None:
                r = r - couplings[i - 1].T @ carry
            carry = solve_triangular(factors[i], r, lower=True, check_finite=False)
            z.append(carry)
        out = np.empty_like(x)
        carry = None
        for i in range(len(idx) - 1, -1, -1):
            r = z[i]
            if carry is not None:
                r = r - couplings[i] @ carry
            carry = solve_triangular(factors[i], r, lower=True, trans="T", check_finite=False)
            out[idx[i]] = carry
        return out

    def multiply(x: np.ndarray) -> np.ndarray:
        """``K x`` through the factors (``K = F F^T``, ``F`` block lower bidiagonal)."""
        w = []
        for i, g in enumerate(idx):
            r = factors[i].T @ x[g]
            if i + 1 < len(idx):
                r += couplings[i] @ x[idx[i + 1]]
            w.append(r)
        out = np.empty_like(x)
        for i, g in enumerate(idx):
            r = factors[i] @ w[i]
            if i > 0:
                r += couplings[i - 1].T @ w[i - 1]
            out[g] = r
        return out

    found = _subspace_iteration(solve, multiply, n, k, lap_norm, _MAX_ITERATIONS)
    if found is None:
        return None
    mu, ritz = found
    return mu - tau, ritz, lap_norm


def _subspace_iteration(
    solve: Callable[[np.ndarray], np.ndarray],
    multiply: Callable[[np.ndarray], np.ndarray],
    n: int,
    k: int,
    lap_norm: float,
    max_sweeps: int,
    predict: bool = False,
    extra: int = _EXTRA_VECTORS,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Subspace iteration with Rayleigh-Ritz on ``P K^{-1} P`` (``P`` projects out the uniform
    vector): ``(mu, ritz)``, the ``k`` smallest eigenvalues ``mu`` of ``K`` and their unit Ritz
    vectors, once every residual ``||K x - mu x||`` is below ``_ITERATION_TOL * lap_norm``; or
    ``None`` after ``max_sweeps`` sweeps.

    ``predict``: from the third sweep on, give up as soon as the sweeps still needed, at the
    observed rate ``theta_m / theta_k`` (the smallest Ritz value of ``K^{-1}`` in the block over
    the ``k``-th largest: the factor by which the ``k``-th residual falls per sweep), would take
    the total beyond ``max_sweeps``, or when the largest residual has not halved over the last
    two sweeps.  A clustered slow spectrum (thermal samples) then costs three sweeps before the
    caller falls back to a dense eigensolver, and so does a block whose residuals stall: the
    solves of ``K``, whose condition number is ``~ ||Lap|| / (lambda_1 + tau)``, leave an error
    ``~ eps theta_1`` in every solution, which bounds the residual of the ``j``-th vector near
    ``eps lambda_j**2 / lambda_1``, too large when the ``k``-th slow rate exceeds the slowest
    by many decades.
    """
    m = min(n - 1, k + extra)
    rng = np.random.default_rng(0x5EC7)  # a fixed start: the result does not depend on it
    x = rng.standard_normal((n, m))
    x -= x.mean(axis=0)
    x, _ = np.linalg.qr(x)
    target = _ITERATION_TOL * lap_norm
    history: list[float] = []
    for sweep in range(1, max_sweeps + 1):
        y = solve(x)
        y -= y.mean(axis=0)  # P: the uniform vector is an exact eigenvector of K
        t = x.T @ y
        theta, z = np.linalg.eigh(0.5 * (t + t.T))
        theta, z = theta[::-1], z[:, ::-1]  # largest 1 / (lambda + tau) first
        if theta[k - 1] > 0:
            ritz = x @ z[:, :k]
            mu = 1.0 / theta[:k]  # lambda + tau
            resid = np.linalg.norm(multiply(ritz) - ritz * mu, axis=0)
            worst = float(np.max(resid))
            if worst <= target:
                return mu, ritz
            history.append(worst)
            if predict and sweep >= 3:
                rate = float(theta[m - 1] / theta[k - 1])
                if not 0.0 < rate < 1.0:
                    return None
                if sweep + math.log(worst / target) / -math.log(rate) > max_sweeps:
                    return None
                if len(history) >= 3 and worst > 0.5 * history[-3]:
                    return None  # stalled at the solves' rounding
        x, _ = np.linalg.qr(y @ z)
    return None


#: Smallest ``N`` at which :func:`slowest_modes` tries :func:`_slow_subspace_cholesky` on a
#: dense ``S`` (below it ``dsyevr`` is as fast: ``benchmarks/slow_modes.py``).
CHOLESKY_MIN_STATES = 1024

#: Most sweeps of :func:`_slow_subspace_cholesky` (predicted from the observed rate): beyond
#: them the dense eigensolver is cheaper.
_CHOLESKY_MAX_SWEEPS = 40

#: Extra vectors of the Cholesky route's block (``k + 16``): the sweeps read the whole factor
#: for any number of right-hand sides, so a larger block (a smaller rate ``theta_m / theta_k``,
#: fewer sweeps) is nearly free: 0.36 -> 0.24 s at N = 2048 against ``k + 8``, measured.
_CHOLESKY_EXTRA_VECTORS = 16


def _slow_subspace_cholesky(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The ``k`` smallest nonzero Laplacian eigenpairs of a dense ``S`` by inverse subspace
    iteration: one Cholesky factorisation ``K = Lap + tau 1 = F F^T`` (``N**3 / 3`` flops,
    against ``4 N**3 / 3`` for the tridiagonal reduction of ``dsyevr`` and it runs at BLAS-3
    speed), then sweeps of two triangular solves with ``k + 16`` right-hand sides
    (:func:`_subspace_iteration`).  ``tau`` as in :func:`_slow_subspace_blocks`.

    The slow modes of an MBL sample are separated by factors (the relaxation times of l-bits at
    growing distance from the bath), so a sweep cuts the residuals by ``theta_m / theta_k ~ 0.2``
    and ten sweeps reach the dense solver's accuracy; the Rayleigh-Ritz step of
    :func:`_refine_slow_modes` then certifies the result exactly as for the dense solver.
    Returns ``None`` (the caller uses ``dsyevr``) when the factorisation fails or the slow
    spectrum is too clustered for :data:`_CHOLESKY_MAX_SWEEPS` sweeps (thermal samples).
    """
    xp = array_module(s)
    n = s.shape[0]
    diag_s = xp.diagonal(s).copy()
    degree = s.sum(axis=1) - diag_s  # the Laplacian's diagonal
    lap_norm = 2.0 * float(xp.max(degree))
    tau = resolution_of(n, lap_norm)
    shifted = degree + tau
    kmat = xp.negative(s)
    idx = xp.arange(n)
    kmat[idx, idx] = shifted
    if xp is np:
        from scipy.linalg import LinAlgError, cholesky, solve_triangular

        try:
            f = cholesky(kmat, lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:
            return None
    else:  # on the device (cuSOLVER potrf): a failed factorisation shows as a non-finite or
        # non-positive diagonal, or as LinAlgError where CuPy's error checks are on
        try:
            f = xp.linalg.cholesky(kmat)
        except np.linalg.LinAlgError:
            return None
        solve_triangular = linalg_module(xp).solve_triangular
        fd = xp.diagonal(f)
        if not bool(xp.all(xp.isfinite(fd))) or not bool(xp.all(fd > 0)):
            return None
    del kmat

    k_diag = (shifted + diag_s)[:, None]  # K = diag(k_diag) - S (S's own diagonal cancels)

    # the iteration's small matrices stay on the host; a block of k + 16 vectors crosses each way
    def solve(x: np.ndarray) -> np.ndarray:
        xd = xp.asarray(x)
        y = solve_triangular(f, xd, lower=True, check_finite=False)
        y = solve_triangular(f, y, lower=True, trans="T", overwrite_b=True, check_finite=False)
        return np.asarray(to_host(y))

    def multiply(x: np.ndarray) -> np.ndarray:
        """``K x`` from ``S`` itself (the residual of the true, not the factored, ``K``)."""
        xd = xp.asarray(x)
        return np.asarray(to_host(k_diag * xd - s @ xd))

    # on the CPU the sweeps are triangular solves with k + 16 right-hand sides and small QRs,
    # which a second BLAS thread slows down (0.51 -> 0.37 s at N = 2048 with the limit, measured)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1) if xp is np else nullcontext():
        found = _subspace_iteration(
            solve, multiply, n, k, lap_norm, _CHOLESKY_MAX_SWEEPS, True, _CHOLESKY_EXTRA_VECTORS
        )
    if found is None:
        return None
    mu, ritz = found
    return mu - tau, xp.asarray(ritz), lap_norm


def _refine_slow_modes(s: np.ndarray, vals: np.ndarray, modes: Any, lap_norm: float) -> SlowModes:
    """Rayleigh-Ritz in the span of the computed slow modes, ``Gamma`` and its error bounds."""
    xp = array_module(s)
    n = s.shape[0]
    k = modes.shape[1]
    # Rayleigh-Ritz refinement with the accurate (positive) form of Eq. (5), restricted to the
    # slow block so that the small eigenproblem's own rounding (eps x its largest entry) stays
    # at the scale of the slow gaps; couplings to the fast Ritz vectors are O(eps) and bounded.
    q, _ = xp.linalg.qr(modes)
    form = np.asarray(to_host(laplacian_form(s, q)))
    form = 0.5 * (form + form.T)
    diag = np.diagonal(form)
    slow = np.flatnonzero(diag <= 1e4 * max(float(diag[1]), resolution_of(n, lap_norm)))
    slow = np.union1d(slow, [0, 1])
    fast = np.setdiff1d(np.arange(k), slow)
    block = form[np.ix_(slow, slow)]
    _, y = sla.eigh(block)
    modes = q[:, xp.asarray(slow)] @ xp.asarray(y)
    modes *= np.sqrt(n) / xp.linalg.norm(modes, axis=0)
    form_error = 4.0 * EPS * float(np.max(np.abs(np.diagonal(block)))) + n * EPS**2
    ritz_coupling = 0.0
    if fast.size:
        coupling = np.abs(y[:, :2].T @ form[np.ix_(slow, fast)])  # slow modes <-> fast vectors
        ritz_coupling = float(np.max(coupling / np.maximum(diag[fast] - diag[0], 1e-300)))
    c_dev = modes[:, 0].copy()
    c_host = np.asarray(to_host(c_dev))
    c = fix_sign(c_host)
    if c is not c_host:  # fix_sign flipped it
        c_dev = -c_dev
    gamma = rayleigh_gap(s, c_dev)
    gamma2 = rayleigh_gap(s, modes[:, 1])
    resolution = resolution_of(n, lap_norm)
    residual = float(xp.linalg.norm(laplacian_apply(s, c_dev) - gamma * c_dev) / np.sqrt(n))
    gap_out = float(vals[-1]) - gamma
    floor = residual**2 / gap_out + form_error if gap_out > 0 else float("inf")
    return SlowModes(
        c=c,
        Gamma=gamma,
        Gamma_eig=float(vals[0]),
        Gamma2=gamma2,
        gaps_eig=np.asarray(vals),
        resolution=float(resolution),
        residual=residual,
        gap_out=gap_out,
        form_error=float(form_error),
        ritz_coupling=ritz_coupling,
        floor=float(floor),
    )
