"""Rate matrix, slowest mode and Gamma: identities and independent constructions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from conftest import haar_unitary
from mbl_avalanche import FloquetModel, analyze_sample
from mbl_avalanche.bath import (
    contributions,
    jump_matrix_elements,
    laplacian_form,
    rate_matrix,
    rate_matrix_dense,
    rayleigh_gap,
    slowest_modes,
    top_contributions,
)
from mbl_avalanche.spectrum import diagonalize_unitary

PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


def site_op(p: np.ndarray, L: int) -> np.ndarray:
    """A one-site operator on site L (the least significant bit)."""
    return np.kron(np.eye(2 ** (L - 1)), p)


@pytest.mark.parametrize("L,alpha", [(4, 1.0), (6, 30.0), (7, 3.0)])
def test_rate_matrix_identities(L, alpha):
    spec = diagonalize_unitary(FloquetModel(L=L, alpha=alpha).unitary(1))
    s = rate_matrix(spec.V)
    assert np.max(np.abs(s - s.T)) <= 1e-15
    assert np.all(s >= 0)
    assert np.max(np.abs(s.sum(axis=1) - 1)) <= 1e-12
    assert np.max(np.abs(s - rate_matrix_dense(spec.V))) <= 1e-14
    for m, n in [(0, 1), (3, 5), (2, 2)]:
        e = jump_matrix_elements(spec.V, m, n)
        ref = [spec.V[:, m].conj() @ site_op(PAULI[k], L) @ spec.V[:, n] for k in "XYZ"]
        assert np.allclose(e, ref, atol=1e-14)
        assert np.isclose(s[m, n], np.sum(np.abs(e) ** 2) / 3, atol=1e-15)


@pytest.mark.parametrize("L,alpha", [(5, 1.0), (6, 3.0), (8, 1.0), (8, 30.0)])
def test_slowest_mode_normalisation_and_eq5(L, alpha):
    r = analyze_sample(FloquetModel(L=L, alpha=alpha), 2, keep_S=True)
    n = 2**L
    assert abs(r.c.sum()) <= 1e-9 * np.sqrt(n)  # orthogonal to the uniform vector
    assert np.isclose(r.c @ r.c, n, rtol=1e-13)
    # eigenvector of the Laplacian with eigenvalue Gamma: (1 - S) c = Gamma c (off-diagonal part)
    w = r.S.copy()
    np.fill_diagonal(w, 0)
    lap_c = w.sum(axis=1) * r.c - w @ r.c
    assert np.linalg.norm(lap_c - r.Gamma_eig * r.c) <= 1e-12 * np.sqrt(n)
    # Eq. (5): sum_{m<n} D_mn = 2^L Gamma, D_mn >= 0
    d = r.contributions()
    assert np.all(d >= 0)
    total = np.triu(d, 1).sum()
    assert np.isclose(total, n * r.Gamma, rtol=1e-12)
    if r.Gamma > 1e-6:  # well resolved: eigenvalue and Eq. (5) agree to 1e-10
        assert abs(r.Gamma - r.Gamma_eig) <= 1e-10 * r.Gamma
    assert r.Gamma2 >= r.Gamma * (1 - 1e-9)
    # top pair and R
    ((m, k, dmax),) = top_contributions(r.S, r.c, 1)
    assert (m, k) == (r.mu, r.nu) and m < k
    assert np.isclose(dmax, np.triu(d, 1).max(), rtol=1e-14)
    assert np.isclose(r.R, dmax / (n * r.Gamma))
    top3 = top_contributions(r.S, r.c, 3)
    flat = np.sort(np.triu(d, 1).ravel())[::-1][:3]
    assert np.allclose([t[2] for t in top3], flat, rtol=1e-14)


def test_sign_convention_is_deterministic():
    r = analyze_sample(FloquetModel(L=6, alpha=30), 4)
    big = np.flatnonzero(np.abs(r.c) >= 0.1 * np.abs(r.c).max())
    assert r.c[big[0]] > 0


def superoperator(u: np.ndarray, gamma: float, L: int) -> np.ndarray:
    """Dense 4^L x 4^L matrix of S_period (Eq. 1) acting on row-major vec(rho)."""
    ad_u = np.kron(u, u.conj())
    bath = np.eye(4**L, dtype=complex) / (1 + 3 * gamma)
    for k in "XYZ":
        e = site_op(PAULI[k], L)
        bath += gamma / (1 + 3 * gamma) * np.kron(e, e.conj())
    return bath @ ad_u


@pytest.mark.parametrize("L", [3, 4])
def test_gamma_against_brute_force_superoperator(L):
    alpha = 3.0
    model = FloquetModel(L=L, alpha=alpha, seed=5)
    u = model.unitary(0)
    r = analyze_sample(model, 0)
    assert r.Gamma > 1e-3
    theta = r.theta
    dtheta = np.abs(np.angle(np.exp(1j * (theta[:, None] - theta[None, :]))))
    min_split = dtheta[dtheta > 0].min()
    errors = []
    gammas = [1e-3, 1e-4]
    for gamma in gammas:
        lam = np.linalg.eigvals(superoperator(u, gamma, L))
        # the diagonal (population) sector: eigenvalues with phase well below the level spacing
        real_sector = lam[np.abs(np.angle(lam)) < min_split / 2]
        real_sector = real_sector[np.argsort(-np.abs(real_sector))]
        assert np.isclose(real_sector[0], 1.0, atol=1e-12)  # the identity steady state
        r1 = -np.log(np.abs(real_sector[1]))
        errors.append(abs(r1 / (3 * gamma) - r.Gamma))
    assert errors[1] < 0.2 * r.Gamma
    ratio = errors[0] / errors[1]
    assert 5 < ratio < 20, ratio  # the error shrinks in proportion to gamma


def pauli_strings(L: int):
    for labels in itertools.product("IXYZ", repeat=L):
        op = np.ones((1, 1), dtype=complex)
        for lab in labels:
            op = np.kron(op, PAULI[lab])
        yield labels, op


@pytest.mark.parametrize("L,alpha", [(3, 2.0), (4, 3.0), (5, 10.0)])
def test_pauli_weight_identity(L, alpha):
    """Gamma = (4/3) x (weight of tau_S on Pauli strings that are not the identity at site L)."""
    r = analyze_sample(FloquetModel(L=L, alpha=alpha, seed=3), 1)
    tau = (r.V * r.c[None, :]) @ r.V.conj().T
    n = 2**L
    w_total = 0.0
    w_bath = 0.0
    for labels, p in pauli_strings(L):
        coef = np.trace(p @ tau) / n
        w = abs(coef) ** 2
        w_total += w
        if labels[-1] != "I":
            w_bath += w
    assert np.isclose(w_total, 1.0, rtol=1e-12)  # tr tau^2 / 2^L = 1
    assert np.isclose(r.Gamma, 4.0 / 3.0 * w_bath / w_total, rtol=1e-9)
    # and tau_S minimises that weight among traceless eigenbasis-diagonal operators: any other
    # mode orthogonal to the uniform vector has at least as much weight at site L
    s = r.rate_matrix()
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal(n)
        x -= x.mean()
        assert rayleigh_gap(s, x) >= r.Gamma * (1 - 1e-12)


def test_decoupled_sites_degenerate_slow_modes():
    """A diagonal unitary (alpha -> infinity): sites decouple, Gamma = 0 many times over."""
    rng = np.random.default_rng(1)
    u = np.diag(np.exp(1j * rng.uniform(-np.pi, np.pi, 32)))
    s = rate_matrix(diagonalize_unitary(u).V)
    modes = slowest_modes(s)
    assert modes.degenerate
    assert modes.below_precision
    assert modes.Gamma <= 1e-20


def test_contributions_matrix_matches_streamed_top():
    rng = np.random.default_rng(4)
    v = haar_unitary(64, rng)
    s = rate_matrix(v)
    c = rng.standard_normal(64)
    d = contributions(s, c)
    assert np.allclose(np.diag(d), 0)
    top = top_contributions(s, c, 5)
    iu = np.triu_indices(64, 1)
    order = np.argsort(-d[iu])[:5]
    assert [(int(iu[0][o]), int(iu[1][o])) for o in order] == [(m, k) for m, k, _ in top]


@pytest.mark.parametrize("b_over_a", [1.05, 1.001])
def test_planted_near_degenerate_slow_modes(b_over_a):
    """Three clusters joined by couplings A, B ~ 1e-13: two slow modes ~1e-15 apart.

    By symmetry the slow modes are constant on each cluster and solve the 3x3 quotient problem
    exactly, so c, Gamma and Gamma2 are known.
    """
    sizes = [20, 20, 24]
    n = sum(sizes)
    lab = np.repeat(np.arange(3), sizes)
    a_tot, b_tot = 1e-13, 1e-13 * b_over_a
    s = np.zeros((n, n))
    for i, ni in enumerate(sizes):
        s[np.ix_(lab == i, lab == i)] = 0.5 / ni
    s[np.ix_(lab == 0, lab == 1)] = a_tot / (sizes[0] * sizes[1])
    s[np.ix_(lab == 1, lab == 2)] = b_tot / (sizes[1] * sizes[2])
    s = np.maximum(s, s.T)
    np.fill_diagonal(s, 0.0)
    np.fill_diagonal(s, 1.0 - s.sum(axis=1))
    k = np.array([[a_tot, -a_tot, 0], [-a_tot, a_tot + b_tot, -b_tot], [0, -b_tot, b_tot]])
    import scipy.linalg as sla

    lam, y = sla.eigh(k, np.diag(sizes).astype(float))
    assert abs(lam[0]) < 1e-25
    modes = slowest_modes(s)
    assert modes.Gamma == pytest.approx(lam[1], rel=1e-12)
    assert modes.Gamma2 == pytest.approx(lam[2], rel=1e-12)
    c_exact = y[lab, 1]
    c_exact *= np.sqrt(n) / np.linalg.norm(c_exact)
    c_exact *= np.sign(c_exact @ modes.c)
    assert np.max(np.abs(modes.c - c_exact)) < 1e-12  # the dense eigensolver alone: 5e-5
    assert modes.mode_error < 1e-2 and not modes.degenerate and not modes.below_precision


def test_laplacian_form_against_a_pairwise_sum():
    """``X^T Lap X`` in difference form equals the explicit sum over pairs, even where the
    expanded form ``X^T (diag - S) X`` cancels (strong links between nearly equal entries)."""
    rng = np.random.default_rng(5)
    n, k = 37, 4
    s = rng.random((n, n)) ** 8
    s = s + s.T
    s[0, 1] = s[1, 0] = 0.7  # strong link, x_0 and x_1 equal to 1e-9
    x = rng.standard_normal((n, k))
    x[1] = x[0] + 1e-9 * rng.standard_normal(k)
    ref = np.empty((k, k))
    for a, b in itertools.product(range(k), repeat=2):
        ref[a, b] = math.fsum(
            s[m, j] * (x[m, a] - x[j, a]) * (x[m, b] - x[j, b])
            for m in range(n)
            for j in range(m + 1, n)
        )
    got = laplacian_form(s, x)
    assert np.allclose(got, got.T, rtol=0, atol=1e-14 * np.max(np.abs(ref)))
    assert np.max(np.abs(got - ref)) <= 1e-13 * np.max(np.abs(ref))


# --- the Cholesky route to the slow modes (dense S, N >= CHOLESKY_MIN_STATES) ------------------


def _spy_cholesky(monkeypatch) -> list:
    """Record what each call of ``bath._slow_subspace_cholesky`` returned."""
    from mbl_avalanche import bath

    calls: list = []
    real = bath._slow_subspace_cholesky

    def spy(s, k):
        out = real(s, k)
        calls.append(out)
        return out

    monkeypatch.setattr(bath, "_slow_subspace_cholesky", spy)
    return calls


@pytest.mark.parametrize("b_over_a", [1.05, 1.001])
def test_cholesky_route_gives_way_on_the_planted_near_degenerate_modes(monkeypatch, b_over_a):
    """The planted three-cluster problem: slow rates ~1e-14, the next ~0.5, so the solves of
    K (condition ~1e14) leave the fast Ritz vectors a residual ~eps 0.5**2 / 1e-14 that never
    reaches the tolerance; the route stops within a few sweeps and dsyevr gives the planted
    answer to the same 1e-12 as without the route."""
    from mbl_avalanche import bath

    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 2)
    calls = _spy_cholesky(monkeypatch)
    test_planted_near_degenerate_slow_modes(b_over_a)
    assert calls == [None]  # tried, given up, dense solver used


@pytest.fixture(scope="module")
def mbl_rates_L10() -> np.ndarray:
    """S of a Floquet sample at L = 10 (N = 1024 = CHOLESKY_MIN_STATES), alpha = 30."""
    return analyze_sample(FloquetModel(L=10, alpha=30.0), 1, keep_S=True).S


def test_cholesky_route_agrees_with_dsyevr_within_the_certified_errors(monkeypatch, mbl_rates_L10):
    from mbl_avalanche import bath

    s = mbl_rates_L10
    assert s.shape[0] >= bath.CHOLESKY_MIN_STATES
    calls = _spy_cholesky(monkeypatch)
    a = slowest_modes(s)  # Cholesky route
    assert len(calls) == 1 and calls[0] is not None
    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 1 << 62)
    b = slowest_modes(s)  # dsyevr
    assert len(calls) == 1
    assert not (a.below_precision or b.below_precision or a.degenerate or b.degenerate)
    # Gamma is a Rayleigh quotient of each route's mode: both lie within their floors
    assert abs(a.Gamma - b.Gamma) <= 10 * (a.floor + b.floor), (a.Gamma, b.Gamma)
    assert abs(a.Gamma2 - b.Gamma2) <= 1e-6 * b.Gamma2
    n = s.shape[0]
    assert np.linalg.norm(a.c - b.c) / np.sqrt(n) <= 2 * (a.mode_error + b.mode_error)
    # the Laplacian eigenvalues of the two solvers agree to the dense resolution
    assert np.max(np.abs(a.gaps_eig - b.gaps_eig)) <= 10 * b.resolution + 1e-9 * b.gaps_eig[-1]
    # the certificate is computed from the mode itself, whichever solver found it
    assert a.residual <= 1e3 * b.resolution


def test_cholesky_route_gives_way_on_a_clustered_spectrum(monkeypatch):
    """A Haar-random V (thermal): the slow spectrum is clustered, the iteration predicts that
    it would need too many sweeps and stops after three; the result is the dense solver's."""
    from mbl_avalanche import bath

    rng = np.random.default_rng(8)
    s = rate_matrix(haar_unitary(1024, rng))
    solves = []
    real_iteration = bath._subspace_iteration

    def counting(solve, *args, **kw):
        def counted(x):
            solves.append(1)
            return solve(x)

        return real_iteration(counted, *args, **kw)

    monkeypatch.setattr(bath, "_subspace_iteration", counting)
    calls = _spy_cholesky(monkeypatch)
    a = slowest_modes(s)
    assert calls == [None] and len(solves) == 3
    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 1 << 62)
    b = slowest_modes(s)
    assert a.Gamma == b.Gamma and np.array_equal(a.c, b.c)


