"""Exact open-system dynamics: the channel of Eq. (1), slow modes, rho(t), weak-coupling limit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from conftest import haar_unitary, planted_unitary
from mbl_avalanche import FloquetModel, InputError
from mbl_avalanche.cli import main
from mbl_avalanche.dynamics import (
    Channel,
    apply_bath,
    check_dynamics_L,
    check_gamma,
    evolve,
    gamma_sweep,
    initial_state,
    run_dynamics,
    time_grid,
)

PAULI = (
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], dtype=complex),
)


def _channel(L: int, alpha: float = 3.0, sample: int = 0, gamma: float = 1e-3) -> Channel:
    return Channel(FloquetModel(L=L, alpha=alpha).unitary(sample), gamma)


def _random_operators(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))


# --- the channel itself -----------------------------------------------------------------------


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("gamma", [1e-3, 0.37])
def test_bath_is_eq1_with_explicit_paulis_on_the_last_site(L, gamma):
    n = 2**L
    rho = _random_operators(n, 3, seed=L)
    eye = np.eye(n // 2)
    es = [np.kron(eye, p) for p in PAULI]  # site L = least significant bit
    ref = (rho + gamma * sum(e @ rho @ e.conj().T for e in es)) / (1 + 3 * gamma)
    assert np.max(np.abs(apply_bath(rho, gamma) - ref)) < 1e-14


@pytest.mark.parametrize("L", [2, 3, 4])
def test_eigenbasis_form_and_dense_matrix_agree_with_direct_application(L):
    ch = _channel(L, gamma=0.05)
    x = _random_operators(ch.N, 2, seed=10 + L)
    direct = ch.apply(x)
    via_eigen = ch.from_eigenbasis(ch.apply_eigen(ch.to_eigenbasis(x)))
    assert np.max(np.abs(direct - via_eigen)) < 1e-13
    m = ch.dense()
    y = ch.to_eigenbasis(x[0])
    assert np.max(np.abs(m @ y.ravel() - ch.apply_eigen(y).ravel())) < 1e-13
    lo = ch.linear_operator()
    assert np.max(np.abs(lo.matvec(y.ravel()) - m @ y.ravel())) < 1e-13


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("gamma", [1e-4, 0.2, 3.0])
def test_trace_preserving_unital_and_hermiticity_preserving(L, gamma):
    ch = _channel(L, gamma=gamma)
    x = _random_operators(ch.N, 4, seed=L)
    out = ch.apply(x)
    assert np.max(np.abs(np.trace(out, axis1=1, axis2=2) - np.trace(x, axis1=1, axis2=2))) < 1e-12
    eye = np.eye(ch.N)
    assert np.max(np.abs(ch.apply(eye) - eye)) < 1e-14
    h = x[0] + x[0].conj().T
    sh = ch.apply(h)
    assert np.max(np.abs(sh - sh.conj().T)) < 1e-13


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("gamma", [1e-3, 0.5])
def test_completely_positive_choi_matrix(L, gamma):
    ch = _channel(L, gamma=gamma)
    n = ch.N
    j = ch.choi()
    assert np.max(np.abs(j - j.conj().T)) < 1e-13
    ev = np.linalg.eigvalsh(j)
    assert ev[0] > -1e-12  # positive semidefinite
    # Kraus operators U/sqrt(1+3g) and sqrt(g/(1+3g)) E_j U are Hilbert-Schmidt orthogonal, so
    # the Choi spectrum is {N/(1+3g), 3 x N g/(1+3g), 0, ...}: a check of the weights of Eq. (1).
    expect = np.zeros(n * n)
    expect[-4:] = np.sort([n / (1 + 3 * gamma)] + [n * gamma / (1 + 3 * gamma)] * 3)
    assert np.max(np.abs(ev - expect)) < 1e-12
    # trace preservation in Choi form: the partial trace over the output is the identity
    tr_out = np.einsum("iaja->ij", j.reshape(n, n, n, n))
    assert np.max(np.abs(tr_out - np.eye(n))) < 1e-13


@pytest.mark.parametrize("L,alpha,sample", [(3, 3.0, 0), (4, 3.0, 0), (4, 8.0, 1)])
def test_identity_is_the_unique_steady_state(L, alpha, sample):
    ch = _channel(L, alpha, sample, gamma=1e-3)
    m = ch.dense()
    w, v = np.linalg.eig(m)
    near1 = np.flatnonzero(np.abs(w - 1) < 1e-9)
    assert near1.size == 1
    vec = v[:, near1[0]].reshape(ch.N, ch.N)
    vec = vec / vec[0, 0]
    # The identity is a left and a right eigenvector (unital, trace preserving), so M - 1 is
    # 0 (+) (M22 - 1) and the eigenvector of 1 is fixed only to ||dM|| / sep, sep the smallest
    # singular value of M22 - 1 (the second smallest of M - 1; ~ r_1, 5.7e-6 for alpha = 8), with
    # a backward error ||dM|| <~ dim eps ||M||.  Measured: 4-40 x eps ||M|| / sep across
    # OpenBLAS kernels (1.5e-9 for alpha = 8 on SkylakeX), so allow 10 dim eps ||M|| / sep.
    sv = np.linalg.svd(m - np.eye(m.shape[0]), compute_uv=False)
    tol = 10 * m.shape[0] * np.finfo(float).eps * np.linalg.norm(m, 2) / sv[-2]
    assert np.max(np.abs(vec - np.eye(ch.N))) < tol  # the identity (in any basis)
    others = np.abs(np.delete(w, near1[0]))
    assert others.max() < 1 - 1e-9
    # the gap is the slowest relaxation rate found by the Krylov method
    modes = ch.slow_modes()
    assert -np.log(others.max()) == pytest.approx(modes.r1, rel=1e-8)


# --- slow modes -------------------------------------------------------------------------------


def test_shift_invert_solve_is_exact():
    ch = _channel(4, gamma=1e-4)
    r = _random_operators(ch.N, 1, seed=3)[0]
    for eta in (1e-4, 0.3):
        x = ch.solve_shifted(r, eta)
        resid = ch.apply_eigen(x) - (1 + eta) * x - r
        assert np.max(np.abs(resid)) < 1e-9 * np.max(np.abs(r))


@pytest.mark.parametrize("L,gamma", [(3, 1e-3), (4, 1e-3), (4, 0.05)])
def test_krylov_slow_modes_are_dense_eigenvalues(L, gamma):
    ch = _channel(L, gamma=gamma)
    modes = ch.slow_modes(k=4)
    w = ch.eigenvalues()
    for lam in modes.eigenvalues:
        err = np.min(np.abs(w - lam))
        assert err < 1e-12 * max(1.0, 1 / abs(1 - lam))
    assert modes.index == 0
    assert modes.population_weight[0] > 0.99
    assert modes.tau_overlap[0] > 0.99
    assert np.all(modes.residual < 1e-12)
    # r_1 is real: the population mode of a hermiticity-preserving map
    assert abs(modes.rates[0].imag) < 1e-10 * modes.r1


@pytest.mark.parametrize("L,alpha,sample", [(3, 3.0, 1), (4, 3.0, 0), (5, 3.0, 0)])
def test_weak_coupling_limit_error_proportional_to_gamma(L, alpha, sample):
    u = FloquetModel(L=L, alpha=alpha).unitary(sample)
    sw = gamma_sweep(u, (1e-5, 1e-6, 1e-7))
    errs = {r.gamma: r.rel_error for r in sw.rows}
    # r_1/(3 gamma) -> Gamma, with an error that shrinks in proportion to gamma
    assert abs(errs[1e-7]) < 2e-7
    assert errs[1e-5] / errs[1e-6] == pytest.approx(10.0, rel=0.15)
    assert errs[1e-6] / errs[1e-7] == pytest.approx(10.0, rel=0.02)
    # second-order theory: r_1 = 3 gamma Gamma (1 - gamma) + O(gamma^3/delta)
    assert errs[1e-7] / 1e-7 == pytest.approx(-1.0, abs=0.01)
    assert sw.slope() == pytest.approx(1.0, abs=0.05)
    assert "r_1/(3 gamma)" in sw.table()


def test_population_mode_is_the_slowest_mode_of_all_even_when_thermal_or_degenerate():
    rng = np.random.default_rng(3)
    # a Haar (thermal) unitary, Gamma ~ 0.6-0.8, and one with a planted splitting 1e-9 << gamma
    u_planted = planted_unitary(16, 1e-9, rng)[0]
    for u in (haar_unitary(8, rng), u_planted):
        ch = Channel(u, 1e-4)
        modes = ch.slow_modes()
        w = ch.eigenvalues()  # by descending modulus; w[0] = 1
        assert abs(w[0] - 1) < 1e-12
        assert -np.log(abs(w[1])) == pytest.approx(modes.r1, rel=1e-8)
    # the weak-coupling limit needs gamma << the splittings: here it is visibly off
    rel = modes.r1_over_3gamma / ch.Gamma - 1
    assert abs(rel) > 100 * ch.gamma


def test_weak_coupling_limit_fails_at_large_gamma():
    # at gamma ~ 0.1 the exact rate is far from the first-order 3 gamma Gamma
    u = FloquetModel(L=4, alpha=3).unitary(0)
    sw = gamma_sweep(u, (0.1,))
    assert abs(sw.rows[0].rel_error) > 0.1


# --- rho(t) -----------------------------------------------------------------------------------


def test_initial_states():
    ch = _channel(4)
    rho, label = initial_state("1000", ch)
    tr = evolve(ch, rho, [0], method="step")
    assert tr.z[0].tolist() == [-1.0, 1.0, 1.0, 1.0]  # site 1 is the most significant bit
    tr = evolve(ch, "up", [0, 1], method="step")
    assert tr.z[0].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert np.allclose(evolve(ch, "up", [0, 1]).z, tr.z, atol=1e-13)
    rho, label = initial_state("tau", ch)
    assert label == "tau"
    assert np.trace(rho).real == pytest.approx(1.0)
    assert np.linalg.eigvalsh(rho)[0] > -1e-14
    with pytest.raises(InputError, match="bit string"):
        initial_state("10x0", ch)
    with pytest.raises(InputError, match="bit string"):
        initial_state("101", ch)


@pytest.mark.parametrize("init", ["up", "0110", "tau"])
def test_spectral_and_stepping_agree(init):
    ch = _channel(4, gamma=0.02)
    times = time_grid(3000, 40)
    a = evolve(ch, init, times, method="spectral")
    b = evolve(ch, init, times, method="step")
    assert np.max(np.abs(a.z - b.z)) < 1e-10
    assert np.max(np.abs(a.distance / b.distance - 1)) < 1e-9
    assert a.reconstruction_error < 1e-12


@pytest.mark.parametrize(
    "L,alpha,init",
    [(4, 3.0, "up"), (4, 3.0, "0101"), pytest.param(5, 3.0, "up", marks=pytest.mark.slow)],
)
def test_late_time_decay_rate_matches_r1(L, alpha, init):
    ch = _channel(L, alpha, gamma=1e-3)
    modes = ch.slow_modes()
    tr = evolve(ch, init, time_grid(20 / modes.r1, 120))
    assert tr.late_rate() == pytest.approx(modes.r1, rel=0.01)
    # and r_S = 3 gamma Gamma to first order
    assert tr.late_rate() == pytest.approx(3 * ch.gamma * ch.Gamma, rel=0.02)


def test_site_rates_population_rates_and_the_computational_channel():
    """Late-time rates per site tend to r_1; population rates start with r_1; the channel in the
    computational basis is the eigenbasis one transformed (and Eq. (1) applied directly)."""
    ch = _channel(3, 3.0, gamma=1e-3)
    modes = ch.slow_modes(k=6)
    assert modes.population_rates[0] == pytest.approx(modes.r1, rel=1e-12)
    assert np.all(np.diff(modes.population_rates) >= 0)
    tr = evolve(ch, "up", time_grid(20 / modes.r1, 120))
    np.testing.assert_allclose(tr.site_rates(), modes.r1, rtol=0.02)
    m = ch.dense_computational()
    rho = _random_operators(ch.N, 1, seed=5)[0]
    np.testing.assert_allclose(
        (m @ rho.ravel()).reshape(ch.N, ch.N), ch.apply(rho), rtol=0, atol=1e-13
    )
    t = np.kron(ch.V, ch.V.conj())  # vec(V x V^dagger) = (V (x) conj V) vec(x), row-major
    np.testing.assert_allclose(t @ ch.dense() @ t.conj().T, m, rtol=0, atol=1e-12)


def test_late_time_decay_by_stepping_matches_r1():
    ch = _channel(3, 3.0, 1, gamma=1e-2)  # Gamma = 0.43: 20/r_1 ~ 1600 periods
    modes = ch.slow_modes()
    tr = evolve(ch, "up", time_grid(20 / modes.r1, 80), method="step")
    assert tr.method == "step"
    assert tr.late_rate() == pytest.approx(modes.r1, rel=0.01)


def test_tau_initial_state_decays_as_one_exponential():
    ch = _channel(4, gamma=1e-4)
    modes = ch.slow_modes()
    t = time_grid(5 / modes.r1, 60)
    tr = evolve(ch, "tau", t)
    ratio = tr.distance / (tr.distance[0] * np.exp(-modes.r1 * t))
    # tau_S is the eigenoperator up to O(gamma) admixtures
    assert np.max(np.abs(ratio - 1)) < 20 * ch.gamma


@pytest.mark.parametrize("sample", [0, 1, 2])
def test_bath_spin_relaxes_first_in_the_mbl_regime(sample):
    ch = _channel(4, alpha=20.0, sample=sample, gamma=1e-3)
    modes = ch.slow_modes()
    tr = evolve(ch, "up", time_grid(5 / modes.r1, 300))
    times = tr.relaxation_times()
    assert np.argmin(times) == ch.L - 1
    assert times[-1] < 3 / ch.gamma
    assert np.nanmax(times) > 30 * times[-1]


# --- QuTiP cross-check ------------------------------------------------------------------------


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("gamma", [1e-3, 0.3])
def test_qutip_superoperator_has_the_same_eigenvalues(L, gamma):
    qutip = pytest.importorskip("qutip")
    u = FloquetModel(L=L, alpha=3).unitary(1)
    ch = Channel(u, gamma)
    dims = [[2] * L, [2] * L]
    uq = qutip.Qobj(u, dims=dims)
    ident = qutip.qeye([2] * L)
    jumps = [
        qutip.tensor([qutip.qeye(2)] * (L - 1) + [p])
        for p in (qutip.sigmax(), qutip.sigmay(), qutip.sigmaz())
    ]
    bath = qutip.sprepost(ident, ident) + gamma * sum(qutip.sprepost(e, e.dag()) for e in jumps)
    s_period = (bath / (1 + 3 * gamma)) * qutip.to_super(uq)
    wq = np.linalg.eigvals(s_period.full())
    w = ch.eigenvalues()
    cost = np.abs(w[:, None] - wq[None, :])
    i, j = linear_sum_assignment(cost)
    assert np.max(cost[i, j]) < 1e-10
    for lam in ch.slow_modes(k=3).eigenvalues:
        assert np.min(np.abs(wq - lam)) < 1e-10


# --- input checks and the command line ----------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), float("inf"), "x", None])
def test_gamma_is_validated(bad):
    with pytest.raises(InputError, match="gamma"):
        check_gamma(bad)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"n_times": 1}, "n_times=1"),
        ({"n_times": 10**6}, "n_times=1000000"),
        ({"n_times": 20.0}, "n_times=20.0"),
        ({"k": 0}, "k=0"),
        ({"k": 33}, "k=33"),
    ],
)
def test_run_dynamics_sizes_are_validated_before_work(kw, needle):
    with pytest.raises(InputError, match=needle):
        run_dynamics(np.eye(4), 1e-3, **kw)


def test_L_is_validated():
    for bad in (1, 7, 2.5, True):
        with pytest.raises(InputError, match="L="):
            check_dynamics_L(bad)
    with pytest.raises(InputError, match="2 <= L <= 6"):
        Channel(np.eye(128), 1e-3)
    with pytest.raises(InputError, match="unitary"):
        Channel(np.ones((8, 8)), 1e-3)


def test_api_run_dynamics_scalars():
    u = FloquetModel(L=3, alpha=3).unitary(0)
    res = run_dynamics(u, 1e-3, n_times=40, sweep=(1e-3, 1e-4))
    d = res.scalars()
    assert d["r1_over_3gamma"] == pytest.approx(res.modes.r1 / 3e-3)
    assert d["late_rate_over_r1"] == pytest.approx(1.0, rel=0.01)
    assert len(d["sweep"]) == 2 and len(d["site_relaxation_times"]) == 3


def test_cli_json_matches_api(capsys):
    argv = [
        "dynamics",
        "--L",
        "3",
        "--alpha",
        "3",
        "--sample",
        "1",
        "--gamma",
        "1e-3",
        "--times",
        "40",
        "--json",
    ]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    ch = Channel(FloquetModel(L=3, alpha=3).unitary(1), 1e-3)
    assert d["Gamma"] == pytest.approx(ch.Gamma, rel=1e-12)
    assert d["r1_over_3gamma"] == pytest.approx(ch.slow_modes().r1_over_3gamma, rel=1e-10)
    assert d["sample"] == 1 and d["L"] == 3


def test_cli_summary_sweep_plot_and_unitary_file(tmp_path, capsys):
    out = tmp_path / "dyn.png"
    argv = [
        "dynamics",
        "--L",
        "3",
        "--alpha",
        "3",
        "--gamma",
        "1e-3",
        "--times",
        "40",
        "--sweep",
        "1e-2",
        "1e-3",
        "1e-4",
        "--plot",
        str(out),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for word in ("r_1 / (3 gamma)", "Gamma (weak coupling", "late-time decay rate", "gamma sweep"):
        assert word in text
    assert out.stat().st_size > 1000
    u = haar_unitary(8, np.random.default_rng(5))
    np.save(tmp_path / "U.npy", u)
    assert (
        main(
            [
                "dynamics",
                "--unitary",
                str(tmp_path / "U.npy"),
                "--gamma",
                "1e-3",
                "--times",
                "20",
                "--n-relax",
                "5",
            ]
        )
        == 0
    )
    assert "unitary from" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--L", "7", "--alpha", "3", "--gamma", "1e-3"], "L=7"),
        (["--L", "3", "--alpha", "3", "--gamma", "0"], "gamma=0.0"),
        (["--L", "3", "--alpha", "3", "--gamma", "-1"], "gamma=-1.0"),
        (["--L", "3", "--gamma", "1e-3"], "--alpha"),
        (["--L", "3", "--alpha", "3", "--gamma", "1e-3", "--initial", "12"], "initial state"),
    ],
)
def test_cli_bad_input_exit_2(argv, needle, capsys):
    assert main(["dynamics", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_cli_bad_input_subprocess_no_traceback():
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbl_avalanche",
            "dynamics",
            "--L",
            "9",
            "--alpha",
            "3",
            "--gamma",
            "1e-3",
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "L=9" in p.stderr


def test_weak_coupling_meta_is_that_of_the_sample_analysis():
    """Without a given analysis the channel's weak-coupling limit carries the same record fields,
    in the same order, as :func:`mbl_avalanche.analyze` of the same unitary."""
    from mbl_avalanche import analyze

    u = FloquetModel(L=3, alpha=3.0).unitary(0)
    ch = Channel(u, 1e-3)
    ref = analyze(u, check=False)
    assert list(ch.result.meta.items()) == list(ref.meta.items())
    assert ch.Gamma == ref.Gamma and np.array_equal(ch.result.c, ref.c)


def test_channel_interface_shared_with_the_lindbladian():
    """The channel states its kind, time unit and the order of its first correction (-gamma), as
    the Lindbladian does (``tests/test_dynamics_lindblad.py``); sweep rows scale by that order."""
    ch = _channel(3, gamma=1e-3)
    assert (ch.kind, ch.time_unit, ch.correction_order) == ("unitary", "periods", 1)
    assert ch.predicted_rel_error() == -1e-3 and ch.predicted_rel_error(2e-4) == -2e-4
    sw = gamma_sweep(ch.u, (1e-6, 1e-7), result=ch.result)
    assert (sw.kind, sw.order, sw.coefficient) == ("unitary", 1, -1.0)
    for row, rec in zip(sw.rows, sw.records(), strict=True):
        assert row.order == 1 and row.scaled_error == row.error_over_gamma
        assert rec["scaled_error"] == rec["error_over_gamma"]
        assert row.scaled_error == pytest.approx(-1.0, abs=0.01)
    d = run_dynamics(ch.u, 1e-3, n_times=20, result=ch.result).scalars()
    assert d["kind"] == "unitary" and d["time_unit"] == "periods" and isinstance(d["t_max"], int)
    assert d["predicted_rel_diff"] == -1e-3 and d["correction_order"] == 1
    with pytest.raises(InputError, match="kind="):
        run_dynamics(ch.u, 1e-3, kind="floquet")  # type: ignore[arg-type]
