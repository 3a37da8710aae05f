"""The fast unitary eigensolver (eigh of a rotated Hermitian part + cluster Schur + refinement).

Planted spectra: ``U = W diag(exp(i theta)) W^dagger`` with Haar ``W`` from a seeded generator,
so the exact eigenpairs are known.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conftest import gamma_conditioning
from mbl_avalanche import spectrum as sp
from mbl_avalanche.analysis import analyze, analyze_sample
from mbl_avalanche.errors import InputError
from mbl_avalanche.models.floquet import FloquetModel

TOL = 1e-12
PHI = sp.DEFAULT_PHASE


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def haar(n: int, rng: np.random.Generator) -> np.ndarray:
    z = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r)
    return q * (d / np.abs(d))


def planted(theta: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    w = haar(theta.shape[0], np.random.default_rng(seed))
    return (w * np.exp(1j * theta)) @ w.conj().T, w


def spread(n: int, special: list[float], seed: int) -> np.ndarray:
    """``n`` phases: ``special`` plus random ones kept 1e-3 away from every special one."""
    rng = np.random.default_rng(seed)
    out = list(special)
    while len(out) < n:
        t = rng.uniform(-np.pi, np.pi)
        if np.all(sp.phase_distance(t, np.array(out)) > 1e-3):
            out.append(t)
    return np.array(out)


def reconstruction_error(spec: sp.Spectrum) -> float:
    v = spec.V
    return float(np.max(np.abs((v * np.exp(1j * spec.theta)) @ v.conj().T)))


def subspace_error(v_found: np.ndarray, w_planted: np.ndarray) -> float:
    """``|| P_found - P_planted ||_2`` of the two projectors."""
    p = v_found @ v_found.conj().T - w_planted @ w_planted.conj().T
    return float(np.linalg.norm(p, 2))


def match(spec: sp.Spectrum, t: float, k: int = 1) -> np.ndarray:
    """Indices of the ``k`` computed quasienergies closest (on the circle) to ``t``."""
    return np.argsort(sp.phase_distance(spec.theta, t), kind="stable")[:k]


CASES = {
    "pairs": [0.3, 0.3 + 1e-8, 1.1, 1.1 + 1e-10, -2.0, -2.0 + 1e-12],
    "cluster3": [0.7, 0.7 + 3e-9, 0.7 + 7e-9, -1.3, -1.3 + 1e-11, -1.3 + 2e-11, -1.3 + 5e-11],
    "exact_degenerate": [0.5, 0.5, 0.5, -0.9, -0.9],
    "near_pi": [np.pi - 1e-13, -np.pi + 1e-13, np.pi - 3e-9, 3.0, 3.0 + 1e-10],
    "folding": [
        PHI + 0.4,
        PHI - 0.4,
        PHI + 0.4 + 1e-9,
        PHI + 1e-7,
        PHI - 1e-7,
        PHI + np.pi + 2e-8,
        PHI + np.pi - 2e-8,
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("method", ["fast", "auto"])
def test_planted_near_degenerate(case: str, method: str) -> None:
    special = [float(sp.fold_quasienergy(np.array(t))) for t in CASES[case]]
    theta = spread(128, special, seed=11)
    u, w = planted(theta, seed=12)
    spec = sp.diagonalize_unitary(u, method=method)
    assert spec.method == "fast"
    assert spec.check["passed"]
    assert sp.orthonormality_error(spec.V) <= TOL
    assert sp.eigen_residual(u, spec) <= TOL
    assert float(np.max(np.abs((spec.V * np.exp(1j * spec.theta)) @ spec.V.conj().T - u))) <= TOL
    # quasienergies: sorted in (-pi, pi] and equal to the planted ones
    assert np.all(np.diff(spec.theta) >= 0) and spec.theta[0] > -np.pi and spec.theta[-1] <= np.pi
    ref = np.sort(sp.fold_quasienergy(theta))
    assert np.max(sp.phase_distance(spec.theta, ref)) <= TOL
    # every planted group of close phases: its subspace is recovered
    groups: list[list[int]] = []
    for i in range(len(special)):
        for g in groups:
            if sp.phase_distance(special[i], special[g[0]]) < 1e-6:
                g.append(i)
                break
        else:
            groups.append([i])
    for g in groups:
        found = match(spec, special[g[0]], len(g))
        assert subspace_error(spec.V[:, found], w[:, g]) <= 1e-10


def test_pair_vectors_resolved_to_the_rounding_limit() -> None:
    """Inside a pair of splitting delta the vectors are fixed only to ~1e-15/delta.

    (Conventions, section 4.)
    """
    special = [0.3, 0.3 + 1e-8]
    theta = spread(128, special, seed=3)
    u, w = planted(theta, seed=4)
    spec = sp.diagonalize_unitary(u, method="fast")
    for i, t in enumerate(special):
        (j,) = match(spec, t)
        assert abs(abs(np.vdot(w[:, i], spec.V[:, j])) - 1.0) <= 1e-6


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_matches_schur_on_haar_unitary(seed: int) -> None:
    u = haar(256, np.random.default_rng(seed))
    f = sp.diagonalize_unitary(u, method="fast")
    s = sp.diagonalize_unitary(u, method="schur")
    assert np.max(np.abs(f.theta - s.theta)) <= 1e-12
    # same eigenvectors up to phases
    overlap = np.abs(np.sum(f.V.conj() * s.V, axis=0))
    assert np.max(np.abs(overlap - 1.0)) <= 1e-10
    assert f.check["residual_rms"] <= TOL and f.check["orthonormality_rms"] <= TOL


def test_fallback_to_schur_when_the_check_fails() -> None:
    u = haar(64, np.random.default_rng(5))
    spec = sp.diagonalize_unitary(u, method="auto", tol=0.0)  # nothing passes a zero tolerance
    assert spec.method == "fast->schur"
    assert spec.check["passed"] is False
    ref = sp.diagonalize_unitary(u, method="schur")
    np.testing.assert_array_equal(spec.theta, ref.theta)
    np.testing.assert_array_equal(spec.V, ref.V)
    # method="fast" keeps its own result and reports the failed check
    fast = sp.diagonalize_unitary(u, method="fast", tol=0.0)
    assert fast.method == "fast" and fast.check["passed"] is False


def test_source_is_called_again_for_the_fallback() -> None:
    """A unitary given as a source (with ``apply``): the fast method takes it once and drops
    it; a failed check calls the source again and the Schur result is exactly Schur's."""
    model = FloquetModel(L=6, alpha=3.0)
    calls = []

    def source() -> np.ndarray:
        calls.append(1)
        return model.unitary(2)

    apply = model.circuit(2)
    ok = sp.diagonalize_unitary(source, method="auto", apply=apply)
    assert ok.method == "fast" and len(calls) == 1
    assert sp.eigen_residual(model.unitary(2), ok) <= TOL
    failed = sp.diagonalize_unitary(source, method="auto", apply=apply, tol=0.0)
    assert failed.method == "fast->schur" and len(calls) == 3
    ref = sp.diagonalize_unitary(model.unitary(2), method="schur")
    np.testing.assert_array_equal(failed.V, ref.V)
    # analyze_sample hands its U over the same way and gives the same numbers as analyze(U)
    a = analyze_sample(model, 2)
    b = analyze(model.unitary(2), check=False, apply=apply)
    assert a.Gamma == b.Gamma and (a.mu, a.nu) == (b.mu, b.nu)
    # a user's callable may return an array it still holds: analyze never overwrites it
    u = np.asfortranarray(model.unitary(2))  # Fortran order: zgees could work in it
    keep = u.copy()
    for method in ("schur", "auto"):
        r = analyze(lambda: u, method=method, check=False, apply=apply)
        np.testing.assert_array_equal(u, keep)
        assert abs(r.Gamma - a.Gamma) <= 1e-6 * a.Gamma


