"""The paper's minimal model (Eq. 7, Fig. 3) as a planted unitary with a known answer.

A unitary whose eigenbasis is the Z product basis, dressed weakly inside each sector of fixed
``s_1`` (so the far spin relaxes only through the planted pair), except for a rotation by a small
angle ``epsilon`` between two product states ``a`` and ``b`` that differ on a chosen set of sites
(always including site 1, the spin farthest from the bath)::

    |A> = D (cos eps |a> - sin eps |b>),   |B> = D (sin eps |a> + cos eps |b>)

with ``D = 1_{site 1} (x) exp(i eta K)``, ``K`` a random Hermitian matrix on sites ``2..L``
normalised to unit spectral norm.  ``D`` conserves ``s_1``, so ``<Da|Z_i|Db> = 0`` and the
Z-polarisation demixing of ``{A, B}`` returns ``D|a>, D|b>`` exactly: the AB demixing angle is
``2 eps``.  With ``eta**2 >> eps**2`` every other mode relaxes much faster than the planted one.
Quasienergies are random except ``theta_B - theta_A = delta`` (the near-resonance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .._repr import compact_repr
from ..errors import InputError

__all__ = ["PlantedResonance", "planted_resonance"]


@dataclass(frozen=True)
class PlantedResonance:
    """A planted minimal-model unitary and its known answer.

    Attributes
    ----------
    U : ndarray
        The unitary.
    V : ndarray
        Its eigenvectors (columns), ``U = V diag(exp(i theta)) V^dagger``.
    theta : ndarray
        Its quasienergies (same order as ``V``'s columns, not sorted).
    a, b : int
        Basis indices of the planted product states.
    flip_sites : tuple[int, ...]
        Sites (1-based) where ``a`` and ``b`` differ.
    epsilon : float
        Planted mixing angle; the AB demixing angle is ``2 epsilon``.
    """

    U: np.ndarray
    V: np.ndarray
    theta: np.ndarray
    a: int
    b: int
    flip_sites: tuple[int, ...]
    epsilon: float

    __repr__ = compact_repr

    @property
    def x(self) -> int:
        """Resonance location: the flipped site closest to the bath."""
        return max(self.flip_sites)

    @property
    def case(self) -> str:
        """``"Z"`` if the resonance flips site ``L``, else ``"XY"``."""
        L = int(self.U.shape[0]).bit_length() - 1
        return "Z" if self.x == L else "XY"


def planted_resonance(
    L: int,
    flip_sites: tuple[int, ...] | list[int],
    epsilon: float,
    rng: np.random.Generator,
    *,
    eta: float = 0.02,
    delta: float = 1e-3,
) -> PlantedResonance:
    """Build the planted minimal model (see module docstring).

    Parameters
    ----------
    L : int
        Chain length (``>= 3``).
    flip_sites : sequence of int
        Sites (1-based) where ``a`` and ``b`` differ; must contain 1.
    epsilon : float
        Mixing angle of the planted resonance (``0 < epsilon << eta``).
    rng : numpy.random.Generator
        Source of the dressing, the product state ``a`` and the quasienergies.
    eta : float
        Strength of the in-sector dressing.
    delta : float
        Quasienergy splitting of the planted pair.
    """
    sites = tuple(sorted(set(int(i) for i in flip_sites)))
    if L < 3 or 1 not in sites or not all(1 <= i <= L for i in sites):
        raise InputError(
            f"flip_sites={list(flip_sites)!r} is not allowed: sites must lie in 1..L={L} and "
            "include site 1"
        )
    n = 2**L
    a = int(rng.integers(0, n))
    mask = sum(1 << (L - i) for i in sites)
    b = a ^ mask
    m = n // 2
    k = rng.standard_normal((m, m)) + 1j * rng.standard_normal((m, m))
    k = 0.5 * (k + k.conj().T)
    k /= np.linalg.norm(k, 2)
    dress = sla.expm(1j * eta * k)
    d = np.kron(np.eye(2), dress)  # identity on site 1 (most significant bit)
    basis = np.eye(n, dtype=complex)
    ce, se = np.cos(epsilon), np.sin(epsilon)
    basis[:, a] = 0
    basis[:, b] = 0
    basis[a, a], basis[b, a] = ce, -se
    basis[a, b], basis[b, b] = se, ce
    v = d @ basis
    theta = rng.uniform(-np.pi, np.pi, n)
    theta[a] = 0.5
    theta[b] = 0.5 + delta
    u = (v * np.exp(1j * theta)[None, :]) @ v.conj().T
    return PlantedResonance(U=u, V=v, theta=theta, a=a, b=b, flip_sites=sites, epsilon=epsilon)
