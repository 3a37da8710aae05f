"""The near-resonant eigenstate set on the planted minimal model and on real samples."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import haar_unitary
from mbl_avalanche import FloquetModel, InputError, analyze, analyze_sample
from mbl_avalanche.basis import z_signs
from mbl_avalanche.models.planted import planted_resonance
from mbl_avalanche.resonance import (
    demix,
    partner,
    resonance_location,
    z_measure_form,
    z_profile,
    zjump,
)

EPS = 1e-4


@pytest.mark.parametrize(
    "flip_sites,case", [((1, 2, 4), "XY"), ((1, 3, 5), "XY"), ((1, 3, 6), "Z"), ((1, 6), "Z")]
)
@pytest.mark.parametrize("seed", [1, 2])
def test_planted_minimal_model(flip_sites, case, seed):
    L = 6
    p = planted_resonance(L, flip_sites, EPS, np.random.default_rng(seed))
    assert p.case == case
    r = analyze(p.U)
    res = r.resonance
    assert r.certificate.ok
    # the sorted-order indices of the planted states
    order = np.argsort(np.angle(np.exp(1j * p.theta)), kind="stable")
    pos = np.empty_like(order)
    pos[order] = np.arange(order.size)
    assert res.case == case
    assert {res.states["A"], res.states["B"]} == {pos[p.a], pos[p.b]}
    assert res.x == p.x
    assert [int(i) for i in res.flip_sites] == list(p.flip_sites)
    assert {res.bits_a, res.bits_b} == {format(p.a, f"0{L}b"), format(p.b, f"0{L}b")}
    sc = r.scalars()
    # minimal model: S_AB' = S_A'B = 2 eps^2/3; Z case: S_AB = 2 S_AB' = 4 eps^2/3.
    # The in-sector dressing (eta = 0.02) changes these by O(eta^2) ~ 4e-4 relative.
    assert sc["ratio_SABp_SApB"] == pytest.approx(1.0, abs=2e-3)
    assert sc["S_ABp"] == pytest.approx(2 * EPS**2 / 3, rel=2e-3)
    if case == "Z":
        assert sc["ratio_SAB_SABp"] == pytest.approx(2.0, abs=4e-3)
        assert sc["ratio_SAB_SApB"] == pytest.approx(2.0, abs=4e-3)
        assert sc["zjump_AB"] > 0.999
        assert {r.mu, r.nu} == {res.states["A"], res.states["B"]}
    else:
        assert sc["S_AB"] < 1e-3 * sc["S_ABp"]  # Z_L cannot connect A, B: O(eta^4) only
        assert {r.mu, r.nu} == {res.states["A"], res.states["Bp"]}  # top pair is {A, B'}
    assert sc["zjump_ABp"] < 1e-3 and sc["zjump_ApB"] < 1e-3
    # the AB demixing angle equals the planted value 2 eps, and is the largest of the four
    assert res.angle("AB") == pytest.approx(2 * EPS, rel=1e-6)
    assert res.angle_trusted("AB")
    assert res.angle("AB") > 100 * max(res.angle(k) for k in ("ApB", "ABp", "ApBp"))
    # c is essentially unchanged by flipping the bath l-bit, and changes across the resonance
    assert abs(sc["dc_AAp"]) < 1e-3 and abs(sc["dc_BBp"]) < 1e-3
    assert sc["dc_mu_nu"] == pytest.approx(2.0, abs=1e-2)
    assert sc["frac_four"] == pytest.approx(1.0, abs=1e-3)
    assert r.R <= 0.5 + 1e-9


def test_planted_rejects_bad_sites():
    with pytest.raises(InputError, match="flip_sites"):
        planted_resonance(5, (2, 3), EPS, np.random.default_rng(0))


def test_demixing_angle_limits_and_phase_invariance():
    L = 4
    n = 2**L
    e = np.eye(n, dtype=complex)
    # product states: angle 0
    assert demix(e[:, 3], e[:, 12]).angle == pytest.approx(0.0, abs=1e-15)
    # equal-weight superpositions of two product states differing at site 1: angle pi/2
    a = (e[:, 3] + e[:, 11]) / np.sqrt(2)
    b = (e[:, 3] - e[:, 11]) / np.sqrt(2)
    d = demix(a, b)
    assert d.angle == pytest.approx(np.pi / 2, abs=1e-12)
    # arbitrary phases of the inputs change nothing
    rng = np.random.default_rng(0)
    th = 0.3
    a = np.cos(th / 2) * e[:, 5] + np.sin(th / 2) * e[:, 10]
    b = -np.sin(th / 2) * e[:, 5] + np.cos(th / 2) * e[:, 10]
    ref = demix(a, b).angle
    assert ref == pytest.approx(th, abs=1e-12)
    for _ in range(5):
        pa, pb = np.exp(1j * rng.uniform(0, 2 * np.pi, 2))
        assert demix(pa * a, pb * b).angle == pytest.approx(ref, abs=1e-12)
        assert demix(pb * b, pa * a).angle == pytest.approx(ref, abs=1e-12)
    # the demixed pair is orthonormal and localised
    dd = demix(a, b)
    assert abs(np.vdot(dd.a, dd.b)) < 1e-14
    assert np.allclose(np.sort(np.abs(z_profile(dd.a, L))), 1.0)


def test_z_measure_form_matches_brute_force_maximum():
    """The closed-form optimum beats every Bloch-sphere direction on a grid."""
    rng = np.random.default_rng(5)
    L = 4
    w = haar_unitary(2**L, rng)
    a, b = w[:, 0], w[:, 1]
    z = z_signs(L)

    def measure(n):
        th, ph = np.arccos(n[2]), np.arctan2(n[1], n[0])
        x = np.cos(th / 2) * a + np.sin(th / 2) * np.exp(1j * ph) * b
        y = -np.sin(th / 2) * np.exp(-1j * ph) * a + np.cos(th / 2) * b
        return np.sum(((np.abs(x) ** 2) @ z) ** 2 + ((np.abs(y) ** 2) @ z) ** 2)

    best = demix(a, b)
    m_best = measure(best.bloch)
    for th in np.linspace(0, np.pi, 25):
        for ph in np.linspace(-np.pi, np.pi, 25):
            n = np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
            assert measure(n) <= m_best + 1e-12
    form = z_measure_form(a, b, L)
    assert np.allclose(form, form.T)


def test_entanglement_measure_is_pluggable():
    L = 4
    e = np.eye(16, dtype=complex)
    a = (e[:, 3] + e[:, 12]) / np.sqrt(2)
    b = (e[:, 3] - e[:, 12]) / np.sqrt(2)
    d = demix(a, b, measure="entanglement")
    assert d.angle == pytest.approx(np.pi / 2, abs=1e-6)
    with pytest.raises(InputError, match="measure='nope'"):
        demix(a, b, measure="nope")
    assert resonance_location(e[:, 3], e[:, 12], L) == 4.0  # 0011 vs 1100 differ everywhere
    assert np.isnan(resonance_location(e[:, 3], e[:, 3], L))


def test_partner_and_zjump_on_product_basis():
    v = np.eye(8, dtype=complex)
    assert partner(v, 4) == 5  # flip of the last bit
    assert zjump(v, 4, 5) == 0.0
    assert np.isnan(zjump(v, 0, 7))


def test_resonance_fields_on_a_real_sample():
    r = analyze_sample(FloquetModel(L=8, alpha=30), 7)
    sc = r.scalars()
    for key in (
        "case",
        "A",
        "B",
        "Ap",
        "Bp",
        "angle_AB",
        "x",
        "x_over_L",
        "frac_top8",
        "split_AB",
        "bits_a",
        "flip_sites",
        "zjump_mu_nu",
    ):
        assert key in sc
    assert 1 <= sc["x"] <= 8
    assert sc["frac_top1"] == pytest.approx(r.R)
    assert sc["frac_top1"] <= sc["frac_top2"] <= sc["frac_top4"] <= sc["frac_top8"] <= 1 + 1e-12


def test_statistics_alpha30_L8():
    """>= 100 samples: Z_jump bimodal in >= 90%, AB angle the largest in >= 80%."""
    _check_statistics(100)


def _check_statistics(n):
    m = FloquetModel(L=8, alpha=30)
    rows = [analyze_sample(m, k).scalars() for k in range(n)]
    zj = np.array([r["zjump_mu_nu"] for r in rows])
    assert np.mean((zj < 0.05) | (zj > 0.95)) >= 0.9
    ang = np.array([[r["angle_AB"], r["angle_ApB"], r["angle_ABp"], r["angle_ApBp"]] for r in rows])
    assert np.mean(np.argmax(ang, axis=1) == 0) >= 0.8
    assert 0.5 < np.median([r["ratio_SABp_SApB"] for r in rows]) < 2.0


def test_tiny_demixing_angles_are_resolved():
    """Angles far below sqrt(eps) (where arccos would return 0) come out right."""
    L = 4
    e = np.eye(2**L, dtype=complex)
    for th in (1e-6, 1e-9, 1e-12):
        a = np.cos(th / 2) * e[:, 5] + np.sin(th / 2) * e[:, 10]
        b = -np.sin(th / 2) * e[:, 5] + np.cos(th / 2) * e[:, 10]
        assert demix(a, b).angle == pytest.approx(th, rel=1e-6)


def test_xy_case_never_pairs_a_state_with_itself():
    """Thermal samples where the top pair is its own bath-flip partner (mu' = nu): {A, B} are two
    different states, and a pair of the set that falls on one eigenstate has no demixing angle
    (NaN, untrusted) instead of the demixing of a state with itself (a zero vector before)."""
    seen = 0
    for L, k in ((4, 1), (5, 0), (5, 1), (6, 0), (6, 1), (7, 2)):
        r = analyze_sample(FloquetModel(L=L, alpha=1.0), k)
        res = r.resonance
        assert res.states["A"] != res.states["B"]
        assert np.isfinite(res.angle("AB")) and 0 <= res.angle("AB") <= np.pi / 2
        for p, q in (("Ap", "B"), ("A", "Bp"), ("Ap", "Bp")):
            same = res.states[p] == res.states[q]
            assert np.isnan(res.angle(p + q)) == same
            assert not (same and res.angle_trusted(p + q))
            seen += same
        for d in res.demixings.values():
            if np.isfinite(d.angle):
                assert abs(np.linalg.norm(d.a) - 1) < 1e-12 and abs(np.linalg.norm(d.b) - 1) < 1e-12
    assert seen >= 2  # the degenerate case does occur among these samples (L = 4, k = 1)