def test_check_detects_a_broken_solution() -> None:
    """Refinement disabled by a huge cluster tolerance on a non-unitary input: check fails."""
    u = haar(64, np.random.default_rng(6))
    u[0, 1] += 1e-6  # not unitary: no orthonormal eigenbasis fits
    spec = sp.diagonalize_unitary_fast(u)
    assert not spec.check["passed"]
    assert spec.check["residual_rms"] > 1e-9


def test_bad_method_and_backend() -> None:
    u = np.eye(4, dtype=complex)
    with pytest.raises(InputError, match="method='eig'"):
        sp.diagonalize_unitary(u, method="eig")
    with pytest.raises(InputError, match="backend='tpu'"):
        sp.diagonalize_unitary(u, method="fast", backend="tpu")


def _agree(L: int, samples: range) -> tuple[int, int]:
    """Fast vs Schur on model samples; returns (certified samples compared, samples).

    ``Gamma`` (1e-12 at L = 8) is fixed by ``V`` only to a relative ``~ eps / delta`` (Schur
    itself moves by up to ~1e-6 relative under an exact symmetry of the input, a global phase
    ``U -> e^{i a} U``): the fast result must agree with Schur to 1e-8 relative, or to within 30
    times the first-order sensitivity :func:`gamma_conditioning`, whichever is larger.
    """
    model = FloquetModel(L=L, alpha=30.0)
    checked = 0
    for k in samples:
        s = analyze_sample(model, k, method="schur", keep_S=True)
        f = analyze_sample(model, k, method="auto")
        assert f.meta["method"] == "fast"
        assert f.certificate.orthonormality_error <= TOL
        assert f.certificate.eigen_residual <= TOL
        np.testing.assert_allclose(f.theta, s.theta, rtol=0, atol=1e-12)
        if s.certificate.ok and f.certificate.ok:
            spread = gamma_conditioning(s)
            assert (f.mu, f.nu) == (s.mu, s.nu)
            assert abs(f.Gamma - s.Gamma) <= max(1e-8, 30 * spread) * s.Gamma
            # R and c are first order in the slowest mode, whose error is the Laplacian
            # resolution over its gap (Gamma, a Rayleigh quotient, is second order)
            c = s.certificate
            mode_err = c.gamma_resolution / (s.Gamma2 - s.Gamma)
            assert abs(f.R - s.R) <= (1e-8 + 10 * mode_err + 30 * spread) * abs(s.R)
            assert np.max(np.abs(f.c - s.c)) <= 1e-8 + 10 * mode_err + 30 * spread
            checked += 1
    return checked, len(samples)


