"""The fast verified eigensolver of a unitary: a Hermitian ``eigh``, refined to Schur accuracy.

:func:`diagonalize_unitary_fast` diagonalises ``H = (e^{-i phi} U + e^{i phi} U^dagger)/2`` with
LAPACK ``zheevd``, re-diagonalises near-degenerate clusters by a small Schur, takes one Newton
step (banded on the CPU) and checks the result a posteriori on random probe vectors; the
algorithm and its accuracy argument are in that function's docstring.  It gets the accuracy of
complex Schur (:mod:`~mbl_avalanche.spectrum.schur`) at about a quarter of its cost.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.linalg as sla

from ..backend import Backend, column_blocks, get_backend, run_blocks
from ..errors import InputError
from .core import Spectrum, fold_quasienergy, probe_errors
from .lapack import eigh_destroying

__all__ = [
    "BAND_TOL",
    "CHECK_TOL",
    "CLUSTER_TOL",
    "DEFAULT_PHASE",
    "REFINEMENTS",
    "diagonalize_unitary_fast",
    "rotated_hermitian_part",
]

#: Rotation phase ``phi`` of the Hermitian matrix ``(e^{-i phi} U + e^{i phi} U^dagger)/2`` of the
#: fast method: a fixed draw (``numpy.random.default_rng(7).uniform(-pi, pi)``), so runs are
#: reproducible and ``phi`` is unrelated to any structure of the model (e.g. the ``theta, -theta``
#: symmetry of a time-reversal-invariant ``U``).
DEFAULT_PHASE = float(np.random.default_rng(7).uniform(-np.pi, np.pi))

#: Eigenvalues of the Hermitian matrix closer than this are one cluster (re-diagonalised by Schur).
CLUSTER_TOL = 1e-6

#: Pairs whose Hermitian eigenvalues ``h_n = cos(theta_n - phi)`` are closer than this get the
#: Newton correction of the banded refinement (see :func:`diagonalize_unitary_fast`).
BAND_TOL = 0.03

#: Refinement variants of the fast method: ``"banded"`` (CPU default) and ``"dense"`` (GPU).
REFINEMENTS = ("banded", "dense")

#: Acceptance threshold of the a-posteriori check of the fast method (residual, orthonormality).
CHECK_TOL = 1e-12


def _clusters(w: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Maximal runs ``[a, b)`` (``b - a >= 2``) of sorted ``w`` with neighbour gaps ``< tol``."""
    close = np.diff(w) < tol
    out = []
    i, n = 0, w.shape[0]
    while i < n - 1:
        if close[i]:
            j = i + 1
            while j < n - 1 and close[j]:
                j += 1
            out.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    return out


