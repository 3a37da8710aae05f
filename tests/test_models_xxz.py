"""The random-field XXZ chain: operator, conservation law, sectors, seeds and record.

The operator is checked against an independent construction from Kronecker products of the
spin-1/2 matrices ``S = sigma / 2`` (site 1 the most significant factor, conventions section 1),
to a tolerance from rounding: every entry is a sum of at most ``2 L`` terms of size
``<= max(W, 1) / 2``.
"""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from mbl_avalanche.errors import InputError
from mbl_avalanche.models import HeisenbergModel, make_model
from mbl_avalanche.models.xxz import xxz_hamiltonian

EPS = np.finfo(float).eps
SX = np.array([[0, 1], [1, 0]]) / 2
SY = np.array([[0, -1j], [1j, 0]]) / 2
SZ = np.array([[1, 0], [0, -1]]) / 2


def site(op: np.ndarray, i: int, L: int) -> np.ndarray:
    """``op`` on site ``i`` (1-based; site 1 the leftmost Kronecker factor)."""
    return np.kron(np.kron(np.eye(2 ** (i - 1)), op), np.eye(2 ** (L - i)))


def kron_xxz(L: int, h: np.ndarray, delta: float) -> np.ndarray:
    H = np.zeros((2**L, 2**L), dtype=complex)
    for i in range(1, L):
        for op, coupling in ((SX, 1.0), (SY, 1.0), (SZ, delta)):
            H += coupling * site(op, i, L) @ site(op, i + 1, L)
    for i in range(1, L + 1):
        H += h[i - 1] * site(SZ, i, L)
    return H


@pytest.mark.parametrize("L", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("W, Delta", [(0.0, 1.0), (3.0, 1.0), (10.0, 0.4), (1.0, -2.0)])
def test_operator_equals_kronecker_construction(L, W, Delta):
    m = HeisenbergModel(L=L, W=W, Delta=Delta, seed=11)
    h = m.fields(3)
    ref = kron_xxz(L, h, Delta)
    H = m.operator(3)
    assert H.dtype == np.float64 and H.shape == (2**L, 2**L)
    atol = 4 * L * EPS * max(W, abs(Delta), 1.0)
    np.testing.assert_allclose(H, ref.real, rtol=0, atol=atol)
    assert np.max(np.abs(ref.imag)) == 0.0  # real symmetric
    np.testing.assert_array_equal(H, H.T)


def test_total_sz_is_conserved_and_sectors_are_its_blocks():
    L = 6
    m = HeisenbergModel(L=L, W=4.0)
    H = m.operator(0)
    sz = sum(site(SZ, i, L) for i in range(1, L + 1)).real
    np.testing.assert_array_equal(H @ sz - sz @ H, np.zeros_like(H))
    sectors = m.sectors()
    assert [len(s) for s in sectors] == [comb(L, n) for n in range(L + 1)]
    assert np.array_equal(np.sort(np.concatenate(sectors)), np.arange(2**L))
    for n, (s, block) in enumerate(zip(sectors, m.sector_blocks(0), strict=True)):
        # sector n: n down spins, S^z = L/2 - n; the block is H cut to it (built directly)
        np.testing.assert_array_equal(np.diagonal(sz)[s], L / 2 - n)
        np.testing.assert_allclose(block, H[np.ix_(s, s)], rtol=0, atol=4 * L * EPS * 4.0)
    # nothing outside the blocks
    off = H.copy()
    for s in sectors:
        off[np.ix_(s, s)] = 0
    assert not off.any()


def test_samples_are_pure_functions_with_common_random_numbers():
    a = HeisenbergModel(L=7, W=2.0, seed=5)
    b = HeisenbergModel(L=7, W=10.0, Delta=0.5, seed=5)
    # the same u at every W and Delta: h scales with W
    np.testing.assert_array_equal(a.fields(4) / 2.0, b.fields(4) / 10.0)
    np.testing.assert_array_equal(a.fields(4), HeisenbergModel(L=7, W=2.0, seed=5).fields(4))
    assert np.all(np.abs(a.fields(4)) <= 2.0)
    # different samples, seeds and L draw different fields
    assert not np.array_equal(a.fields(4), a.fields(5))
    assert not np.array_equal(a.fields(4), HeisenbergModel(L=7, W=2.0, seed=6).fields(4))
    assert not np.array_equal(a.fields(4)[:6], HeisenbergModel(L=6, W=2.0, seed=5).fields(4))
    # the documented recipe, outside the model class
    from mbl_avalanche.models.protocol import family_key

    ss = np.random.SeedSequence(5, spawn_key=(family_key("heisenberg"), 7, 4))
    np.testing.assert_array_equal(
        a.fields(4), 2.0 * np.random.default_rng(ss).uniform(-1.0, 1.0, 7)
    )


def test_uniform_fields_statistics():
    """h_i uniform in [-W, W]: mean 0 and variance W^2/3 over many samples (5 sigma)."""
    m = HeisenbergModel(L=8, W=3.0)
    h = np.concatenate([m.fields(k) for k in range(2000)])
    assert abs(h.mean()) < 5 * 3.0 / np.sqrt(3 * h.size)
    assert abs(h.var() - 3.0) < 5 * np.sqrt(4 / 45) * 9.0 / np.sqrt(h.size)
    assert h.min() >= -3.0 and h.max() <= 3.0


def test_record_rebuilds_the_sample_outside_the_package():
    m = HeisenbergModel(L=5, W=6.0, Delta=0.8, seed=3)
    rec = m.record_fields(2)
    assert rec["model"] == "heisenberg" and rec["W"] == 6.0 and rec["Delta"] == 0.8
    h = np.array(json.loads(rec["disorder"])["h"])
    np.testing.assert_array_equal(h, m.fields(2))
    np.testing.assert_allclose(
        kron_xxz(5, h, 0.8).real, m.operator(2), rtol=0, atol=4 * 5 * EPS * 6.0
    )


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"W": -1.0}, "W=-1.0 is not allowed: it must be a finite number >= 0"),
        ({"W": float("nan")}, "W=nan is not allowed"),
        ({"W": 1.0, "Delta": float("inf")}, "Delta=inf is not allowed"),
        ({"W": 1.0, "alpha": 3.0}, "parameter 'alpha' is not allowed for model 'heisenberg'"),
        ({}, "parameter 'W' of model 'heisenberg' is not given"),
    ],
)
def test_bad_parameters(params, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(")) as e:
        make_model("heisenberg", 6, 1, params)
    assert "\n" not in str(e.value)


def test_xxz_hamiltonian_is_exported_for_users():
    h = np.array([0.3, -0.2, 0.1])
    np.testing.assert_allclose(
        xxz_hamiltonian(3, h, 1.0), kron_xxz(3, h, 1.0).real, rtol=0, atol=1e-15
    )
