"""The one-sample pipeline: certificate, flags, brought-your-own operators, statistics of R."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import haar_unitary
from mbl_avalanche import FloquetModel, InputError, analyze, analyze_sample
from mbl_avalanche.models.custom import check_unitary


def test_certificate_on_model_sample():
    r = analyze_sample(FloquetModel(L=8, alpha=30), 7)
    c = r.certificate
    assert c.unitarity_error <= 1e-13
    assert c.orthonormality_error <= 1e-12
    assert c.eigen_residual <= 1e-12
    assert c.row_sum_error <= 1e-12
    assert 0 < c.gamma_ratio <= 1 + 1e-9
    assert c.gamma_rel_diff <= c.gamma_resolution / r.Gamma * 10
    assert c.ok and not c.flags
    sc = r.scalars()
    keys = ("Gamma", "R", "mu", "nu", "alpha", "sample", "seed", "cert_row_sum_error", "cert_flags")
    for key in keys:
        assert key in sc
    assert sc["rS_over_gamma"] == pytest.approx(3 * r.Gamma)
    assert r.rate(1e-3) == pytest.approx(3e-3 * r.Gamma)


def test_diagonal_unitary_is_flagged_not_crashing():
    rng = np.random.default_rng(0)
    u = np.diag(np.exp(1j * rng.uniform(-np.pi, np.pi, 64)))
    r = analyze(u)
    assert r.certificate.degenerate_slow_mode
    assert r.certificate.gamma_below_precision
    assert "degenerate_slow_mode" in r.scalars()["cert_flags"]


def test_alpha_to_infinity_is_flagged():
    r = analyze_sample(FloquetModel(L=5, alpha=1e12), 0)
    assert "degenerate_slow_mode" in r.certificate.flags


def test_hamiltonian_path_matches_unitary_of_same_eigenbasis():
    rng = np.random.default_rng(3)
    w = haar_unitary(32, rng)
    e = np.sort(rng.uniform(-1, 1, 32))
    h = (w * e) @ w.conj().T
    rh = analyze(h, "hamiltonian")
    ru = analyze((w * np.exp(1j * e)) @ w.conj().T)  # same eigenvectors and ordering
    assert rh.kind == "hamiltonian" and not rh.spectrum.periodic
    assert np.allclose(rh.theta, e, atol=1e-13)
    assert rh.Gamma == pytest.approx(ru.Gamma, rel=1e-10)
    assert (rh.mu, rh.nu) == (ru.mu, ru.nu)
    assert rh.R == pytest.approx(ru.R, rel=1e-10)


def test_unitary_input_from_model_equals_sample_analysis():
    m = FloquetModel(L=6, alpha=30)
    a = analyze(m.unitary(2))
    b = analyze_sample(m, 2)
    assert a.Gamma == pytest.approx(b.Gamma, rel=1e-12)
    assert (a.mu, a.nu) == (b.mu, b.nu)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.eye(6), "size 6x6"),
        (np.eye(2), "size 2x2"),
        (np.ones((4, 8)), "square"),
        (2 * np.eye(8), "U\\^dagger U - 1"),
        (np.full((4, 4), np.nan), "NaN"),
    ],
)
def test_bad_unitaries(bad, match):
    with pytest.raises(InputError, match=match):
        analyze(bad)


def test_non_hermitian_hamiltonian():
    a = np.arange(16.0).reshape(4, 4)
    with pytest.raises(InputError, match="H - H\\^dagger"):
        analyze(a, "hamiltonian")
    _u, err = check_unitary(np.eye(4))
    assert err == 0.0


def test_r_statistics_mbl_and_thermal():
    """alpha = 30: R <= 1/2 in every sample (L = 6, 7, 8); alpha = 1: median R falls with L."""
    for L in (6, 7, 8):
        m = FloquetModel(L=L, alpha=30)
        rs = [analyze_sample(m, k).R for k in range(30)]
        assert max(rs) <= 0.5 + 1e-9, (L, max(rs))
    med = {}
    for L in (6, 8):
        m = FloquetModel(L=L, alpha=1)
        med[L] = np.median([analyze_sample(m, k).R for k in range(30)])
    assert med[8] < med[6]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["auto", "schur"])
def test_live_arrays_stay_near_three_matrices(method: str) -> None:
    """L = 10: the live NumPy arrays of one ``analyze_sample`` peak at about three complex
    ``N x N`` matrices on both paths (``U`` is handed to the solver: the fast path frees it
    before ``eigh``, Schur works in it; four or five if it were kept).  Below L = 10 the block
    temporaries, not the matrices, set the peak."""
    import tracemalloc

    from threadpoolctl import threadpool_limits

    model = FloquetModel(L=10, alpha=30.0)
    with threadpool_limits(1):
        analyze_sample(model, 0, method=method)  # imports and caches outside the trace
        tracemalloc.start()
        try:
            r = analyze_sample(model, 1, method=method)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert r.meta["method"] == ("fast" if method == "auto" else "schur")
    assert peak / (16 * 4**10) < 3.5