def _block_width(n: int, gpu: bool) -> int:
    """Columns per block of an ``n``-row pass: ``2**21`` elements on a GPU (few kernel
    launches), ``2**16`` on the CPU (temporaries stay in cache)."""
    return max(1, (1 << (21 if gpu else 16)) // max(n, 1))


def _column_inner(xp: Any, a: Any, b: Any) -> Any:
    """``sum_i conj(a_ij) b_ij`` per column.

    NumPy >= 2 (``vecdot`` conjugates its first argument): no temporaries, about 5x faster than
    the product-and-sum; CuPy and older NumPy: the product and sum (one block of temporaries).
    """
    if xp is np and hasattr(np, "vecdot"):
        return np.vecdot(a.T, b.T)  # over the last axis of the transposes: the rows of a, b
    return xp.sum(a.conj() * b, axis=0)


def _column_sq_norms(xp: Any, a: Any) -> Any:
    """``sum_i |a_ij|**2`` per column (NumPy >= 2: no temporaries; else in column blocks)."""
    if xp is np and hasattr(np, "vecdot"):
        return _column_inner(np, a, a).real
    out = xp.empty(a.shape[1], dtype=np.float64)
    for j in column_blocks(a.shape[1], _block_width(a.shape[0], xp is not np)):
        blk = a[:, j]
        out[j] = xp.sum(blk.real**2 + blk.imag**2, axis=0)
    return out


def rotated_hermitian_part(u: Any, phase: float, backend: str | Backend = "cpu") -> Any:
    """``H = (e^{-i phi} U + e^{i phi} U^dagger) / 2``, eigenvalues ``cos(theta_n - phi)``.

    On the CPU only the lower triangle is filled (the part LAPACK reads), tile by tile, into a
    Fortran-ordered buffer (no extra ``N x N`` temporary); the upper triangle is undefined.
    """
    be = get_backend(backend)
    c = 0.5 * np.exp(-1j * phase)
    if be.is_gpu:
        h = u * c
        h += u.conj().T * np.conj(c)
        return h
    n = u.shape[0]
    h = np.empty((n, n), dtype=np.complex128, order="F")
    width = 256
    for j0 in range(0, n, width):
        j = slice(j0, min(n, j0 + width))
        # lower triangle only (rows >= j0), the part LAPACK reads with lower=1
        blk = h[j0:, j]
        np.multiply(u[j0:, j], c, out=blk)
        blk += np.conj(c) * u[j, j0:].conj().T
    return h


def _band_windows(
    w: np.ndarray, band_tol: float, width: int
) -> Iterator[tuple[int, int, int, int]]:
    """Column blocks ``[s0, s1)`` of ascending ``w`` with their row windows ``[lo, hi)``.

    The window holds every index ``m`` with ``|w_m - w_n| < band_tol`` for some ``n`` in the
    block (``w`` is sorted, so it is one contiguous range).
    """
    n = w.shape[0]
    for s0 in range(0, n, width):
        s1 = min(n, s0 + width)
        lo = int(np.searchsorted(w, w[s0] - band_tol, side="left"))
        hi = int(np.searchsorted(w, w[s1 - 1] + band_tol, side="right"))
        yield s0, s1, lo, hi


def _refine_banded(
    v: np.ndarray,
    r: np.ndarray,
    lam: np.ndarray,
    w: np.ndarray,
    clusters: list[tuple[int, int]],
    f_blocks: list[np.ndarray],
    nv2: np.ndarray,
    band_tol: float,
    stamp: Callable[[str], None],
    width: int = 64,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The refinement step restricted to the band ``|h_m - h_n| < band_tol`` (CPU).

    ``v`` holds the vectors in ``eigh`` order (``w`` ascending), ``r = U V - V diag(lam)``.
    Only ``E_mn = (V^dagger R)_mn`` inside the band are computed, by dense column blocks against
    their row windows; ``K`` (anti-Hermitian part of ``E_mn / (lambda_n - lambda_m)``, Loewdin
    inside clusters and on the diagonal) is a sparse band, and ``V K`` is again formed block by
    block, into the buffer of ``r``.  ``V' = V (1 + K)`` overwrites ``v``.

    Returns ``V'``, the squared column norms of the inter-cluster ``K`` and the number of
    band entries.
    """
    from scipy import sparse

    n = v.shape[0]
    cid = np.arange(n)
    for a, b in clusters:
        cid[a:b] = a
    be = get_backend("cpu")
    blocks = list(_band_windows(w, band_tol, width))
    rows, cols, vals = [], [], []
    # in order (SciPy's BLAS wrappers hold the GIL, so Python threads would not overlap): one
    # multithreaded zgemm per block shares the cores
    for s0, s1, lo, hi in blocks:
        g = be.ah_b(v[:, lo:hi], r[:, s0:s1])  # E[lo:hi, s0:s1]
        mm = np.arange(lo, hi)[:, None]
        nn = np.arange(s0, s1)[None, :]
        i, j = np.nonzero((np.abs(w[mm] - w[nn]) < band_tol) & (cid[mm] != cid[nn]))
        m_idx, n_idx = i + lo, j + s0
        rows.append(m_idx)
        cols.append(n_idx)
        vals.append(g[i, j] / (lam[n_idx] - lam[m_idx]))
    stamp("product_E")
    kt = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    n_band = int(kt.nnz)
    k = (0.5 * (kt - kt.conj().T)).tocsc()  # anti-Hermitian part: the rotation
    k_col2 = np.asarray(abs(k).power(2).sum(axis=0)).ravel()
    # Loewdin inside clusters (off-diagonal; the diagonal is the column scaling below)
    c_rows, c_cols, c_vals = [], [], []
    for (a, b), f in zip(clusters, f_blocks, strict=True):
        idx = np.arange(a, b)
        blk = -0.5 * f
        blk[np.diag_indices_from(blk)] = 0.0
        c_rows.append(np.repeat(idx, b - a))
        c_cols.append(np.tile(idx, b - a))
        c_vals.append(blk.ravel())
    if clusters:
        k = k + sparse.csc_matrix(
            (np.concatenate(c_vals), (np.concatenate(c_rows), np.concatenate(c_cols))),
            shape=(n, n),
        )
    k = k.tocsc()
    stamp("build_K")

    # the sparse column blocks of K are cut here, in one thread (SciPy's sparse indexing may
    # canonicalise K in place); the threads below only densify their own block and multiply
    k_blocks = []
    for s0, s1, _, _ in blocks:
        kb = k[:, s0:s1]
        if kb.nnz == 0:
            k_blocks.append((s0, s1, 0, 0, None))
            continue
        lo, hi = int(kb.indices.min()), int(kb.indices.max()) + 1
        k_blocks.append((s0, s1, lo, hi, kb[lo:hi]))

    def vk_block(t: int) -> None:  # D = V K into the buffer of R (every E is taken)
        s0, s1, lo, hi, kb = k_blocks[t]
        if kb is None:
            r[:, s0:s1] = 0.0
            return
        r[:, s0:s1] = v[:, lo:hi] @ kb.toarray()

    run_blocks(vk_block, range(len(k_blocks)))  # NumPy's products release the GIL
    scale = 1.0 - 0.5 * (nv2 - 1.0)

    def update(j: slice) -> None:  # V' = V diag(scale) + D, once every block of D is done
        v[:, j] *= scale[j]
        v[:, j] += r[:, j]

    run_blocks(update, column_blocks(n, width))
    stamp("product_VK")
    return v, k_col2, n_band


def _skew_inplace(xp: Any, a: Any) -> None:
    """``a <- (a - a^dagger) / 2`` in place, tile by tile (no ``N x N`` temporary)."""
    n = a.shape[0]
    b = max(1, int(np.sqrt(1 << 20)))
    for i in range(0, n, b):
        ii = slice(i, min(n, i + b))
        d = a[ii, ii]
        a[ii, ii] = 0.5 * (d - d.conj().T)
        for j in range(i + b, n, b):
            jj = slice(j, min(n, j + b))
            t = 0.5 * (a[ii, jj] - a[jj, ii].conj().T)
            a[ii, jj] = t
            a[jj, ii] = -t.conj().T


def diagonalize_unitary_fast(
    u: Any,
    *,
    backend: str | Backend = "cpu",
    apply: Callable[[np.ndarray], np.ndarray] | None = None,
    phase: float = DEFAULT_PHASE,
    cluster_tol: float = CLUSTER_TOL,
    tol: float = CHECK_TOL,
    probes: int = 4,
    seed: int = 0,
    refine: str = "banded",
    band_tol: float = BAND_TOL,
) -> Spectrum:
    """Eigen-decomposition of a unitary from a Hermitian ``eigh``, refined to Schur accuracy.

    Notes
    -----
    The algorithm:

    1. ``H = (e^{-i phi} U + e^{i phi} U^dagger)/2`` has the eigenvectors of ``U`` and eigenvalues
       ``h_n = cos(theta_n - phi)``; ``eigh`` (``zheevd``) gives ``V``.  Its columns are
       eigenvectors of ``U`` only up to errors ``~ eps / |h_m - h_n|``, and states folded onto
       each other (``theta - phi = +-x``, or near ``x = 0, pi``) are mixed.
    2. ``X = U V`` (one product, or ``apply``).  Runs of ``h`` closer than ``cluster_tol`` are
       clusters: each is re-orthonormalised (Loewdin) and diagonalised by complex Schur of the
       small projected ``V_c^dagger U V_c``.  This resolves folding and near-degeneracies (all
       pairs with ``|e^{i theta_m} - e^{i theta_n}| < cluster_tol`` are in one cluster, since
       ``|h_m - h_n| <= |e^{i theta_m} - e^{i theta_n}|``).
    3. Refinement (one Newton step): with ``lambda_n`` the normalised Rayleigh quotients,
       ``R = X - V diag(lambda)`` and ``E = V^dagger R``.  With ``V = Q (1 + Z)`` (``Q`` the
       exact eigenvectors) ``E_mn = (lambda_m - lambda_n) Z_mn`` to first order, so for pairs
       in different clusters ``Kt_mn = E_mn / (lambda_n - lambda_m) = -Z_mn`` (denominators
       ``>= cluster_tol``).  ``K`` is the anti-Hermitian part of ``Kt`` (the rotation that
       removes the eigenvector error); the Hermitian part is not used, because a
       non-normal part ``dU ~ eps`` of the input enters ``Kt`` as ``dU / |lambda_m - lambda_n|``
       and would spoil orthonormality (Schur likewise returns orthonormal vectors with a
       residual ``~ dU``).  On the diagonal and inside clusters
       ``K = -(V_c^dagger V_c - 1)/2`` (Loewdin).  ``V' = V (1 + K)``: the orthonormality of
       ``V'`` is that of ``eigh`` plus ``O(|K|^2)``, the residual is second order in ``Z``.
       Banded (``refine="banded"``, the CPU default): ``eigh`` is backward stable, so ``V`` is
       the exact eigenbasis of ``H + dH`` with ``||dH|| ~ eps`` and ``Z_mn ~ dH_mn / (h_n -
       h_m)``; pairs with ``|h_m - h_n| >= band_tol`` have ``|E_mn| <= |dH_mn| |lambda_m -
       lambda_n| / |h_m - h_n|``, a rounding-level term.  So ``E`` and ``K`` are needed only in
       the band ``|h_m - h_n| < band_tol`` (contiguous in the ``eigh`` order, about 4% of the
       pairs for ``band_tol = 0.03``), which covers every pair near in ``lambda`` since
       ``|h_m - h_n| <= |lambda_m - lambda_n|``.  Measured at L = 10, 11 (alpha = 30): the
       neglected part of ``E`` has column norms <= 6e-14 (the eigen-residuals of ``eigh``
       before refinement reach 5e-10).  Both products become banded: about 0.25 of one
       ``N x N`` product in all, and no extra ``N x N`` buffer.  ``refine="dense"`` computes
       the whole ``E`` and ``V K`` (used on the GPU, where products are cheap).
    4. A-posteriori check: the second-order remainder is bounded from ``K`` (``bound``) and the
       final residual ``U V' - V' diag(lambda)`` and orthonormality ``V'^dagger V' - 1`` are
       measured on ``probes`` random Gaussian vectors (RMS column error, unbiased estimate);
       ``check["passed"]`` is true when all four are below ``tol``.

    Cost: one ``eigh``, one application of ``U`` (the gate circuit with ``apply``, else a
    product), the banded products (about 0.25 of a product; two full products with
    ``refine="dense"``), ``O(N^2)`` the rest.  Memory: ``U``, ``V``, ``R`` and the reordered
    ``V'`` at most (four ``N x N`` complex buffers).

    Returns
    -------
    Spectrum
        ``method="fast"``; ``check`` holds ``passed``, ``residual_rms``,
        ``orthonormality_rms`` (probe estimates), ``residual_bound``, ``orthonormality_bound``,
        ``residual_fro``, ``orthonormality_fro`` (the Frobenius estimates),
        ``pre_residual_max`` (largest column residual of the ``eigh`` vectors before the
        refinement, after the cluster step), ``clusters``, ``largest_cluster``,
        ``band_fraction`` (share of the pairs refined), ``phase`` and ``times`` (seconds per
        stage).
    """
    if refine not in REFINEMENTS:
        raise InputError(f"refine={refine!r} is not allowed: choose one of {REFINEMENTS}")
    be = get_backend(backend)
    xp = be.xp
    source = u if callable(u) else None
    u = be.asarray(source() if source is not None else u, dtype=np.complex128)
    n = int(u.shape[0])
    drop_u = source is not None and apply is not None and not be.is_gpu
    mul: Callable[[Any], Any]
    if be.is_gpu or apply is None:

        def mul(x: Any) -> Any:
            return u @ x
    else:
        mul = apply

    stamps = [("start", time.perf_counter())]

    def stamp(name: str) -> None:
        be.synchronize()
        stamps.append((name, time.perf_counter()))

    h = rotated_hermitian_part(u, phase, be)
    if drop_u:  # the circuit does the products; a fallback calls the source again
        del u
    stamp("hermitian")
    w, v = eigh_destroying(h, be)
    del h
    stamp("eigh")
    w_h = be.to_host(w).astype(float)
    x = mul(v)

    stamp("apply")
    # --- clusters: Loewdin + small Schur of the projected unitary --------------------------
    lam = xp.empty(n, dtype=np.complex128)
    nv2 = xp.empty(n, dtype=np.float64)
    # one pass: Rayleigh numerators and norms
    for j in column_blocks(n, _block_width(n, be.is_gpu)):
        vj = v[:, j]
        lam[j] = _column_inner(xp, vj, x[:, j])
        nv2[j] = _column_inner(xp, vj, vj).real
    del vj  # a view: it would keep the buffer of V alive
    lam /= nv2
    clusters = _clusters(w_h, cluster_tol)
    intra = 0.0
    f_blocks = []
    for a, b in clusters:
        vc = v[:, a:b]
        xc = x[:, a:b]
        g = be.to_host(vc.conj().T @ vc)
        gw, gv = np.linalg.eigh(0.5 * (g + g.conj().T))
        s = (gv / np.sqrt(gw)) @ gv.conj().T  # G^{-1/2}
        m = s.conj().T @ be.to_host(vc.conj().T @ xc) @ s
        t, q = sla.schur(m, output="complex")
        rot = be.asarray(s @ q)
        v[:, a:b] = vc @ rot
        x[:, a:b] = xc @ rot
        lam[a:b] = be.asarray(np.diagonal(t).copy())
        strict = np.triu(t, 1)
        intra = max(intra, float(np.max(np.linalg.norm(strict, axis=0))))
        vc = v[:, a:b]
        f = be.to_host(vc.conj().T @ vc)
        f[np.diag_indices_from(f)] -= 1.0
        f_blocks.append(f)
        nv2[a:b] = _column_sq_norms(xp, vc)
        del vc, xc
    lam /= xp.abs(lam)

    # --- refinement: R = X - V diag(lam) (in place), E = V^dagger R --------------------------
    pre_res2 = 0.0
    for j in column_blocks(n, _block_width(n, be.is_gpu)):
        rj = x[:, j]
        rj -= v[:, j] * lam[j]
        pre_res2 = max(pre_res2, float(xp.max(_column_inner(xp, rj, rj).real)))
    del rj
    pre_res = float(np.sqrt(pre_res2))
    stamp("clusters")
    theta = fold_quasienergy(np.angle(be.to_host(lam)))
    order = np.argsort(theta, kind="stable")
    n_band = n * n
    if refine == "banded" and not be.is_gpu:
        v, k_col2, n_band = _refine_banded(
            v, x, be.to_host(lam), w_h, clusters, f_blocks, be.to_host(nv2), band_tol, stamp
        )
        del x
        k_fro = float(np.sqrt(np.sum(k_col2)))
        k_max = float(np.sqrt(np.max(k_col2)))
        vnew = v[:, order]
        del v
    else:
        e = be.ah_b(v, x)
        stamp("product_E")
        del x
        with np.errstate(divide="ignore", invalid="ignore"):
            for j in column_blocks(n, _block_width(n, be.is_gpu)):
                e[:, j] /= lam[None, j] - lam[:, None]
        for a, b in clusters:
            e[a:b, a:b] = 0.0
        e[xp.arange(n), xp.arange(n)] = 0.0
        _skew_inplace(xp, e)
        k_col = xp.sqrt(_column_sq_norms(xp, e))
        k_fro = float(xp.sqrt(xp.sum(k_col**2)))
        k_max = float(xp.max(k_col))
        for (a, b), f in zip(clusters, f_blocks, strict=True):
            e[a:b, a:b] = be.asarray(-0.5 * f)
        e[xp.arange(n), xp.arange(n)] = 1.0 - 0.5 * (nv2 - 1.0)
        e = e[:, be.asarray(order)]
        stamp("build_K")
        vnew = v @ e
        stamp("product_VK")
        del v, e
    second = 2.0 * k_fro * k_max + k_max**2
    lam = lam[be.asarray(order)]

    # --- a-posteriori check on random probes --------------------------------------------------
    res_fro, orth_fro = probe_errors(mul, vnew, lam, probes=probes, seed=seed)
    res_rms = res_fro / np.sqrt(n)
    orth_rms = orth_fro / np.sqrt(n)
    res_bound = 2.0 * second + intra
    orth_bound = 2.0 * second
    figures = (res_rms, orth_rms, res_bound, orth_bound)
    passed = bool(all(np.isfinite(f) and f <= tol for f in figures))
    stamp("check")
    times = {b[0]: b[1] - a[1] for a, b in itertools.pairwise(stamps)}
    check = dict(
        passed=passed,
        residual_rms=res_rms,
        orthonormality_rms=orth_rms,
        residual_bound=res_bound,
        orthonormality_bound=orth_bound,
        pre_residual_max=pre_res,
        residual_fro=res_fro,
        orthonormality_fro=orth_fro,
        clusters=len(clusters),
        largest_cluster=max((b - a for a, b in clusters), default=1),
        band_fraction=n_band / float(n * n),
        phase=float(phase),
        times=times,
    )
    return Spectrum(theta=theta[order], V=vnew, periodic=True, method="fast", check=check)
