"""The random-circuit Floquet MBL model (conventions, section 1; Morningstar et al., PRB 105,
174205).

Conventions
-----------
* ``L`` spins-1/2 on an open chain, sites ``1..L``; the bath couples to site ``L``.
* Computational basis ``|s_1 ... s_L>`` with ``s_i = 0`` meaning ``Z_i = +1`` and ``s_i = 1``
  meaning ``Z_i = -1``.  Basis index ``n = sum_i s_i 2**(L - i)``: site 1 is the most significant
  bit, site ``L`` the least significant one.
* One period ``U_F = W_even @ W_odd @ D`` (``D`` acts first) for ``layer_order="odd_first"``
  (the default); ``layer_order="even_first"`` gives ``U_F = W_odd @ W_even @ D``.
* ``D = prod_i diag(exp(i phi_i0), exp(i phi_i1))`` where ``(phi_i0, phi_i1)`` are the two
  eigenphases of an independent Haar-random (CUE) 2x2 unitary, assigned to ``|0>, |1>`` in a
  random order.
* Bond gates ``G_b = exp(-i H_b / alpha)`` with ``H_b`` an independent 4x4 GUE matrix of density
  proportional to ``exp(-tr H**2 / gue_scale**2)``: diagonal entries real ``N(0, gue_scale**2/2)``,
  off-diagonal entries complex with ``E|H_jk|**2 = gue_scale**2 / 2``.  The gate acts on
  ``|s_b s_{b+1}>`` with index ``2 s_b + s_{b+1}``.

Randomness
----------
Every sample's disorder is a pure function of ``(seed, L, alpha, sample)``: the generator is
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(L, alpha_key(alpha), sample)))`` and the
draws are taken in this fixed order (all at once, as arrays):

1. ``standard_normal((L, 2, 2, 2))`` -- real and imaginary parts of ``L`` complex Ginibre 2x2
   matrices whose QR factor (phases fixed by ``diag(R)``) is the CUE one-site unitary;
2. ``integers(0, 2, size=L)`` -- whether the two eigenphases are swapped before they are given to
   ``|0>, |1>``;
3. ``standard_normal((L - 1, 2, 4, 4))`` -- the Ginibre matrices whose Hermitian parts are the bond
   GUE matrices, bond ``b = 1..L-1`` in order.

The convention knobs (``gue_scale``, ``layer_order``) do not change the draws, only what is made
of them, so the same sample index is the same disorder realisation under any knob setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..backend import array_module, column_blocks, run_blocks
from ..errors import InputError, InputTypeError
from ..resources import check_matrix_memory
from .protocol import (
    DEFAULT_SEED,
    Kind,
    Model,
    Parameter,
    check_L,
    check_number,
    check_sample,
    check_seed,
    float_key,
)

__all__ = [
    "ALPHA_MIN",
    "CIRCUIT_COLUMNS",
    "DEFAULT_SEED",
    "Disorder",
    "FloquetModel",
    "LayerOrder",
    "alpha_key",
    "apply_two_site_gate",
    "check_L",
    "check_alpha",
    "check_sample",
    "diagonal_phases",
    "draw_disorder",
    "gate_from_hamiltonian",
    "sample_seed_sequence",
]

LayerOrder = Literal["odd_first", "even_first"]

#: Smallest allowed ``alpha / gue_scale``.  A bond gate is ``exp(-i gue_scale H / alpha)`` with
#: the eigenvalues of ``H`` of order 1 (``|w| < 5``), computed to an absolute rounding error of
#: about ``1e-16``; its phases carry ``1e-16 * gue_scale / alpha`` of that error, which at
#: ``alpha / gue_scale = 1e-6`` is ``1e-10`` and grows without bound below (``alpha = 1e-300``
#: gives phases that are pure rounding noise, different on every machine).  Nothing physical is
#: lost: the gates are already Haar-like (deep thermal) once ``alpha`` is well below 1.
ALPHA_MIN = 1e-6


def alpha_key(alpha: float) -> int:
    """The integer that stands for ``alpha`` in a sample's seed: the IEEE-754 bits of float64."""
    return float_key(alpha)


def sample_seed_sequence(seed: int, L: int, alpha: float, sample: int) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of one disorder sample (see module docstring)."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(L), alpha_key(alpha), int(sample)))


@dataclass(frozen=True)
class Disorder:
    """The random numbers of one sample: one-site phases and bond Hamiltonians.

    Attributes
    ----------
    phases : ndarray, shape (L, 2)
        ``phases[i-1, s]`` is the phase ``phi_{i s}`` given to ``|s>`` on site ``i``.
    bond_hamiltonians : ndarray, shape (L-1, 4, 4)
        GUE matrices (at ``gue_scale = 1``) of bonds ``(1,2), (2,3), ...``.
    """

    phases: np.ndarray
    bond_hamiltonians: np.ndarray