def test_subspace_iteration_on_a_known_spectrum():
    """K = diag(mu) with mu spread by factors: the k smallest come out to the tolerance, in a
    number of sweeps set by mu_k / mu_(m+1); a clustered mu with predict=True stops at once."""
    from mbl_avalanche import bath

    n, k = 200, 6
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    q[:, 0] = 1 / np.sqrt(n)  # the uniform vector, which P projects out
    q, _ = np.linalg.qr(q)
    q[:, 0] = np.abs(q[:, 0])
    mu = np.concatenate([[1.0], 10.0 ** np.linspace(-12, 0, n - 1)])  # mu[0]: the uniform one
    kmat = (q * mu) @ q.T
    kinv = (q / mu) @ q.T
    got = bath._subspace_iteration(lambda x: kinv @ x, lambda x: kmat @ x, n, k, 1.0, 400)
    assert got is not None
    vals, ritz = got
    want = np.sort(mu[1:])[:k]
    # absolute accuracy: the tolerance 1e-13 ||K|| on the residuals (K^-1 itself is rounded)
    assert np.max(np.abs(vals - want)) < 1e-13
    assert np.max(np.abs(kmat @ ritz - ritz * vals)) < 1e-12
    clustered = np.concatenate([[1.0], 1.0 + 1e-3 * np.arange(n - 1)])
    kc, kci = (q * clustered) @ q.T, (q / clustered) @ q.T
    sweeps = []
    out = bath._subspace_iteration(
        lambda x: sweeps.append(1) or kci @ x, lambda x: kc @ x, n, k, 1.0, 40, True
    )
    assert out is None and len(sweeps) == 3


