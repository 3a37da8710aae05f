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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.linalg as sla

from .._repr import compact_repr
from ..errors import InputError
from ..resources import check_allocation
from .protocol import Kind, Model, Parameter, check_L

__all__ = ["PlantedModel", "PlantedResonance", "planted_resonance"]


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
    L = check_L(L)
    sites = tuple(sorted(set(int(i) for i in flip_sites)))
    if L < 3 or 1 not in sites or not all(1 <= i <= L for i in sites):
        raise InputError(
            f"flip_sites={list(flip_sites)!r} is not allowed: sites must lie in 1..L={L} and "
            "include site 1"
        )
    # the dressing, D, the basis, V and U: about six 2**L x 2**L complex matrices at the peak
    check_allocation(L, "the planted unitary", 6 * 16 * 4**L, "six 2**L x 2**L complex128 arrays")
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


class PlantedModel(Model):
    """The minimal model as a model family (``"planted"``): one planted resonance per sample.

    Sample ``k`` is :func:`planted_resonance` with ``flip_sites = (1, L - flip_distance)`` drawn
    from the sample's generator: ``flip_distance = 0`` (default) flips the bath site (the Z
    case), ``flip_distance >= 1`` gives the XY case with resonance location
    ``x = L - flip_distance``.  The analysis must recover ``x``, the case, an AB demixing angle
    of ``2 epsilon`` and ``S_AB'/S_A'B = 1`` on every sample (a test model with a known answer).
    """

    family: ClassVar[str] = "planted"
    kind: ClassVar[Kind] = "unitary"
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "epsilon",
            "mixing angle of the planted pair",
            default=1e-3,
            minimum=0.0,
            minimum_open=True,
            maximum=0.7,
        ),
        Parameter(
            "eta",
            "strength of the in-sector dressing",
            default=0.02,
            minimum=0.0,
            minimum_open=True,
        ),
        Parameter(
            "splitting",
            "quasienergy splitting of the planted pair",
            default=1e-3,
            minimum=0.0,
            minimum_open=True,
        ),
        Parameter(
            "flip_distance",
            "distance from the bath site of the flip closest to it (0: the Z case)",
            default=0,
            minimum=0,
            integer=True,
        ),
    )
    scan_parameter: ClassVar[str] = "epsilon"

    epsilon: float
    eta: float
    splitting: float
    flip_distance: int

    def __init__(self, L: int, seed: int | None = None, **params: Any) -> None:
        from .protocol import DEFAULT_SEED

        super().__init__(L, DEFAULT_SEED if seed is None else seed, **params)
        if self.L < 3 or not self.flip_distance <= self.L - 2:
            raise InputError(
                f"flip_distance={self.flip_distance!r} is not allowed for L={self.L}: the planted "
                "model needs L >= 3 and 0 <= flip_distance <= L - 2"
            )

    def planted(self, sample: int) -> PlantedResonance:
        """The planted resonance of sample ``sample`` (with its known answer)."""
        sites = (1, self.L - self.flip_distance)
        return planted_resonance(
            self.L, sites, self.epsilon, self.rng(sample), eta=self.eta, delta=self.splitting
        )

    def operator(self, sample: int) -> np.ndarray:
        """The planted unitary of sample ``sample``."""
        return self.planted(sample).U

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Not used: :func:`planted_resonance` draws from the sample's generator itself."""
        raise NotImplementedError("the planted model builds its samples with planted_resonance")

    def build(self, draws: Mapping[str, np.ndarray]) -> np.ndarray:
        """Not used (see :meth:`operator`)."""
        raise NotImplementedError("the planted model builds its samples with planted_resonance")

    def disorder_record(self, sample: int) -> dict[str, Any]:
        """The planted answer: basis states ``a``, ``b`` of the pair and the flipped sites (the
        dressing and the other quasienergies follow from the seed)."""
        p = self.planted(sample)
        return {"a": p.a, "b": p.b, "flip_sites": list(p.flip_sites)}