def draw_disorder(rng: np.random.Generator, L: int) -> Disorder:
    """Draw the disorder of one sample from ``rng`` in the documented order."""
    g1 = rng.standard_normal((L, 2, 2, 2))
    swap = rng.integers(0, 2, size=L)
    g4 = rng.standard_normal((L - 1, 2, 4, 4))

    # CUE(2) by QR of complex Ginibre matrices with the phase fix of Mezzadri (2007).
    z = (g1[:, 0] + 1j * g1[:, 1]) / np.sqrt(2.0)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=1, axis2=2)
    q = q * (d / np.abs(d))[:, None, :]
    eig = np.linalg.eigvals(q)
    order = np.argsort(np.angle(eig), axis=1)  # deterministic order before the random swap
    phases = np.take_along_axis(np.angle(eig), order, axis=1)
    phases = np.where(swap[:, None] == 1, phases[:, ::-1], phases)

    # GUE with density exp(-tr H^2): H = (G + G^dagger)/2, G entries with Re, Im ~ N(0, 1/2).
    g = (g4[:, 0] + 1j * g4[:, 1]) / np.sqrt(2.0)
    h = 0.5 * (g + np.conj(np.swapaxes(g, 1, 2)))
    return Disorder(phases=phases, bond_hamiltonians=h)


def gate_from_hamiltonian(h: np.ndarray, alpha: float, gue_scale: float = 1.0) -> np.ndarray:
    """``exp(-i gue_scale * h / alpha)`` for a Hermitian ``h`` (or a stack of them)."""
    w, v = np.linalg.eigh(h)
    ph = np.exp(-1j * gue_scale * w / alpha)
    return (v * ph[..., None, :]) @ np.conj(np.swapaxes(v, -1, -2))


def apply_two_site_gate(m: np.ndarray, gate: np.ndarray, L: int, site: int) -> np.ndarray:
    """Left-multiply ``m`` (shape ``(2**L, K)``) by ``gate`` acting on sites ``site, site+1``.

    Sites are 1-based; site 1 is the most significant bit.  Returns a new array.  ``m`` and
    ``gate`` may live on a device (CuPy arrays): the product is that of their array module.
    """
    xp = array_module(m)
    n_left = 2 ** (site - 1)
    k = m.shape[1]
    m3 = m.reshape(n_left, 4, (2 ** (L - site - 1)) * k)
    return xp.matmul(gate, m3).reshape(2**L, k)


#: Columns per block when the gate circuit acts on many vectors on the CPU (:meth:`FloquetModel.
#: circuit`, and the build of ``U_F``): a block of ``N x 32`` passes through every gate while it
#: is in cache, instead of ``2 (L - 1)`` passes over all ``N x N`` elements; with several BLAS
#: threads the blocks share the cores (:func:`~mbl_avalanche.backend.run_blocks`).  Measured by
#: ``benchmarks/floquet_circuit.py``.
CIRCUIT_COLUMNS = 32


def _gates_on(y: Any, gates: Any, bonds: list[int], L: int) -> Any:
    """``y`` (shape ``(2**L, K)``) left-multiplied by the bond gates in the order ``bonds``."""
    for b in bonds:
        y = apply_two_site_gate(y, gates[b - 1], L, b)
    return y


def diagonal_phases(phases: np.ndarray) -> np.ndarray:
    """Diagonal of ``D`` (length ``2**L``) from one-site phases ``phases[i-1, s]``."""
    L = phases.shape[0]
    diag = np.ones(1, dtype=complex)
    for i in range(L):
        diag = np.kron(diag, np.exp(1j * phases[i]))
    return diag.reshape(2**L)


