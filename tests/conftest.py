"""Shared test fixtures: BLAS threads pinned to 1 (workers x threads <= cores), helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def haar_unitary(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random unitary by QR of a complex Ginibre matrix with the phase fix."""
    z = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r)
    return q * (d / np.abs(d))[None, :]


def planted_unitary(
    n: int, splitting: float, rng: np.random.Generator, center: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """A unitary with Haar eigenvectors and one pair of phases split by ``splitting``.

    Returns ``(U, W, phases, (i, j))`` with ``U = W diag(exp(i phases)) W^dagger``.
    """
    w = haar_unitary(n, rng)
    phases = rng.uniform(-np.pi, np.pi, n)
    phases[0] = center
    phases[1] = center + splitting
    u = (w * np.exp(1j * phases)[None, :]) @ w.conj().T
    return u, w, phases, (0, 1)


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m mbl_avalanche`` subprocesses that use this checkout's package."""
    import mbl_avalanche

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(mbl_avalanche.__file__).resolve().parents[1])
    env["OMP_NUM_THREADS"] = "1"
    return env


def gamma_conditioning(r) -> float:
    """First-order relative sensitivity of ``Gamma`` to the rounding of the eigenvectors.

    ``V`` is fixed by any double-precision method only to ``e_n ~ eps / g_n`` per state (``g_n``
    the distance of ``theta_n`` to its nearest neighbour, conventions, section 4).  A pair's
    rate ``S_mn ~ |A_mn|**2`` then moves by a relative ``~ (e_m + e_n) / sqrt(S_mn)`` (its small
    matrix element shifted by ``e`` times an ``O(1)`` element of a neighbour), and ``Gamma =
    sum D_mn / N`` by the ``D``-weighted mean of that (``c`` enters at second order: ``Gamma``
    is a Rayleigh quotient).  Measured on 34 samples at L = 6..8 with the SkylakeX, Haswell and
    Sandybridge kernels: ``|Gamma_fast - Gamma_schur| / Gamma`` is 0.01-3.9 times this.
    """
    eps = np.finfo(float).eps
    s = r.rate_matrix()
    th = r.theta
    gaps = np.abs(np.angle(np.exp(1j * (th[:, None] - th[None, :]))))
    gaps[np.diag_indices_from(gaps)] = np.inf
    g = gaps.min(axis=1)
    m, n = np.triu_indices(len(th), 1)
    d = s[m, n] * (r.c[m] - r.c[n]) ** 2
    e = eps * (1 / g[m] + 1 / g[n])
    return float(np.sum(d * np.minimum(e / np.sqrt(s[m, n]), 1.0)) / np.sum(d))