@pytest.mark.parametrize("k", [1, 4])
def test_streamed_top_over_many_row_blocks_with_ties(monkeypatch, k):
    """Row blocks of a few rows (the streaming of top_contributions) against the full matrix D,
    with planted exact ties: the smallest (m, n) comes first among equal D."""
    from mbl_avalanche import bath

    monkeypatch.setattr(bath, "_CACHE_ELEMENTS", 3 * 40)  # 3 rows per block at N = 40
    monkeypatch.setattr(bath, "_BLOCK_ELEMENTS", 3 * 40)
    rng = np.random.default_rng(9)
    n = 40
    # dyadic numbers with few bits: every D = S (c_m - c_n)**2 is exact, so ties are exact
    c = rng.integers(-16, 17, n) / 8.0
    a = rng.integers(1, 64, (n, n)) / 64.0
    s = np.triu(a, 1) + np.triu(a, 1).T
    c[[5, 21, 30]] = 3.0
    c[[12, 26, 38]] = -3.0  # the largest |c_m - c_n| = 6 on the pairs (5|21|30, 12|26|38)
    for m, nn in [(5, 12), (21, 26), (30, 38), (5, 38), (12, 30)]:
        s[m, nn] = s[nn, m] = 1.0  # the largest S: D = 36 on five pairs
    d = contributions(s, c)
    iu = np.triu_indices(n, 1)
    vals = d[iu]
    assert np.sum(vals == vals.max()) == 5
    order = sorted(range(vals.size), key=lambda i: (-vals[i], iu[0][i], iu[1][i]))[:k]
    want = [(int(iu[0][o]), int(iu[1][o]), float(vals[o])) for o in order]
    got = top_contributions(s, c, k)
    assert got == want
    assert got[0][:2] == (5, 12)