@dataclass(frozen=True)
class FloquetModel(Model):
    """The random-circuit Floquet model at one ``(L, alpha)`` (model family ``"floquet"``).

    Parameters
    ----------
    L : int
        Number of spins (``>= 2``).
    alpha : float
        Disorder parameter, a finite number with ``alpha / gue_scale >= ALPHA_MIN = 1e-6`` (below
        that the gate phases are rounding noise); ``alpha = 1`` is thermal, ``alpha = 30`` MBL
        near the avalanche instability.
    seed : int
        Root seed (an integer ``0 <= seed <= 2**63 - 1``; ``1.5`` raises
        :class:`~mbl_avalanche.errors.InputTypeError`); sample ``k`` is a pure function of
        ``(seed, L, alpha, k)``.
    gue_scale : float
        Scale of the bond GUE matrices (density ``exp(-tr H^2 / gue_scale^2)``, a finite number
        ``> 0``); default 1.

    Every argument is validated here (the ensemble configuration and the command line build the
    model to validate theirs); building the dense ``U_F`` first checks that one ``2**L x 2**L``
    complex matrix fits in the available memory.
    layer_order : {"odd_first", "even_first"}
        Which bond layer acts right after ``D``; default ``"odd_first"``
        (``U_F = W_even W_odd D``).

    Examples
    --------
    >>> U = FloquetModel(L=6, alpha=30).unitary(sample=7)
    >>> U.shape
    (64, 64)
    """

    family: ClassVar[str] = "floquet"
    kind: ClassVar[Kind] = "unitary"
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "alpha",
            "disorder parameter: bond gates exp(-i H/alpha)",
            minimum=0.0,
            minimum_open=True,
        ),
    )
    scan_parameter: ClassVar[str] = "alpha"
    regimes: ClassVar[tuple[float, float] | None] = (2.0, 10.0)
    knobs: ClassVar[tuple[str, ...]] = ("gue_scale", "layer_order")

    L: int
    alpha: float
    seed: int = DEFAULT_SEED
    gue_scale: float = 1.0
    layer_order: LayerOrder = "odd_first"

    def __post_init__(self) -> None:
        # the same validators as the ensemble configuration and the command line
        object.__setattr__(self, "L", check_L(self.L))
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        g = check_number("gue_scale", self.gue_scale, minimum=0.0, minimum_open=True)
        object.__setattr__(self, "gue_scale", g)
        if not isinstance(self.layer_order, str):
            raise InputTypeError(
                f"layer_order={self.layer_order!r} is not allowed: use 'odd_first' or 'even_first'"
            )
        if self.layer_order not in ("odd_first", "even_first"):
            raise InputError(
                f"layer_order={self.layer_order!r} is not allowed: use 'odd_first' or 'even_first'"
            )
        object.__setattr__(self, "seed", check_seed(self.seed))
        if self.alpha < ALPHA_MIN * g:
            scale = "" if g == 1.0 else f" (here gue_scale={g:g})"
            raise InputError(
                f"alpha={self.alpha!r} is not allowed: alpha/gue_scale must be >= {ALPHA_MIN:g}"
                f"{scale}; below that the bond-gate phases gue_scale*H/alpha are rounding noise"
            )

    def seed_sequence(self, sample: int) -> np.random.SeedSequence:
        """``SeedSequence(seed, spawn_key=(L, float64 bits of alpha, sample))`` (see the module
        docstring): the disorder differs between alphas."""
        return sample_seed_sequence(self.seed, self.L, self.alpha, check_sample(sample))

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The one-site phases and bond Hamiltonians of one sample (:func:`draw_disorder`)."""
        dis = draw_disorder(rng, self.L)
        return {"phases": dis.phases, "bond_hamiltonians": dis.bond_hamiltonians}

    def build(self, draws: Mapping[str, np.ndarray]) -> np.ndarray:
        """``U_F`` from the draws of one sample (see :meth:`unitary`)."""
        return self._unitary_from(draws["phases"], self._gates_from(draws["bond_hamiltonians"]))

    def operator(self, sample: int) -> np.ndarray:
        """``U_F`` of sample ``sample`` (:meth:`unitary`)."""
        return self.unitary(sample)

    def disorder(self, sample: int) -> Disorder:
        """The disorder realisation of sample ``sample``."""
        return draw_disorder(self.rng(sample), self.L)

    def gates(self, sample: int) -> tuple[np.ndarray, np.ndarray]:
        """One-site phases ``(L, 2)`` and bond gates ``(L-1, 4, 4)`` of sample ``sample``."""
        dis = self.disorder(sample)
        return dis.phases, self._gates_from(dis.bond_hamiltonians)

    def _gates_from(self, bond_hamiltonians: np.ndarray) -> np.ndarray:
        return gate_from_hamiltonian(bond_hamiltonians, self.alpha, self.gue_scale)

    def layers(self) -> tuple[list[int], list[int]]:
        """Bonds (left sites) of the first and the second layer applied after ``D``."""
        odd = list(range(1, self.L, 2))
        even = list(range(2, self.L, 2))
        return (odd, even) if self.layer_order == "odd_first" else (even, odd)

    def unitary(self, sample: int) -> np.ndarray:
        """The Floquet unitary ``U_F`` of sample ``sample`` as a dense ``(2**L, 2**L)`` array.

        Built by applying the two-site gates to the dense matrix ``D`` (cost ``O(L 4**L)`` per
        layer), :data:`CIRCUIT_COLUMNS` columns at a time (each block passes through every gate
        while it is in cache), never by forming Kronecker products.
        """
        return self._unitary_from(*self.gates(sample))

    def _bonds(self) -> list[int]:
        """Bonds (left sites) in the order their gates act after ``D``."""
        return [b for layer in self.layers() for b in layer]

    def _unitary_from(self, phases: np.ndarray, gates: np.ndarray) -> np.ndarray:
        check_matrix_memory(self.L, "the Floquet unitary")
        d = diagonal_phases(phases)
        n = d.shape[0]
        bonds = self._bonds()
        u = np.empty((n, n), dtype=np.complex128)

        def block(j: slice) -> None:  # a column block of D, then every gate
            blk = np.zeros((n, j.stop - j.start), dtype=np.complex128)
            blk[np.arange(j.start, j.stop), np.arange(j.stop - j.start)] = d[j]
            u[:, j] = _gates_on(blk, gates, bonds, self.L)

        run_blocks(block, column_blocks(n, CIRCUIT_COLUMNS))
        return u

    def circuit(self, sample: int, xp: Any = np) -> Callable[[Any], Any]:
        """``X -> U_F @ X`` by the gate circuit of sample ``sample`` (``O(L N K)`` for ``N x K``).

        The same gates in the same order as :meth:`unitary`, applied to a block of vectors
        instead of a dense product with ``U_F`` (used by the fast eigensolver and the
        certificate).  ``xp``: the array module of the blocks it is given (``cupy``: the
        phases and gates are copied to the device once and every product runs there).
        """
        phases, gates_host = self.gates(sample)
        d = xp.asarray(diagonal_phases(phases)[:, None])
        gates = xp.asarray(gates_host)
        bonds = self._bonds()
        L = self.L

        def block(x: Any) -> Any:
            y = xp.multiply(d, x)
            if xp is np:
                y = np.ascontiguousarray(y)
            return _gates_on(y, gates, bonds, L)

        def apply(x: Any) -> Any:
            if xp is not np or x.ndim != 2 or x.shape[1] <= CIRCUIT_COLUMNS:
                return block(x)
            # Fortran order: the eigensolver's refinement reads and writes whole columns
            out = np.empty(x.shape, dtype=np.result_type(x, np.complex128), order="F")

            def one(j: slice) -> None:
                out[:, j] = block(x[:, j])

            run_blocks(one, column_blocks(x.shape[1], CIRCUIT_COLUMNS))
            return out

        return apply

    def unitary_on(self, sample: int, xp: Any = np) -> Any:
        """``U_F`` of sample ``sample`` built where ``xp`` computes (``cupy``: on the GPU).

        The gate circuit applied to the identity (:meth:`circuit`), so on a device only the
        phases and the ``L - 1`` gates cross from the host: ``O(L 4**L)`` device work instead of
        building ``U_F`` on the CPU and copying ``16 * 4**L`` bytes.  Equal to :meth:`unitary`
        to rounding (the same products in the same order, with ``D`` applied to ``1``).
        """
        check_matrix_memory(self.L, "the Floquet unitary")
        return self.circuit(sample, xp)(xp.eye(self.N, dtype=np.complex128))

    def disorder_record(self, sample: int) -> dict[str, Any]:
        """The realisation of sample ``sample``: the one-site phases ``phases[i-1][s]`` and the
        sha256 of the bond gates (``(L-1, 4, 4)`` complex128, C order: what ``U_F`` is made of)."""
        phases, gates = self.gates(sample)
        digest = hashlib.sha256(np.ascontiguousarray(gates, dtype=np.complex128).tobytes())
        return {"phases": phases.tolist(), "gates_sha256": digest.hexdigest()}

    def record_fields(self, sample: int) -> dict[str, Any]:
        """The identity of sample ``sample`` as record columns (``alpha, sample, seed``, the
        convention knobs, the model family and the disorder realisation)."""
        return dict(
            alpha=float(self.alpha),
            sample=int(sample),
            seed=int(self.seed),
            gue_scale=float(self.gue_scale),
            layer_order=self.layer_order,
            model=self.family,
            disorder=json.dumps(self.disorder_record(sample), separators=(",", ":")),
        )


def check_alpha(alpha: object) -> float:
    """Validate a disorder parameter (a finite number ``> 0``; the declared
    :class:`~.protocol.Parameter` of :class:`FloquetModel`, the check of the ensemble
    configuration too).  ``alpha / gue_scale >= ALPHA_MIN`` is checked by the model."""
    return float(FloquetModel.parameters[0].check(alpha))