def test_fast_agrees_with_schur_on_samples() -> None:
    checked = 0
    for L, n in ((6, 10), (7, 8), (8, 6)):
        c, _ = _agree(L, range(n))
        checked += c
    assert checked >= 15


@pytest.mark.slow
def test_fast_agrees_with_schur_on_200_samples() -> None:
    """200 samples at L = 8: fast - Schur differences are distributed like Schur - Schur'.

    (Schur' = Schur of ``e^{0.37 i} U``; see ``benchmarks/agreement.py`` for the table.)
    """
    model = FloquetModel(L=8, alpha=30.0)
    d_fast, d_schur, n_cert = [], [], 0
    for k in range(200):
        s = analyze_sample(model, k, method="schur")
        f = analyze_sample(model, k, method="auto")
        assert f.meta["method"] == "fast"
        assert f.certificate.orthonormality_error <= TOL
        assert f.certificate.eigen_residual <= TOL
        if not (s.certificate.ok and f.certificate.ok):
            continue
        n_cert += 1
        s2 = analyze(model.unitary(k) * np.exp(0.37j), method="schur", check=False)
        assert (f.mu, f.nu) == (s.mu, s.nu)
        d_fast.append(abs(f.Gamma - s.Gamma) / s.Gamma)
        d_schur.append(abs(s2.Gamma - s.Gamma) / s.Gamma)
    assert n_cert >= 150
    for q in (0.5, 0.9):
        assert np.quantile(d_fast, q) <= 2 * np.quantile(d_schur, q) + 1e-12
    assert max(d_fast) <= 1e-4


