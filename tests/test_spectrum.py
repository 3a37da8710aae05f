"""Eigen-decomposition: orthonormal eigenvectors even for planted near-degenerate pairs."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import haar_unitary, planted_unitary
from mbl_avalanche.errors import InputError
from mbl_avalanche.spectrum import (
    diagonalize_hermitian,
    diagonalize_unitary,
    eigen_residual,
    fold_quasienergy,
    orthonormality_error,
    phase_distance,
)


@pytest.mark.parametrize("splitting", [1e-8, 1e-10, 1e-12])
def test_planted_near_degenerate_pair(splitting):
    rng = np.random.default_rng(int(-np.log10(splitting)))
    n = 128
    u, w, phases, (i, j) = planted_unitary(n, splitting, rng)
    spec = diagonalize_unitary(u)
    v = spec.V
    assert orthonormality_error(v) <= 1e-12
    recon = (v * np.exp(1j * spec.theta)[None, :]) @ v.conj().T
    assert np.max(np.abs(recon - u)) <= 1e-12
    assert eigen_residual(u, spec) <= 1e-12
    # the planted pair's 2-D subspace is recovered: the two eigenvectors closest to the planted
    # phases span the same plane as the planted ones (projector distance)
    close = np.argsort(np.abs(spec.theta - phases[i]))[:2]
    p_found = v[:, close] @ v[:, close].conj().T
    p_true = w[:, [i, j]] @ w[:, [i, j]].conj().T
    assert np.linalg.norm(p_found - p_true, 2) <= 1e-12
    # and quasienergies agree with the planted ones
    assert np.allclose(np.sort(spec.theta), np.sort(fold_quasienergy(phases)), atol=1e-13)


def test_quasienergies_sorted_and_in_range():
    rng = np.random.default_rng(5)
    w = haar_unitary(64, rng)
    phases = rng.uniform(-np.pi, np.pi, 64)
    phases[3] = np.pi  # exactly pi must stay pi, -pi must become pi
    phases[4] = -np.pi + 1e-3
    u = (w * np.exp(1j * phases)) @ w.conj().T
    spec = diagonalize_unitary(u)
    assert np.all(np.diff(spec.theta) >= 0)
    assert np.all(spec.theta > -np.pi) and np.all(spec.theta <= np.pi)
    assert np.isclose(fold_quasienergy(np.array([-np.pi]))[0], np.pi)
    assert np.isclose(phase_distance(np.pi - 1e-3, -np.pi + 1e-3), 2e-3)
    gaps = spec.level_spacings()
    assert gaps.shape == (64,) and np.isclose(gaps.sum(), 2 * np.pi)


def test_global_phase_and_exact_degeneracy():
    rng = np.random.default_rng(9)
    w = haar_unitary(32, rng)
    phases = np.repeat(rng.uniform(-3, 3, 8), 4)  # four-fold exact degeneracies
    u = np.exp(0.7j) * (w * np.exp(1j * phases)) @ w.conj().T
    spec = diagonalize_unitary(u)
    assert orthonormality_error(spec.V) <= 1e-13
    assert eigen_residual(u, spec) <= 1e-13


def test_hermitian_spectrum():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))
    h = a + a.conj().T
    spec = diagonalize_hermitian(h)
    assert not spec.periodic
    assert np.allclose(spec.theta, np.linalg.eigvalsh(h), atol=1e-12)
    assert orthonormality_error(spec.V) <= 1e-13
    assert eigen_residual(h, spec) <= 1e-12 * np.max(np.abs(spec.theta))


def test_unknown_method():
    with pytest.raises(InputError, match="method='eig'"):
        diagonalize_unitary(np.eye(4), method="eig")


def test_splittings_and_level_spacings():
    """Splittings are modulo 2 pi for a unitary (the wrap-around gap included), plain otherwise."""
    theta = np.array([-3.1, -1.0, 0.5, 3.1])
    u = np.diag(np.exp(1j * theta))
    spec = diagonalize_unitary(u)
    assert spec.splitting(0, 3) == pytest.approx(2 * np.pi - 6.2, abs=1e-14)
    assert spec.splitting(1, 2) == pytest.approx(1.5, abs=1e-14)
    gaps = spec.level_spacings()
    assert gaps.shape == (4,) and gaps[-1] == pytest.approx(2 * np.pi - 6.2, abs=1e-14)
    h = diagonalize_hermitian(np.diag(theta).astype(complex))
    assert h.splitting(0, 3) == pytest.approx(6.2, abs=1e-14)
    assert h.level_spacings().shape == (3,)
