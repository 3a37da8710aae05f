"""Exact Lindblad dynamics of a Hamiltonian with the bath at site L: the generator, its slow
modes, rho(t), the secular (weak-coupling) limit with its third-order correction, and a QuTiP
cross-check of the generator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.optimize import linear_sum_assignment

from mbl_avalanche import InputError
from mbl_avalanche.basis import z_signs
from mbl_avalanche.cli import main
from mbl_avalanche.dynamics import (
    Channel,
    Lindbladian,
    apply_dissipator,
    evolve,
    gamma_sweep,
    run_dynamics,
    time_grid,
    weak_coupling,
    weak_coupling_hamiltonian,
)

EPS = np.finfo(float).eps
PAULI = (
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], dtype=complex),
)


def site_op(op: np.ndarray, i: int, L: int) -> np.ndarray:
    """``op`` on site ``i`` (1-based; site 1 is the most significant bit of the basis index)."""
    return np.kron(np.kron(np.eye(2 ** (i - 1)), op), np.eye(2 ** (L - i)))


def xxz_chain(L: int, W: float, seed: int, delta: float = 1.0) -> np.ndarray:
    """Random-field XXZ chain of conventions, section 1b: ``S = sigma/2``, ``h_i ~ U[-W, W]``."""
    rng = np.random.default_rng(seed)
    fields = rng.uniform(-W, W, L)
    s = [p / 2 for p in PAULI]
    h = np.zeros((2**L, 2**L), dtype=complex)
    for i in range(1, L):
        for a, coupling in zip(range(3), (1.0, 1.0, delta), strict=True):
            h += coupling * site_op(s[a], i, L) @ site_op(s[a], i + 1, L)
    for i in range(1, L + 1):
        h += fields[i - 1] * site_op(s[2], i, L)
    return h


def gue(L: int, seed: int) -> np.ndarray:
    """A complex Hermitian (GUE) matrix of size ``2**L``: no time-reversal symmetry."""
    rng = np.random.default_rng(seed)
    n = 2**L
    z = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / 2
    return z + z.conj().T


def _random_operators(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))


def _lindblad_explicit(h: np.ndarray, gamma: float, rho: np.ndarray) -> np.ndarray:
    """``-i[H, rho] + sum_j (L_j rho L_j^+ - {L_j^+ L_j, rho}/2)``, ``L_j = sqrt(g) E_j``."""
    L = h.shape[0].bit_length() - 1
    out = -1j * (h @ rho - rho @ h)
    for p in PAULI:
        e = math.sqrt(gamma) * site_op(p, L, L)
        ed = e.conj().T
        out = out + e @ rho @ ed - 0.5 * (ed @ e @ rho + rho @ ed @ e)
    return out


# --- the test Hamiltonians ----------------------------------------------------------------------


def test_xxz_builder_bit_order_field_and_conservation():
    L = 4
    h = xxz_chain(L, 3.0, seed=7, delta=0.6)
    fields = np.random.default_rng(7).uniform(-3.0, 3.0, L)
    z = z_signs(L)  # z[n, i-1] = <n|Z_i|n>, site 1 the most significant bit
    diag = 0.5 * z @ fields + 0.25 * 0.6 * np.sum(z[:, :-1] * z[:, 1:], axis=1)
    assert np.max(np.abs(np.real(np.diagonal(h)) - diag)) < 1e-14
    assert np.max(np.abs(h - h.conj().T)) == 0
    sz = np.diag(0.5 * z.sum(axis=1))
    assert np.max(np.abs(h @ sz - sz @ h)) < 1e-14  # total S^z is conserved
    # hopping between sites 1 and 2: |0100> <-> |1000> with amplitude 1/2 (S+S- + S-S+)/2
    assert h[0b1000, 0b0100] == pytest.approx(0.5)


@pytest.mark.parametrize("L,W,seed", [(3, 3.0, 300), (4, 3.0, 400), (4, 8.0, 401), (5, 8.0, 500)])
def test_samples_have_no_degenerate_coherence_fed_by_the_bath(L, W, seed):
    """The secular-limit tests need ``gamma << delta_min``: the smallest energy difference of
    the coherences that the bath feeds from ``tau_S``.  Total S^z is conserved, and those
    coherences lie inside S^z sectors, so the (smaller) inter-sector spacings do not matter."""
    h = xxz_chain(L, W, seed)
    lb = Lindbladian(h, 1e-3)
    corr = lb.weak_coupling_correction()
    assert corr.delta_min > 0.05
    n_down = (L - z_signs(L).sum(axis=1)) / 2  # number of down spins of each basis state
    # every eigenvector lies in one magnetisation sector ...
    mag = (np.abs(lb.V) ** 2).T @ n_down
    assert np.max(np.abs(mag - np.rint(mag))) < 1e-10
    # ... and b = 4 Pi~[tau_S] has no weight between sectors
    c = lb.result.c / np.linalg.norm(lb.result.c)
    b = lb.project_eigen(np.diag(c).astype(complex))
    cross = np.abs(np.rint(mag)[:, None] - np.rint(mag)[None, :]) > 0
    assert np.max(np.abs(b[cross])) < 1e-13


# --- the generator ------------------------------------------------------------------------------


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("gamma", [1e-3, 0.37])
def test_generator_is_the_lindblad_equation_with_explicit_jump_operators(L, gamma):
    h = xxz_chain(L, 3.0, seed=L)
    lb = Lindbladian(h, gamma)
    rho = _random_operators(2**L, 3, seed=L)
    ref = np.array([_lindblad_explicit(h, gamma, r) for r in rho])
    scale = np.max(np.abs(rho)) * (np.max(np.abs(h)) + gamma)
    assert np.max(np.abs(lb.apply(rho) - ref)) < 64 * EPS * scale
    # the dissipator alone: 4 gamma (Pi - 1)
    diss = ref + 1j * (h @ rho - rho @ h)
    assert np.max(np.abs(apply_dissipator(rho, gamma) - diss)) < 64 * EPS * scale


@pytest.mark.parametrize("L", [2, 3, 4])
def test_eigenbasis_form_dense_matrix_and_linear_operator_agree(L):
    lb = Lindbladian(gue(L, seed=L), 0.05)
    x = _random_operators(lb.N, 2, seed=10 + L)
    scale = lb.norm_bound * np.max(np.abs(x))
    tol = 16 * lb.N * EPS * scale
    direct = lb.apply(x)
    via_eigen = lb.from_eigenbasis(lb.apply_eigen(lb.to_eigenbasis(x)))
    assert np.max(np.abs(direct - via_eigen)) < tol
    m = lb.dense()
    y = lb.to_eigenbasis(x[0])
    assert np.max(np.abs(m @ y.ravel() - lb.apply_eigen(y).ravel())) < tol
    lo = lb.linear_operator()
    assert np.max(np.abs(lo.matvec(y.ravel()) - m @ y.ravel())) < tol
    assert np.max(np.abs(lo.rmatvec(y.ravel()) - m.conj().T @ y.ravel())) < tol
    # the computational-basis matrix is the eigenbasis one transformed
    t = np.kron(lb.V, lb.V.conj())  # vec(V x V^dagger) = (V (x) conj V) vec(x), row-major
    np.testing.assert_allclose(t @ m @ t.conj().T, lb.dense_computational(), rtol=0, atol=tol)


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("gamma", [1e-4, 0.2, 3.0])
def test_trace_preserving_unital_and_hermiticity_preserving(L, gamma):
    lb = Lindbladian(xxz_chain(L, 3.0, seed=L), gamma)
    x = _random_operators(lb.N, 4, seed=L)
    out = lb.apply(x)
    tol = 16 * lb.N * EPS * lb.norm_bound * np.max(np.abs(x))
    assert np.max(np.abs(np.trace(out, axis1=1, axis2=2))) < tol  # d Tr(rho)/dt = 0
    assert np.max(np.abs(lb.apply(np.eye(lb.N)))) < 16 * EPS * lb.norm_bound  # unital
    h = x[0] + x[0].conj().T
    lh = lb.apply(h)
    assert np.max(np.abs(lh - lh.conj().T)) < tol


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("gamma", [1e-3, 0.5])
@pytest.mark.parametrize("t", [0.05, 1.0, 20.0])
def test_exp_tL_is_completely_positive_and_trace_preserving(L, gamma, t):
    lb = Lindbladian(gue(L, seed=2 * L), gamma)
    n = lb.N
    j = lb.choi(t)
    # expm's backward error is ~ eps ||t M||; J has trace N and entries of a CPTP map's Choi
    tol = 100 * EPS * n * max(1.0, t * lb.norm_bound)
    assert np.max(np.abs(j - j.conj().T)) < tol
    assert np.linalg.eigvalsh(0.5 * (j + j.conj().T))[0] > -tol  # positive semidefinite
    tr_out = np.einsum("iaja->ij", j.reshape(n, n, n, n))
    assert np.max(np.abs(tr_out - np.eye(n))) < tol
    # a semigroup: exp((t + 1) L) = exp(L) exp(t L), and the Taylor stepper is exp(t L)
    p1, pt, pt1 = lb.propagator(1.0), lb.propagator(t), lb.propagator(t + 1.0)
    assert np.max(np.abs(p1 @ pt - pt1)) < tol
    x = _random_operators(n, 1, seed=4)[0]
    ref = (pt @ x.ravel()).reshape(n, n)
    assert np.max(np.abs(lb.propagate(x, t) - ref)) < tol * np.max(np.abs(x))


def test_no_first_order_term_the_spectrum_is_odd_in_gamma():
    """``L(gamma)^dagger = -L(-gamma)``: the spectrum at ``-gamma`` is minus the conjugate of the
    spectrum at ``gamma`` (why ``r_1`` is odd in ``gamma``), for a complex H too."""
    h = gue(3, seed=5)
    plus = Lindbladian(h, 0.03)
    minus = Lindbladian(h, -0.03, result=plus.result, check=False)
    # equal up to the rounding of the products that build L (the sign of gamma enters them)
    tol = 16 * EPS * plus.norm_bound
    assert np.max(np.abs(minus.dense() + plus.dense().conj().T)) < tol
    wp, wm = plus.eigenvalues(), minus.eigenvalues()
    cost = np.abs(wm[:, None] + wp.conj()[None, :])
    i, k = linear_sum_assignment(cost)
    assert np.max(cost[i, k]) < 1e-10


@pytest.mark.parametrize(
    "h",
    [xxz_chain(3, 3.0, 300), xxz_chain(4, 3.0, 400), xxz_chain(4, 8.0, 401)],
    ids=["xxz-L3-W3", "xxz-L4-W3", "xxz-L4-W8"],
)
def test_identity_is_the_unique_steady_state(h):
    lb = Lindbladian(h, 1e-3)
    m = lb.dense()
    w, v = np.linalg.eig(m)
    norm = np.linalg.norm(m, 2)
    zero = np.flatnonzero(np.abs(w) < 1e3 * EPS * norm)
    assert zero.size == 1
    vec = v[:, zero[0]].reshape(lb.N, lb.N)
    vec = vec / vec[0, 0]
    # as for the channel: the kernel vector is fixed to ~ dim eps ||M|| / sep, sep the smallest
    # nonzero singular value of M (about r_1)
    sv = np.linalg.svd(m, compute_uv=False)
    tol = 10 * m.shape[0] * EPS * norm / sv[-2]
    assert np.max(np.abs(vec - np.eye(lb.N))) < tol
    others = np.delete(w, zero[0])
    assert np.max(others.real) < 0
    # Gamma < 2/3: the slowest mode of all is the population mode found by the Krylov method
    assert lb.Gamma < 2 / 3
    modes = lb.slow_modes()
    assert -np.max(others.real) == pytest.approx(modes.r1, rel=1e-8)


# --- slow modes ---------------------------------------------------------------------------------


def test_shift_invert_solve_is_exact():
    lb = Lindbladian(xxz_chain(4, 3.0, 400), 1e-4)
    r = _random_operators(lb.N, 1, seed=3)[0]
    for eta in (1e-4, 0.3):
        x = lb.solve_shifted(r, eta)
        resid = lb.apply_eigen(x) - eta * x - r
        assert np.max(np.abs(resid)) < 1e-9 * np.max(np.abs(r))


@pytest.mark.parametrize(
    "h,gamma",
    [
        (xxz_chain(3, 3.0, 300), 1e-3),
        (xxz_chain(4, 8.0, 401), 1e-3),
        (xxz_chain(4, 3.0, 400), 0.05),
        (gue(3, 1), 1e-3),
        (gue(4, 2), 1e-2),
    ],
    ids=["xxz-L3", "xxz-L4-W8", "xxz-L4-large-gamma", "gue-L3", "gue-L4"],
)
def test_krylov_slow_modes_are_dense_eigenvalues(h, gamma):
    lb = Lindbladian(h, gamma)
    modes = lb.slow_modes(k=4)
    w = lb.eigenvalues()
    assert abs(w[0]) < 1e3 * EPS * lb.norm_bound  # the steady state first
    # dense zgeev: backward error ~ dim eps ||M||; the population eigenvalues are well
    # conditioned (Hermitian to first order)
    tol = lb.dim * EPS * lb.norm_bound
    for lam in modes.eigenvalues:
        assert np.min(np.abs(w - lam)) < tol
    assert modes.index == 0
    assert modes.population_weight[0] > 0.99
    assert modes.tau_overlap[0] > 0.99
    assert np.all(modes.residual < 1e3 * EPS * lb.norm_bound)
    assert abs(modes.rates[0].imag) < 1e-10 * modes.r1  # real: hermiticity preserving
    assert modes.sigma == gamma
    np.testing.assert_allclose(modes.rates, -modes.eigenvalues, rtol=0, atol=0)


# --- the secular limit and its first correction -------------------------------------------------

SECULAR_SAMPLES = [
    pytest.param(xxz_chain(3, 3.0, 300), id="xxz-L3-W3"),
    pytest.param(xxz_chain(4, 3.0, 400), id="xxz-L4-W3"),
    pytest.param(xxz_chain(4, 8.0, 401), id="xxz-L4-W8"),
    pytest.param(xxz_chain(5, 8.0, 500), id="xxz-L5-W8"),
    pytest.param(gue(3, 0), id="gue-L3"),
    pytest.param(gue(4, 3), id="gue-L4"),
]


@pytest.mark.parametrize("h", SECULAR_SAMPLES)
def test_weak_coupling_limit_error_is_kappa_gamma_squared(h):
    """``r_1/(3 gamma) = Gamma (1 + kappa gamma**2 + O(gamma**4))`` with the third-order kappa.

    Tolerance: the next order is ``gamma**2`` smaller again, and each order beyond brings one
    more factor ``gamma D L0^{-1}`` with ``||D|| = 4`` and ``|L0^{-1}| <= 1/delta_min`` on the
    coherences involved, so ``|measured/predicted - 1| <= 2 (4 gamma / delta_min)**2`` plus the
    rounding of ``r_1`` and ``Gamma``: the population block ``3 gamma (S - 1)`` (norm <= 6 gamma)
    is known to ``~ N eps`` relative, ``Gamma`` is its small eigenvalue, so both carry a relative
    error ``<~ 2 N eps / Gamma`` (measured: 0.1-0.5 of that).
    """
    lb = Lindbladian(h, 1e-3)
    corr = lb.weak_coupling_correction()
    assert abs(corr.kappa) > 0.1  # a sample with a visible correction
    g1 = min(1e-3, corr.delta_min / 100)
    gammas = (10 * g1, g1, g1 / math.sqrt(10))
    sw = gamma_sweep(h, gammas, result=lb.result, kind="hamiltonian")
    assert sw.order == 2 and sw.coefficient == corr.kappa
    bounds = []
    for row in sw.rows:
        pred = corr.rel_error(row.gamma)
        noise = 2 * lb.N * EPS / lb.Gamma
        bound = 2 * (4 * row.gamma / corr.delta_min) ** 2 + noise / abs(pred)
        assert abs(row.rel_error / pred - 1) < bound, (row.gamma, row.rel_error, pred)
        assert row.scaled_error == pytest.approx(row.rel_error / row.gamma**2)
        bounds.append(bound)
    # the two smallest couplings: the prediction holds to a few percent at most ...
    assert max(bounds[1:]) < 0.05
    # ... so the log-log slope is 2 (the channel's is 1): |slope - 2| <= (sum of the two
    # bounds) / ln(gamma ratio)
    assert abs(sw.slope(2) - 2) < (bounds[1] + bounds[2]) / math.log(math.sqrt(10))
    assert abs(sw.slope(2) - 2) < 0.05
    assert "kappa" in sw.table() and "err/g^2" in sw.table()


def test_correction_parts_bounds_and_real_hamiltonians():
    for h in (xxz_chain(4, 3.0, 400), xxz_chain(5, 8.0, 500)):
        corr = Lindbladian(h, 1e-3).weak_coupling_correction()
        # real H: the second-order block vanishes identically, so no mixing term
        assert abs(corr.mixing) < 1e-12 * corr.coherence
        assert corr.coherence > 0 and corr.feedback <= 0
    lb = Lindbladian(gue(4, 3), 1e-3)
    corr = lb.weak_coupling_correction()
    assert abs(corr.mixing) > 1e-3 * corr.coherence  # a complex H mixes the population modes
    g = lb.Gamma
    # Pauli-weight identity: ||b||^2 <= 12 Gamma; then |kappa - kappa_mix| <= 16 / delta_min^2
    assert corr.b_norm2 <= 12 * g * (1 + 1e-10)
    kappa_no_mix = -(corr.coherence + corr.feedback) / (3 * g)
    assert abs(kappa_no_mix) <= 16 / corr.delta_min**2
    assert corr.delta_min <= corr.delta_eff
    assert corr.mu3 == pytest.approx(corr.coherence + corr.feedback + corr.mixing)


def test_weak_coupling_limit_fails_at_large_gamma():
    h = xxz_chain(4, 3.0, 400)
    sw = gamma_sweep(h, (0.1,), kind="hamiltonian")
    assert abs(sw.rows[0].rel_error) > 0.1


def test_population_mode_is_the_slowest_even_when_thermal():
    # GUE: Gamma ~ 0.75 > 2/3, yet at small gamma the population mode is the slowest of all
    lb = Lindbladian(gue(3, 0), 1e-4)
    assert lb.Gamma > 2 / 3
    modes = lb.slow_modes()
    w = lb.eigenvalues()
    assert -w[1].real == pytest.approx(modes.r1, rel=1e-8)


# --- QuTiP cross-check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h",
    [xxz_chain(2, 3.0, 1), xxz_chain(3, 8.0, 2), gue(3, 4), xxz_chain(4, 3.0, 400)],
    ids=["xxz-L2", "xxz-L3", "gue-L3", "xxz-L4"],
)
@pytest.mark.parametrize("gamma", [1e-3, 0.3])
def test_qutip_liouvillian_is_the_same_generator(h, gamma):
    qutip = pytest.importorskip("qutip")
    L = h.shape[0].bit_length() - 1
    n = 2**L
    lb = Lindbladian(h, gamma)
    hq = qutip.Qobj(h, dims=[[2] * L, [2] * L])
    jumps = [
        math.sqrt(gamma) * qutip.tensor([qutip.qeye(2)] * (L - 1) + [p])
        for p in (qutip.sigmax(), qutip.sigmay(), qutip.sigmaz())
    ]
    lq = qutip.liouvillian(hq, c_ops=jumps).full()
    # QuTiP stacks columns: vec_col(rho)[j n + i] = rho[i, j]; ours stacks rows
    perm = np.arange(n * n).reshape(n, n).T.ravel()
    mine = lb.dense_computational()[np.ix_(perm, perm)]
    scale = np.max(np.abs(lq))
    assert np.max(np.abs(mine - lq)) < 16 * EPS * scale  # entries agree to rounding
    # spectra: each eigenvalue is fixed to ~ dim eps ||M|| / s_i (s_i = |y_i^H x_i|, unit
    # left and right eigenvectors: its condition number)
    wq = np.linalg.eigvals(lq)
    w, vl, vr = sla.eig(lb.dense(), left=True)
    s = np.abs(np.sum(vl.conj() * vr, axis=0)) / (
        np.linalg.norm(vl, axis=0) * np.linalg.norm(vr, axis=0)
    )
    tol = 10 * n * n * EPS * lb.norm_bound / s
    cost = np.abs(w[:, None] - wq[None, :])
    i, j = linear_sum_assignment(cost)
    assert np.all(cost[i, j] < tol[i])
    for lam in lb.slow_modes(k=3).eigenvalues:
        assert np.min(np.abs(wq - lam)) < 10 * n * n * EPS * lb.norm_bound


# --- rho(t) -------------------------------------------------------------------------------------


def test_initial_states_and_time_grid():
    lb = Lindbladian(xxz_chain(4, 3.0, 400), 1e-3)
    tr = evolve(lb, "1000", [0.0], method="step")
    assert tr.z[0].tolist() == [-1.0, 1.0, 1.0, 1.0]  # site 1 is the most significant bit
    assert tr.time_unit == "1/J"
    t = time_grid(123.4, 40, integer=False)
    assert t[0] == 0 and t[-1] == pytest.approx(123.4) and np.all(np.diff(t) > 0)
    assert t.dtype == float and 0 < t[1] <= 0.01
    with pytest.raises(InputError, match="times"):
        evolve(lb, "up", [-1.0])
    with pytest.raises(InputError, match="bit string"):
        evolve(lb, "10x0", [0.0])


@pytest.mark.parametrize("init", ["up", "0110", "tau"])
def test_spectral_and_stepping_agree(init):
    lb = Lindbladian(xxz_chain(4, 3.0, 400), 0.05)
    times = time_grid(300, 30, integer=False)
    a = evolve(lb, init, times, method="spectral")
    b = evolve(lb, init, times, method="step")
    # stepping is exact to rounding (steps x eps); the spectral result to its eigenbasis
    # conditioning, which the reconstruction error measures
    tol = 10 * a.reconstruction_error + 1e-12
    assert a.reconstruction_error < 1e-8
    assert np.max(np.abs(a.z - b.z)) < tol
    assert np.max(np.abs(a.distance - b.distance) / b.distance) < tol / np.min(b.distance)


@pytest.mark.parametrize(
    "h,init",
    [(xxz_chain(4, 3.0, 400), "up"), (xxz_chain(4, 3.0, 400), "0101"), (gue(3, 3), "up")],
    ids=["xxz-up", "xxz-0101", "gue-up"],
)
def test_late_time_decay_rate_matches_r1(h, init):
    lb = Lindbladian(h, 1e-3)
    modes = lb.slow_modes()
    tr = evolve(lb, init, time_grid(20 / modes.r1, 120, integer=False))
    assert tr.late_rate() == pytest.approx(modes.r1, rel=0.01)
    assert tr.late_rate() == pytest.approx(3 * lb.gamma * lb.Gamma, rel=0.02)
    np.testing.assert_allclose(tr.site_rates()[np.abs(tr.z[0]) > 0], modes.r1, rtol=0.05)


def test_tau_initial_state_decays_as_one_exponential():
    lb = Lindbladian(xxz_chain(4, 8.0, 401), 1e-4)
    modes = lb.slow_modes()
    t = time_grid(5 / modes.r1, 60, integer=False)
    tr = evolve(lb, "tau", t)
    ratio = tr.distance / (tr.distance[0] * np.exp(-modes.r1 * t))
    # tau_S is the eigenoperator up to admixed coherences of relative size ~ 4 gamma / delta
    corr = lb.weak_coupling_correction()
    assert np.max(np.abs(ratio - 1)) < 4 * lb.gamma / corr.delta_min


def test_bath_spin_relaxes_first_in_the_mbl_regime():
    lb = Lindbladian(xxz_chain(4, 8.0, 401), 1e-3)
    modes = lb.slow_modes()
    tr = evolve(lb, "up", time_grid(5 / modes.r1, 300, integer=False))
    times = tr.relaxation_times()
    assert np.argmin(times) == lb.L - 1
    assert times[-1] < 3 / lb.gamma
    assert np.nanmax(times) > 30 * times[-1]


# --- the weak-coupling reference, input checks, run_dynamics and the command line ---------------


def test_weak_coupling_meta_is_that_of_the_sample_analysis():
    from mbl_avalanche import analyze

    h = xxz_chain(3, 3.0, 300)
    ref = analyze(h, kind="hamiltonian", check=False)
    wc = weak_coupling_hamiltonian(h)
    assert list(wc.meta.items()) == list(ref.meta.items())
    assert wc.Gamma == ref.Gamma and np.array_equal(wc.c, ref.c)
    assert weak_coupling(h, kind="hamiltonian").Gamma == wc.Gamma and wc.kind == "hamiltonian"
    # a SampleResult is accepted as the weak-coupling analysis; one of the wrong kind is not
    lb = Lindbladian(h, 1e-3, result=ref)
    assert lb.slow_modes().r1 == pytest.approx(Lindbladian(h, 1e-3).slow_modes().r1, rel=1e-12)
    with pytest.raises(InputError, match="kind 'hamiltonian'"):
        Channel(np.eye(8), 1e-3, result=ref)
    with pytest.raises(InputError, match="kind 'unitary'"):
        Lindbladian(h, 1e-3, result=weak_coupling(np.eye(8)))
    with pytest.raises(InputError, match="kind="):
        weak_coupling(h, kind="floquet")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), float("inf"), "x", None])
def test_gamma_is_validated(bad):
    with pytest.raises(InputError, match="gamma"):
        Lindbladian(xxz_chain(2, 3.0, 0), bad)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_hamiltonian_is_validated():
    with pytest.raises(InputError, match="2 <= L <= 6") as e:
        Lindbladian(np.eye(128), 1e-3)
    assert "L=7" in _one_line(e)
    z = _random_operators(8, 1, seed=0)[0]
    with pytest.raises(InputError, match="Hamiltonian is not allowed") as e:
        Lindbladian(z, 1e-3)  # not Hermitian
    _one_line(e)
    with pytest.raises(InputError, match="2\\*\\*L") as e:
        Lindbladian(np.eye(6), 1e-3)
    _one_line(e)
    with pytest.raises(InputError, match="square") as e:
        Lindbladian(np.ones((4, 8)), 1e-3)
    _one_line(e)
    lb = Lindbladian(xxz_chain(2, 3.0, 0), 1e-3)
    with pytest.raises(InputError, match="t="):
        lb.propagate(np.eye(4), -1.0)


def test_api_run_dynamics_scalars_and_step_cap():
    h = xxz_chain(3, 3.0, 300)
    res = run_dynamics(h, 1e-3, kind="hamiltonian", n_times=40, sweep=(1e-3, 1e-4))
    d = res.scalars()
    assert res.kind == "hamiltonian" and d["kind"] == "hamiltonian" and d["time_unit"] == "1/J"
    assert d["r1_over_3gamma"] == pytest.approx(res.modes.r1 / 3e-3)
    assert d["late_rate_over_r1"] == pytest.approx(1.0, rel=0.01)
    assert d["correction_order"] == 2
    assert d["predicted_rel_diff"] == pytest.approx(d["kappa"] * 1e-6)
    assert d["rel_diff"] == pytest.approx(d["predicted_rel_diff"], rel=1e-3)
    assert len(d["sweep"]) == 2 and d["sweep"][0]["order"] == 2
    assert isinstance(d["t_max"], float)
    with pytest.raises(InputError, match="applications of L"):  # t_max ~ 1e9 / J
        run_dynamics(xxz_chain(4, 8.0, 401), 1e-3, kind="hamiltonian", method="step")


def _save(tmp_path, name, m):
    p = tmp_path / name
    np.save(p, m)
    return str(p)


def test_cli_json_matches_api(tmp_path, capsys):
    h = xxz_chain(3, 8.0, 2)
    path = _save(tmp_path, "H.npy", h)
    argv = ["dynamics", "--hamiltonian", path, "--gamma", "1e-3", "--times", "40", "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    lb = Lindbladian(h, 1e-3)
    assert d["Gamma"] == pytest.approx(lb.Gamma, rel=1e-12)
    assert d["r1_over_3gamma"] == pytest.approx(lb.slow_modes().r1_over_3gamma, rel=1e-10)
    assert d["kind"] == "hamiltonian" and d["source"] == path and d["L"] == 3
    assert d["method"] == "eigh"


def test_cli_summary_sweep_and_plot(tmp_path, capsys):
    path = _save(tmp_path, "H.npy", xxz_chain(3, 3.0, 300))
    out = tmp_path / "dyn.png"
    argv = ["dynamics", "--hamiltonian", path, "--gamma", "1e-3", "--times", "40"]
    assert main([*argv, "--sweep", "1e-2", "1e-3", "1e-4", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    for word in (
        "Hamiltonian from",
        "r_1 / (3 gamma) (exact Lindbladian)",
        "prediction kappa gamma^2",
        "(1/J)",
        "late-time decay rate",
        "gamma sweep",
        "err/g^2",
    ):
        assert word in text
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--unitary", "U.npy"], "not allowed together"),
        (["--gamma", "0"], "gamma=0.0"),
        (["--initial", "12"], "initial state"),
    ],
)
def test_cli_bad_input_exit_2(tmp_path, capsys, extra, needle):
    path = _save(tmp_path, "H.npy", xxz_chain(3, 3.0, 300))
    np.save(tmp_path / "U.npy", np.eye(8))
    argv = ["dynamics", "--hamiltonian", path, "--gamma", "1e-3", *extra]
    argv = [str(tmp_path / a) if a == "U.npy" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "matrix,needle",
    [
        (np.eye(128), "L=7"),
        (_random_operators(8, 1, seed=1)[0], "Hamiltonian is not allowed"),
        (np.eye(6), "2**L"),
    ],
)
def test_cli_bad_hamiltonian_exit_2(tmp_path, capsys, matrix, needle):
    path = _save(tmp_path, "H.npy", matrix)
    assert main(["dynamics", "--hamiltonian", path, "--gamma", "1e-3"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


# --- L = 6 ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_L6_slow_modes_third_order_and_exact_stepping():
    h = xxz_chain(6, 3.0, 600)
    lb = Lindbladian(h, 1e-3)
    corr = lb.weak_coupling_correction()
    modes = lb.slow_modes()
    assert modes.index == 0 and modes.population_weight[0] > 0.99
    rel = (modes.r1_over_3gamma - lb.Gamma) / lb.Gamma
    bound = 2 * (4e-3 / corr.delta_min) ** 2 + 2 * lb.N * EPS / lb.Gamma / abs(corr.rel_error(1e-3))
    assert abs(rel / corr.rel_error(1e-3) - 1) < bound
    # stepping (the default at L = 6) against the propagator of two half steps, and the trace
    lb2 = Lindbladian(h, 0.05, result=lb.result, check=False)
    tr = evolve(lb2, "up", time_grid(40.0, 12, integer=False))
    assert tr.method == "step"
    rho = np.zeros((64, 64), dtype=complex)
    rho[0, 0] = 1
    x = lb2.propagate(lb2.propagate(rho - np.eye(64) / 64, 20.0), 20.0)
    assert np.linalg.norm(x) == pytest.approx(tr.distance[-1], rel=1e-10)
    assert abs(np.trace(lb2.propagate(rho, 40.0)) - 1) < 1e-12
