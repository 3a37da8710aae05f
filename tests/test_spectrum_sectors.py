"""Sector-by-sector analysis of the XXZ chain against dense diagonalisation of the full H, and
the block-tridiagonal slow-mode solver against the dense one.

Tolerances follow from each result's own error estimates: ``Gamma`` agrees to the sum of the two
estimated floors (``SlowModes.floor``, residual**2 / gap plus the Ritz block's rounding) plus the
eigenvectors' conditioning (``eps ||H|| / min splitting``, relative), and the
mode ``c`` to the sum of the two estimated mode errors (angles).  Samples whose slowest mode is
flagged degenerate (not determined to 1%) are compared only on ``Gamma``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbl_avalanche import analyze, analyze_sample, bath, spectrum
from mbl_avalanche.models import HeisenbergModel

EPS = np.finfo(float).eps


def _close_gamma(a, b, norm):
    """Within the slow-mode floors plus the eigenvectors' conditioning: a dense ``eigh`` mixes
    states of different sectors closer than ``eps ||H||`` by ``eps ||H|| / splitting``, which
    moves the rates built from them by as much (relative)."""
    cond = norm / min(a.certificate.min_splitting, b.certificate.min_splitting)
    tol = 10 * (a.certificate.gamma_floor + b.certificate.gamma_floor)
    tol += a.Gamma * EPS * (16 + 10 * cond)
    return abs(a.Gamma - b.Gamma) <= tol


@pytest.mark.parametrize("L", [5, 6, 7])
@pytest.mark.parametrize("W", [1.0, 6.0, 20.0])
def test_sectors_equal_dense_gamma_mode_and_four_state_set(L, W):
    m = HeisenbergModel(L=L, W=W, seed=17)
    compared = 0
    for k in range(3):
        rs = analyze_sample(m, k)  # sector by sector
        rd = analyze(m.operator(k), "hamiltonian")  # dense eigh of the 2**L matrix
        scale = float(np.max(np.abs(np.linalg.eigvalsh(m.operator(k)))))
        np.testing.assert_allclose(
            rs.spectrum.theta, rd.spectrum.theta, rtol=0, atol=4 * 2**L * EPS * scale
        )
        assert rs.meta["method"] == "eigh-sectors" and rs.meta["model"] == "heisenberg"
        assert _close_gamma(rs, rd, scale), (k, rs.Gamma, rd.Gamma)
        if rs.certificate.degenerate_slow_mode or rd.certificate.degenerate_slow_mode:
            continue
        err = rs.certificate.mode_error + rd.certificate.mode_error
        overlap = abs(rs.c @ rd.c) / rs.N
        assert overlap >= np.cos(err) - 1e-12
        # the same top pair and the same four states, resonance location and case
        a, b = rs.scalars(), rd.scalars()
        for key in ("mu", "nu", "A", "B", "Ap", "Bp", "x", "case", "flip_sites"):
            assert a[key] == b[key], (key, a[key], b[key])
        np.testing.assert_allclose(a["S_AB"], b["S_AB"], rtol=1e-9, atol=1e-12)
        compared += 1
    assert compared >= 1


def _rate_matrix(L, W, k):
    m = HeisenbergModel(L=L, W=W, seed=23)
    spec = spectrum.diagonalize_sectors(m.sector_blocks(k), m.sectors())
    return bath.rate_matrix_sectors(spec.blocks, spec.N), bath.sector_groups(spec.blocks)


def test_rate_matrix_is_block_tridiagonal_in_sector_order():
    s, groups = _rate_matrix(6, 3.0, 0)
    assert [len(g) for g in groups] == [1, 6, 15, 20, 15, 6, 1]
    for i, gi in enumerate(groups):
        for j, gj in enumerate(groups):
            blk = s[np.ix_(gi, gj)]
            if abs(i - j) >= 2:
                assert not blk.any()
            elif i != j:
                assert blk.any()  # X_L, Y_L connect neighbouring sectors
    # row sums of the stochastic S: 1 (conventions, section 2)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=0, atol=64 * EPS)


@pytest.mark.parametrize("W", [0.5, 6.0, 30.0])
def test_block_solver_equals_dense_solver(W, monkeypatch):
    """L = 10 (N = 1024, the solver's threshold): thermal, intermediate and deep MBL."""
    used = []
    real = bath._slow_subspace_blocks

    def spy(*a, **k):
        out = real(*a, **k)
        used.append(out is not None)
        return out

    monkeypatch.setattr(bath, "_slow_subspace_blocks", spy)
    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 1 << 62)  # the reference: dsyevr
    s, groups = _rate_matrix(10, W, 1)
    assert s.shape[0] == bath.BLOCK_SOLVER_MIN_STATES
    d = bath.slowest_modes(s)
    b = bath.slowest_modes(s, groups=groups)
    assert used == [True]  # the block path ran and converged
    tol = 10 * (d.floor + b.floor) + 16 * EPS * d.Gamma
    assert abs(b.Gamma - d.Gamma) <= tol
    assert b.residual <= 1e3 * EPS * 2 * np.max(s.sum(axis=1))  # a certified mode
    if not (d.degenerate or b.degenerate):
        assert abs(b.c @ d.c) / s.shape[0] >= np.cos(d.mode_error + b.mode_error) - 1e-12
        # the Laplacian eigenvalues of the two solvers agree to the dense resolution
        np.testing.assert_allclose(b.gaps_eig, d.gaps_eig, rtol=1e-6, atol=10 * d.resolution)


def test_block_solver_falls_back_to_dense(monkeypatch):
    s, groups = _rate_matrix(10, 4.0, 0)
    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 1 << 62)  # dsyevr for the dense S
    dense = bath.slowest_modes(s)
    monkeypatch.setattr(bath, "_MAX_ITERATIONS", 0)  # never converges
    assert bath._slow_subspace_blocks(s, groups, 6) is None
    again = bath.slowest_modes(s, groups=groups)
    assert again.Gamma == dense.Gamma and np.array_equal(again.c, dense.c)


def test_groups_must_partition_the_states():
    s, groups = _rate_matrix(10, 4.0, 0)
    with pytest.raises(ValueError, match="partition"):
        bath._slow_subspace_blocks(s, groups[:-1], 6)