@pytest.mark.parametrize("refine", ["banded", "dense"])
def test_banded_and_dense_refinement(refine: str) -> None:
    """Both refinement variants (band ``|h_m - h_n| < BAND_TOL``, or all pairs) are exact."""
    special = [float(sp.fold_quasienergy(np.array(t))) for t in CASES["pairs"] + CASES["folding"]]
    theta = spread(256, special, seed=21)
    u, _ = planted(theta, seed=22)
    spec = sp.diagonalize_unitary_fast(u, refine=refine)
    assert spec.check["passed"]
    assert sp.orthonormality_error(spec.V) <= TOL
    assert sp.eigen_residual(u, spec) <= TOL
    ref = sp.diagonalize_unitary(u, method="schur")
    overlap = np.abs(np.sum(spec.V.conj() * ref.V, axis=0))
    far = np.ones(256, bool)
    for t in special:  # inside planted pairs the vectors are fixed only to 1e-15/delta
        far[match(spec, t, 3)] = False
    assert np.max(np.abs(overlap[far] - 1.0)) <= 1e-10


def test_band_windows_cover_every_close_pair() -> None:
    """Every pair with ``|w_m - w_n| < tol`` lies in its column block's window, none is left out."""
    rng = np.random.default_rng(3)
    w = np.sort(np.cos(rng.uniform(-np.pi, np.pi, 700)))
    tol = 0.03
    covered = np.zeros((700, 700), bool)
    for s0, s1, lo, hi in sp.fast._band_windows(w, tol, 64):
        covered[lo:hi, s0:s1] = True
    close = np.abs(w[:, None] - w[None, :]) < tol
    assert np.all(covered[close])
    assert covered.mean() < 0.5  # and the windows are a band, not the whole matrix


def test_banded_refinement_reaches_schur_accuracy_on_a_model_sample() -> None:
    """L = 9, alpha = 30: the eigh vectors' residual (1e-11 or worse) falls to Schur level."""
    model = FloquetModel(L=9, alpha=30.0)
    u = model.unitary(1)
    spec = sp.diagonalize_unitary_fast(u)
    ref = sp.diagonalize_unitary(u, method="schur")
    assert spec.check["pre_residual_max"] > 1e-12
    assert spec.check["band_fraction"] < 0.1
    assert sp.orthonormality_error(spec.V) <= 1e-13
    assert sp.eigen_residual(u, spec) <= max(3 * sp.eigen_residual(u, ref), 1e-13)


def test_banded_refinement_with_its_blocks_on_two_threads() -> None:
    """With two BLAS threads the circuit and V K blocks run on two Python threads
    (backend.run_blocks): the same Schur-level accuracy, and the same spectrum as with one."""
    model = FloquetModel(L=9, alpha=30.0)
    u = model.unitary(1)
    apply = model.circuit(1)
    one = sp.diagonalize_unitary_fast(u, apply=apply)
    with threadpool_limits(2):
        two = sp.diagonalize_unitary_fast(u, apply=apply)
    ref = sp.diagonalize_unitary(u, method="schur")
    assert two.check["passed"]
    assert sp.orthonormality_error(two.V) <= 1e-13
    assert sp.eigen_residual(u, two) <= max(3 * sp.eigen_residual(u, ref), 1e-13)
    # quasienergies of both runs agree to the eigensolvers' rounding (eps x ||U|| / 1)
    assert np.max(np.abs(two.theta - one.theta)) <= 1e-13
    overlap = np.abs(np.sum(one.V.conj() * two.V, axis=0))  # same vectors up to a phase
    assert np.min(overlap) >= 1 - 1e-12


def test_bad_refinement_variant() -> None:
    with pytest.raises(InputError, match="refine='x'"):
        sp.diagonalize_unitary_fast(np.eye(4, dtype=complex), refine="x")
