"""Exact open-system dynamics at finite bath coupling: the channel of Eq. (1), rho(t) of Eq. (2),
and the Lindblad evolution of a Hamiltonian with the same bath.

The weak-coupling slowest mode of :mod:`mbl_avalanche.bath` is the ``gamma -> 0`` limit of the real
open-system dynamics.  This module computes that dynamics exactly, for ``L <= 6``, at any
``gamma > 0``, so the limit can be checked on any sample: for a Floquet unitary (the one-period
channel, :class:`Channel`) and for a Hamiltonian (the Lindblad generator, :class:`Lindbladian`).

Conventions
-----------
* Computational basis of the conventions, section 1: site 1 the most significant bit of the
  basis index, site ``L`` (the bath site) the least significant.  ``s_i = 0`` means ``Z_i = +1``.
* One period (paper Eq. 1): ``S_period[rho] = S_bath[U rho U^dagger]`` with

      S_bath[rho] = rho / (1 + 3 gamma) + gamma / (1 + 3 gamma) sum_j E_j rho E_j^dagger,

  ``E = (X_L, Y_L, Z_L)``.  With the single-qubit identity ``sum_j E_j rho E_j = 2 Tr_L(rho) x 1_L
  - rho`` this is ``S_bath = a + b Pi`` with ``a = (1 - gamma)/(1 + 3 gamma)``, ``b = 4 gamma /
  (1 + 3 gamma)`` and ``Pi[rho] = Tr_L(rho) x 1_L / 2`` the Hilbert-Schmidt orthogonal projector
  on operators that are the identity at site ``L``.  ``Tr_L`` is a reshape of ``rho`` to
  ``(N/2, 2, N/2, 2)``: no site operator and no ``16**L`` superoperator is ever formed.
* In the eigenbasis of ``U`` (``U|n> = exp(i theta_n)|n>``, orthonormal eigenvectors from
  :func:`mbl_avalanche.spectrum.diagonalize_unitary`, the weak-coupling slowest mode from
  :mod:`mbl_avalanche.bath`: :func:`weak_coupling`) an operator ``x = V^dagger rho V`` evolves as
  ``x -> (a + b Pi~)[phi o x]`` with ``phi_mn = exp(i(theta_m - theta_n))`` (element-wise).
* Superoperator vectors are row-major flattenings of the ``N x N`` matrix:
  ``vec(x)[m N + n] = x[m, n]``.
* Eq. (2): ``rho(t) = 1/2**L + sum_k p_k exp(-r_k t) tau_k`` with ``exp(-r_k)`` the eigenvalues of
  ``S_period``; ``t`` counts periods.

Which eigenvalue is ``r_1``
---------------------------
The paper defines ``tau_S = tau_1`` as the eigenoperator of the largest eigenvalue other than 1 and
``r_S = Re(r_1)``.  Near ``gamma = 0`` *every* eigenvalue is close to the unit circle: the
coherences ``|m><n|`` have eigenvalues ``exp(i(theta_m - theta_n)) (1 - O(gamma))`` and decay at
``2 gamma .. 4 gamma`` (first order, for splittings ``|theta_m - theta_n| >> gamma``; ``4 gamma
(1 - <Pi>)`` with ``<Pi> <= 1/2`` for a single ``|m><n|``), while the populations ``|n><n|``
relax at ``3 gamma Gamma_k``.  A Krylov method with "largest magnitude" cannot separate them
(the spectrum lies in an annulus of width ``4 gamma``).
We therefore use **shift-invert** around ``sigma = 1 + gamma`` (just outside the unit disc): the
eigenvalues nearest ``sigma`` are the population (relaxation) modes, ``|lambda - sigma| ~ gamma (1 +
3 Gamma_k)``, while a coherence sits at ``|lambda - sigma| >~ |theta_m - theta_n|``.  Each
returned eigenoperator ``x`` is classified by its *population weight* ``sum_n |x_nn|**2 /
sum_mn |x_mn|**2`` in the eigenbasis of ``U``; ``r_1`` is the slowest mode with population weight
above 1/2 (its eigenvalue is real: the channel preserves hermiticity and the first-order
population eigenvalues are real and simple).  Its overlap with the weak-coupling ``tau_S`` is
reported.  When ``Gamma < 2/3`` (every MBL-like sample; a sufficient condition) this population
mode is also the slowest mode of all, i.e. the paper's ``tau_1``; :meth:`Channel.eigenvalues`
(dense, ``L <= 5``) lets one check that on a sample, and the tests do (also on thermal samples).

How fast the limit is reached
-----------------------------
Second-order perturbation theory in ``gamma`` gives ``r_1 = 3 gamma Gamma (1 - gamma) +
O(gamma**3 / delta)``: the population mode couples to the coherences ``|m><n|`` through ``b Pi``,
and ``Re[phi/(1 - phi)] = -1/2`` for every phase ``phi = exp(i delta)``, so the second-order shift
``-6 gamma**2 Gamma (1 - 3 Gamma / 4)`` is a sum rule that combines with ``1/(1 + 3 gamma)`` and
the logarithm to exactly ``-gamma``.  Hence ``(r_1/(3 gamma) - Gamma)/(Gamma gamma) -> -1`` for
every sample; the next order carries the small splittings ``delta = theta_m - theta_n``, so the
linear regime starts once ``gamma << delta`` (:func:`gamma_sweep` shows it; the tests check it).

The shift-invert solve ``(S~ - sigma)^{-1}`` is exact and cheap: ``S~ - sigma = A + b Q Q^dagger
phi`` with ``A = a phi - sigma`` diagonal and ``Q`` the ``4**L x 4**(L-1)`` isometry ``k ->
V^dagger (k x 1_L) V / sqrt 2`` (so ``Pi~ = Q Q^dagger``), so the Woodbury identity needs one LU of
the ``4**(L-1)`` capacitance matrix ``1/b + Q^dagger (phi / A) Q`` (16 MiB at ``L = 6``), built
from ``N x N`` products without forming ``Q``.  The steady state (the identity, both a left and a
right eigenvector: the channel is unital and trace preserving) is projected out.  The rate is
taken as ``r = -log(1 + d)`` from ``d = lambda - 1 = eta + 1/mu`` (``sigma = 1 + eta``, ``eta =
gamma`` by default; ``mu`` the shift-inverted eigenvalue) and ``A`` is formed as ``-(eta + b + a (1
- phi))`` from small quantities, so ``r`` keeps its relative precision down to ``gamma = 1e-8``.

Memory: the dense ``4**L x 4**L`` channel (only for the spectral decomposition of ``rho(t)`` and for
checks) is 16 MiB at ``L = 5`` and 256 MiB at ``L = 6``; its eigendecomposition takes seconds at
``L = 5`` and minutes at ``L = 6``, so at ``L = 6`` ``rho(t)`` is computed by exact stepping.

Hamiltonians: the Lindblad generator
------------------------------------
For a Hamiltonian (conventions, section 1b) the same bath acts continuously:
``d rho/dt = L[rho]`` with jump operators ``sqrt(gamma) E_j``,

    L[rho] = -i [H, rho] + gamma sum_j (E_j rho E_j - rho) = -i [H, rho] + 4 gamma (Pi - 1)[rho]

(``E_j`` Hermitian, ``E_j**2 = 1``; the identity above), with the same projector ``Pi``
(:class:`Lindbladian`).  In the eigenbasis of ``H`` (energies ``E_n`` ascending, orthonormal
eigenvectors from :func:`mbl_avalanche.spectrum.diagonalize_hermitian`:
:func:`weak_coupling_hamiltonian`) ``L~[x] = -i omega o x + 4 gamma (Pi~ - 1)[x]`` with
``omega_mn = E_m - E_n``: the coherence ``|m><n|`` oscillates at ``E_m - E_n``.  ``t`` is in units
of ``1/J``, the inverse of the unit of ``H``, and ``rho(t) = 1/2**L + sum_k p_k exp(-r_k t)
tau_k`` with ``-r_k`` the eigenvalues of ``L``.  In the secular limit (``gamma`` far below the
level spacings) the populations obey ``dp/dt = 3 gamma (S - 1) p`` with the ``S`` of Eq. (3)
(``sum_j |<m|E_j|n>|**2 = 3 S_mn``), so ``r_1 -> 3 gamma Gamma``, and the coherences decay at
``4 gamma (1 - <Pi>) >= 2 gamma``: for ``Gamma < 2/3`` the population mode is again the slowest of
all.

The slow modes come from shift-invert Arnoldi around the small positive shift ``sigma = eta``
(``eta = gamma`` by default): ``L~ - sigma = A + 4 gamma Q Q^dagger`` with ``A = -(eta + 4 gamma +
i omega)`` diagonal and formed exactly, so the Woodbury solve needs the LU of ``1/(4 gamma) +
Q^dagger A^{-1} Q``; the rate is ``r = -(eta + 1/mu)``.  Populations vs coherences are told apart
by the population weight, as for the channel.

How fast the limit is reached for a Hamiltonian
-----------------------------------------------
Write ``L~ = L0 + gamma D`` with ``L0 = -i omega o`` anti-Hermitian and ``D = 4 (Pi~ - 1)``
Hermitian (Hilbert-Schmidt inner product).  Then ``L(gamma)^dagger = -L(-gamma)``, so the spectrum
at ``-gamma`` is minus the complex conjugate of the spectrum at ``gamma``; the simple, real
population eigenvalue is therefore an **odd** function of ``gamma`` and
``r_1/(3 gamma) = Gamma (1 + kappa gamma**2 + O(gamma**4))``: there is no correction linear in
``gamma`` (the channel's ``1/(1 + 3 gamma)`` breaks this symmetry and gives ``-gamma``), and the
log-log slope of the relative error is 2, not 1.

Degenerate perturbation theory on the ``N``-fold kernel of ``L0`` (the populations; ``P`` its
projector, ``Q = 1 - P``, ``L0^{-1}`` on a coherence is ``1/(-i omega_mn)``) gives the
coefficient.  At second order the population block ``-P D Q L0^{-1} Q D P gamma**2`` pairs the
``(m, n)`` and ``(n, m)`` terms: ``L0^{-1}`` is odd and imaginary and ``Pi~`` preserves
hermiticity, so the block is real *antisymmetric* and its expectation in the slowest mode
vanishes (the Floquet analogue, ``Re[phi/(1 - phi)] = -1/2``, does not).  The first shift is the
third order, ``r_1 = 3 gamma Gamma - mu_3 gamma**3 + O(gamma**5)``, ``kappa = -mu_3 / (3 Gamma)``:

    mu_3 = (4 - 3 Gamma) ||y||**2 - 4 ||Pi~ y||**2
           - sum_{k != 1} (c_k . w)**2 / (3 (Gamma_k - Gamma))

with ``c`` the slowest mode normalised to ``sum c_n**2 = 1``, ``b = 4 Pi~[diag c]`` off the
diagonal (the coherences the bath feeds from ``tau_S``), ``y_mn = i b_mn / omega_mn``, ``w_n = -4
Re (Pi~ y)_nn`` and ``(c_k, Gamma_k)`` the other modes of ``S``.  The first term is the decay
(at ``4 gamma``) of the admixed coherences and the renormalisation by the eigenvalue itself, the
second their feedback through ``Pi~``, the third the mixing of the slowest mode with the other
population modes by the antisymmetric block (it vanishes for a real ``H``, such as the XXZ chain:
``y`` is then imaginary and ``w = 0``).  :meth:`Lindbladian.weak_coupling_correction` evaluates it.

Its size is set by the level spacings, not by ``Gamma``: the Pauli-weight identity gives
``||b||**2 <= 16 ||(1 - Pi~) diag c||**2 = 12 Gamma``, so the first two terms give
``|kappa| <= (4/3) ||y||**2 / Gamma <= 16 / delta_min**2``, with ``delta_min`` the smallest
``|E_m - E_n|`` among the coherences with ``b_mn != 0``; in words ``kappa ~ 1/delta_eff**2`` with
``delta_eff**2 = ||b||**2 / ||y||**2`` the ``|b|**2``-weighted harmonic mean of ``omega**2``.  The
mixing term adds ``1/(Gamma_2 - Gamma)``: the expansion needs ``gamma << delta_min`` and ``gamma
<< delta (Gamma_2 - Gamma)``.  For the XXZ chain ``Pi`` commutes with the total magnetisation
(``Tr_L(rho) x 1_L`` of an operator that commutes with ``S^z`` does too), so ``b`` lives inside the
``S^z`` sectors and only intra-sector splittings enter; near-degeneracies between sectors do not.

Time evolution for a Hamiltonian: ``"spectral"`` (Eq. 2 from the dense ``4**L x 4**L``
generator; the default for ``L <= 5``, seconds; at ``L = 6`` about 4 minutes on one core and
0.9 GiB, on request) or ``"step"`` (the default at ``L = 6``): ``exp(h L)`` applied as its
degree-``m`` Taylor polynomial with ``h ||L|| <= 2`` and ``m`` chosen so that the rigorous tail
bound ``sum_{k>m} (h ||L||)**k / k!`` is below one rounding unit, using the exact bound ``||L||_2
<= E_max - E_min + 4 gamma``.  The semigroup is a contraction in the Hilbert-Schmidt norm (``Re
<x, L x> = -4 gamma ||(1 - Pi) x||**2 <= 0``), so nothing but rounding (``~ steps x eps``)
separates the result from ``exp(t L)``; the trace (exactly 0 for ``rho - 1/2**L``) is projected
out after each step.  The cost is ``~ 12 ||L|| t`` applications of ``L`` (two ``N x N`` products
each, about 150 us at ``L = 6``); it is deterministic, unlike
:func:`scipy.sparse.linalg.expm_multiply` on a linear operator (randomised norm and trace
estimates), and needs no norm estimate at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from . import bath, spectrum
from ._repr import compact_repr
from .basis import z_signs
from .errors import InputError
from .models.custom import check_hermitian, check_unitary
from .models.protocol import check_integer, check_number

__all__ = [
    "DEFAULT_SWEEP_GAMMAS",
    "DEFAULT_SWEEP_GAMMAS_HAMILTONIAN",
    "MAX_L",
    "MAX_MODES",
    "MAX_TIMES",
    "SPECTRAL_MAX_L",
    "STEP_MAX_MATVECS",
    "Channel",
    "DynamicsResult",
    "LindbladCorrection",
    "Lindbladian",
    "SlowModes",
    "Sweep",
    "SweepRow",
    "Trajectory",
    "WeakCoupling",
    "WeakCouplingLimit",
    "apply_bath",
    "apply_dissipator",
    "bath_coefficients",
    "check_dynamics_L",
    "check_gamma",
    "embed_identity_last",
    "evolve",
    "gamma_sweep",
    "initial_state",
    "late_decay_rate",
    "partial_trace_last",
    "pauli_sum_last",
    "run_dynamics",
    "time_grid",
    "weak_coupling",
    "weak_coupling_hamiltonian",
]

#: Largest chain length accepted (the capacitance matrix is ``4**(L-1)`` squared).
MAX_L = 6
#: Largest chain length for which the dense channel is built by default (spectral ``rho(t)``).
SPECTRAL_MAX_L = 5
#: Default coupling values of :func:`gamma_sweep` (one per decade).
DEFAULT_SWEEP_GAMMAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
#: Default couplings of :func:`gamma_sweep` for a Hamiltonian: the relative error is ``kappa
#: gamma**2``, which falls below the ``~1e-12`` precision of ``r_1`` under ``gamma ~ 1e-5``.
DEFAULT_SWEEP_GAMMAS_HAMILTONIAN = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4)
#: Most applications of the Lindblad generator :func:`run_dynamics` lets the ``"step"`` method
#: spend (about the cost of the channel's limit of ``2e6`` periods).
STEP_MAX_MATVECS = 2_000_000

#: Most time points of ``rho(t)`` (``n_times``, ``--times``).
MAX_TIMES = 10**5

#: Most slow modes (``k``, ``--modes``; the automatic doubling of the slow-mode solver stops there).
MAX_MODES = 32

Method = Literal["auto", "spectral", "step"]
Kind = Literal["unitary", "hamiltonian"]

#: Step size of the Taylor stepper: ``h ||L|| <= _TAYLOR_THETA``.
_TAYLOR_THETA = 2.0
_UNIT_ROUNDOFF = 2.0**-53


# --- input checks ---------------------------------------------------------------------------------


def check_gamma(gamma: object) -> float:
    """Validate a bath coupling (a finite number ``> 0``)."""
    return check_number("gamma", gamma, minimum=0.0, minimum_open=True)


def check_dynamics_L(L: object) -> int:
    """Validate a chain length for the exact dynamics (an integer, ``2 <= L <= MAX_L``)."""
    if isinstance(L, bool) or not isinstance(L, int | np.integer) or not 2 <= int(L) <= MAX_L:
        raise InputError(
            f"L={L!r} is not allowed for the exact dynamics: L must be an integer with "
            f"2 <= L <= {MAX_L} (the channel acts on 4**L-dimensional operator space)"
        )
    return int(L)


def _check_kind(kind: object) -> Kind:
    if kind == "unitary":
        return "unitary"
    if kind == "hamiltonian":
        return "hamiltonian"
    raise InputError(f"kind={kind!r} is not allowed: use 'unitary' or 'hamiltonian'")


def _precheck_size(m: np.ndarray) -> None:
    """An operator larger than ``2**MAX_L`` is refused for its ``L`` before anything else."""
    if m.ndim == 2 and m.shape[0] == m.shape[1] and m.shape[0] >= 1:
        n0 = int(m.shape[0])
        if n0 > 2**MAX_L:
            check_dynamics_L(n0.bit_length() - 1)


# --- the bath on density matrices -----------------------------------------------------------------


def partial_trace_last(rho: np.ndarray) -> np.ndarray:
    """``Tr_L`` of ``(..., N, N)`` operators: the trace over site ``L`` (least significant bit)."""
    n = rho.shape[-1]
    h = n // 2
    r = rho.reshape(*rho.shape[:-2], h, 2, h, 2)
    return r[..., :, 0, :, 0] + r[..., :, 1, :, 1]


def embed_identity_last(k: np.ndarray) -> np.ndarray:
    """``k x 1_L`` for ``(..., N/2, N/2)`` operators ``k`` (site ``L``: least significant bit)."""
    h = k.shape[-1]
    out = np.zeros((*k.shape[:-2], h, 2, h, 2), dtype=np.result_type(k, np.complex128))
    out[..., :, 0, :, 0] = k
    out[..., :, 1, :, 1] = k
    return out.reshape(*k.shape[:-2], 2 * h, 2 * h)


def pauli_sum_last(rho: np.ndarray) -> np.ndarray:
    """``sum_j E_j rho E_j^dagger`` with ``E = (X_L, Y_L, Z_L)``, as ``2 Tr_L(rho) x 1 - rho``."""
    return 2.0 * embed_identity_last(partial_trace_last(rho)) - rho


def bath_coefficients(gamma: float) -> tuple[float, float]:
    """``(a, b)`` of ``S_bath = a + b Pi``: ``a = (1-g)/(1+3g)``, ``b = 4g/(1+3g) = 1 - a``."""
    return (1.0 - gamma) / (1.0 + 3.0 * gamma), 4.0 * gamma / (1.0 + 3.0 * gamma)


def apply_bath(rho: np.ndarray, gamma: float) -> np.ndarray:
    """``S_bath[rho]`` of Eq. (1) for ``(..., N, N)`` operators (computational basis)."""
    return (rho + gamma * pauli_sum_last(rho)) / (1.0 + 3.0 * gamma)


def apply_dissipator(rho: np.ndarray, gamma: float) -> np.ndarray:
    """The Lindblad dissipator ``gamma sum_j (E_j rho E_j - rho) = 4 gamma (Pi - 1)[rho]`` for
    ``(..., N, N)`` operators (computational basis; conventions, section 1b)."""
    return 2.0 * gamma * (embed_identity_last(partial_trace_last(rho)) - 2.0 * rho)


# --- the weak-coupling limit the dynamics is compared with ----------------------------------------


class WeakCoupling(Protocol):
    """What the channel or the Lindbladian needs of a weak-coupling analysis (a
    :class:`WeakCouplingLimit` or an :class:`mbl_avalanche.analysis.SampleResult`)."""

    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    Gamma: float
    meta: dict[str, Any]


@dataclass
class WeakCouplingLimit:
    """Eigenbasis and slowest mode of ``U`` (or ``H``) in the weak-coupling limit (paper Eqs. 3-5).

    Attributes
    ----------
    theta : ndarray
        Quasienergies (or energies of a Hamiltonian), ascending.
    V : ndarray
        Orthonormal eigenvectors (columns).
    c : ndarray
        Slowest mode, ``sum c**2 = 2**L``.
    Gamma : float
        Its gap from Eq. (5).
    meta : dict
        Record fields of the analysis: ``method``, ``backend``, ``exact_certificate`` and the
        fast solver's ``fast_*`` figures, in the order of :func:`mbl_avalanche.analysis.analyze`.
    kind : str
        ``"unitary"`` or ``"hamiltonian"``.
    """

    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    Gamma: float
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "unitary"

    __repr__ = compact_repr


def weak_coupling(
    op: np.ndarray, method: str = "auto", *, kind: Kind = "unitary"
) -> WeakCouplingLimit:
    """The weak-coupling limit of ``op``: :mod:`~mbl_avalanche.spectrum` then
    :mod:`~mbl_avalanche.bath` (the eigensolver ``method`` as in
    :func:`~mbl_avalanche.spectrum.diagonalize_unitary`; ``kind="hamiltonian"``:
    :func:`weak_coupling_hamiltonian`, ``method`` unused)."""
    if _check_kind(kind) == "hamiltonian":
        return weak_coupling_hamiltonian(op)
    spec = spectrum.diagonalize_unitary(op, method=method)
    return _limit_from(spec, "unitary")


def weak_coupling_hamiltonian(h: np.ndarray) -> WeakCouplingLimit:
    """The weak-coupling limit of a Hamiltonian ``h``: energies and eigenvectors from
    :func:`~mbl_avalanche.spectrum.diagonalize_hermitian`, then :mod:`~mbl_avalanche.bath` (the
    same record fields as :func:`mbl_avalanche.analysis.analyze` with ``kind="hamiltonian"``)."""
    return _limit_from(
        spectrum.diagonalize_hermitian(np.asarray(h, dtype=np.complex128)), "hamiltonian"
    )


def _limit_from(spec: Any, kind: str) -> WeakCouplingLimit:
    modes = bath.slowest_modes(bath.rate_matrix(spec.V))
    solver = spec.record_fields()
    meta = {"method": solver.pop("method"), "backend": "cpu", "exact_certificate": False, **solver}
    return WeakCouplingLimit(
        theta=spec.theta, V=spec.V, c=modes.c, Gamma=modes.Gamma, meta=meta, kind=kind
    )


# --- slow modes and the operator space shared by the channel and the Lindbladian ------------------


@dataclass
class SlowModes:
    """Slowest relaxation modes of ``S_period`` (or of the Lindbladian) from shift-invert Arnoldi.

    Attributes
    ----------
    gamma : float
        Bath coupling.
    eigenvalues : ndarray, complex
        ``lambda_k``, slowest first (ascending ``Re r_k``): ``exp(-r_k)`` for the channel,
        ``-r_k`` for the Lindbladian.
    rates : ndarray, complex
        ``r_k`` (``Re r_k`` is the decay rate per period, or per unit time ``1/J``).
    population_weight : ndarray
        ``sum_n |x_nn|**2 / sum_mn |x_mn|**2`` of each eigenoperator in the eigenbasis.
    tau_overlap : ndarray
        ``|<tau_S, x>| / (||tau_S|| ||x||)`` with the weak-coupling ``tau_S = sum_n c_n |n><n|``.
    residual : ndarray
        ``||S x - lambda x|| / ||x||`` (Frobenius norms; ``L`` for the Lindbladian).
    vectors : ndarray, shape (N, N, k)
        Eigenoperators in the eigenbasis of ``U`` (or ``H``), unit Frobenius norm.
    sigma : float
        The shift.
    index : int
        Position of ``r_1`` (the slowest population mode) in the arrays; -1 if none was found.
    """

    gamma: float
    eigenvalues: np.ndarray
    rates: np.ndarray
    population_weight: np.ndarray
    tau_overlap: np.ndarray
    residual: np.ndarray
    vectors: np.ndarray
    sigma: float
    index: int

    __repr__ = compact_repr

    @property
    def r1(self) -> float:
        """``r_S = Re(r_1)``: decay rate (per period, or per ``1/J``) of the slowest population
        mode."""
        return float(self.rates[self.index].real) if self.index >= 0 else float("nan")

    @property
    def r1_over_3gamma(self) -> float:
        """``r_1 / (3 gamma)``, which tends to ``Gamma`` as ``gamma -> 0``."""
        return self.r1 / (3.0 * self.gamma)

    @property
    def population_rates(self) -> np.ndarray:
        """``Re r_k`` of the population-like modes (weight > 1/2), slowest first."""
        return self.rates.real[self.population_weight > 0.5]


def _capacitance_lu(w: np.ndarray, d: np.ndarray, b: float) -> Any:
    """LU of ``C = 1/b + Q^dagger diag(d) Q`` (``4**(L-1)`` square), from ``N x N`` products.

    ``w[s]`` are the rows of ``V`` with ``s_L = s`` (shape ``(2, N/2, N)``), ``d`` an ``N x N``
    array of diagonal superoperator entries in the eigenbasis.
    """
    n = w.shape[2]
    h = n // 2
    c = np.zeros((h, h, h, h), dtype=np.complex128)  # [k, l, i, j]
    for s1 in range(2):
        w1 = w[s1]
        t = d[:, None, :] * w1.conj()[None, :, :]  # [m, l, n]
        for s0 in range(2):
            w0 = w[s0]
            g = (t @ w0.T).reshape(n, h * h)  # [m, (l, j)] = sum_n d_mn conj(w1_ln) w0_jn
            f = (w1.T[:, :, None] * w0.conj().T[:, None, :]).reshape(n, h * h)  # [m, (k, i)]
            c += (f.T @ g).reshape(h, h, h, h).transpose(0, 2, 1, 3)
    c = 0.5 * c.reshape(h * h, h * h)
    c[np.diag_indices_from(c)] += 1.0 / b
    return sla.lu_factor(c, check_finite=False)


class _EigenbasisOperators:
    """What the channel and the Lindbladian share: the eigenbasis, ``Pi~ = Q Q^dagger`` and the
    shift-invert Arnoldi search for the slow modes."""

    #: ``"unitary"`` or ``"hamiltonian"``.
    kind: ClassVar[str] = "unitary"
    #: Unit of ``t``: ``"periods"`` or ``"1/J"``.
    time_unit: ClassVar[str] = "periods"
    #: Order ``p`` of the first correction: ``(r_1/(3 gamma) - Gamma)/Gamma ~ gamma**p``.
    correction_order: ClassVar[int] = 1

    gamma: float
    result: WeakCoupling
    N: int
    L: int
    theta: np.ndarray
    V: np.ndarray

    def _init_eigenbasis(self, n: int, result: WeakCoupling) -> None:
        rkind = getattr(result, "kind", self.kind)
        if rkind != self.kind:
            raise InputError(
                f"result of kind {rkind!r} is not allowed for a {type(self).__name__}: it needs "
                f"the weak-coupling analysis of a {self.kind}"
            )
        if np.shape(result.V) != (n, n):
            raise InputError(
                f"result with eigenvectors of shape {np.shape(result.V)} is not allowed: need "
                f"{(n, n)}"
            )
        self.result = result
        self.N = n
        self.L = n.bit_length() - 1
        self.theta = result.theta
        self.V = result.V
        # W[s] = V_s: rows of V with s_L = s, shape (2, N/2, N)
        self._W = np.ascontiguousarray(self.V.reshape(n // 2, 2, n).transpose(1, 0, 2))
        self._lu: dict[float, Any] = {}

    # -- basic facts -------------------------------------------------------------------------------
    @property
    def Gamma(self) -> float:
        """Weak-coupling gap ``Gamma`` of Eq. (5) of the same operator."""
        return float(self.result.Gamma)

    @property
    def dim(self) -> int:
        """Dimension ``4**L`` of operator space."""
        return self.N * self.N

    def tau_S(self) -> np.ndarray:
        """Weak-coupling slowest mode ``tau_S = sum_n c_n |n><n|`` (computational basis)."""
        return (self.V * self.result.c[None, :]) @ self.V.conj().T

    def predicted_rel_error(self, gamma: float | None = None) -> float:
        """The leading ``(r_1/(3 gamma) - Gamma)/Gamma`` of perturbation theory."""
        raise NotImplementedError

    # -- application -------------------------------------------------------------------------------
    def apply(self, rho: np.ndarray) -> np.ndarray:
        """The map in the computational basis (``(..., N, N)`` operators)."""
        raise NotImplementedError

    def apply_eigen(self, x: np.ndarray) -> np.ndarray:
        """The map in the eigenbasis (``(..., N, N)`` operators)."""
        raise NotImplementedError

    def to_eigenbasis(self, rho: np.ndarray) -> np.ndarray:
        """``V^dagger rho V``."""
        return self.V.conj().T @ rho @ self.V

    def from_eigenbasis(self, x: np.ndarray) -> np.ndarray:
        """``V x V^dagger``."""
        return self.V @ x @ self.V.conj().T

    def _q_adjoint(self, y: np.ndarray) -> np.ndarray:
        """``Q^dagger y = Tr_L(V y V^dagger) / sqrt 2`` for ``(..., N, N)`` eigenbasis operators."""
        return partial_trace_last(self.V @ y @ self.V.conj().T) / math.sqrt(2.0)

    def _q(self, k: np.ndarray) -> np.ndarray:
        """``Q k = V^dagger (k x 1_L) V / sqrt 2 = sum_s V_s^dagger k V_s / sqrt 2``."""
        w0, w1 = self._W
        return (w0.conj().T @ k @ w0 + w1.conj().T @ k @ w1) / math.sqrt(2.0)

    def project_eigen(self, x: np.ndarray) -> np.ndarray:
        """``Pi~[x] = Q Q^dagger x``: the bath projector in the eigenbasis."""
        return self._q(self._q_adjoint(x))

    def linear_operator(self) -> spla.LinearOperator:
        """The map in the eigenbasis as a :class:`scipy.sparse.linalg.LinearOperator`
        (row-major vectors)."""
        n = self.N

        def mv(v: np.ndarray) -> np.ndarray:
            return self.apply_eigen(np.asarray(v).reshape(n, n)).ravel()

        return spla.LinearOperator((n * n, n * n), matvec=mv, dtype=np.complex128)

    # -- dense representations (checks, spectral rho(t)) -------------------------------------------
    def q_matrix(self) -> np.ndarray:
        """The isometry ``Q`` as a dense ``4**L x 4**(L-1)`` array (``Pi~ = Q Q^dagger``)."""
        w = self._W
        q = np.einsum("sim,sjn->mnij", w.conj(), w, optimize=True) / math.sqrt(2.0)
        return q.reshape(self.dim, self.dim // 4)

    def dense(self) -> np.ndarray:
        """The map as a dense ``4**L x 4**L`` matrix in the eigenbasis (row-major vectors)."""
        raise NotImplementedError

    def dense_computational(self) -> np.ndarray:
        """The map as a dense matrix in the computational basis, column by column (checks)."""
        n = self.N
        basis = np.eye(n * n, dtype=np.complex128).reshape(n * n, n, n)
        return self.apply(basis).reshape(n * n, n * n).T

    # -- shift-invert ------------------------------------------------------------------------------
    def solve_shifted(self, r: np.ndarray, eta: float) -> np.ndarray:
        """``(M - sigma)^{-1} r`` for one ``N x N`` eigenbasis operator (Woodbury, exact)."""
        raise NotImplementedError

    def _rates_from(self, mu: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray, float]:
        """``(lambda, r, sigma)`` from the shift-inverted eigenvalues ``mu``."""
        raise NotImplementedError

    def _slow_modes(self, k: int, eta: float | None, tol: float, max_k: int) -> SlowModes:
        n = self.N
        dim = self.dim
        eta_ = self.gamma if eta is None else float(eta)
        if not (math.isfinite(eta_) and eta_ > 0):
            raise InputError(f"eta={eta!r} is not allowed: the shift offset must be a number > 0")
        eye_vec = np.eye(n, dtype=np.complex128).ravel()

        def p0(v: np.ndarray) -> np.ndarray:
            return v - (eye_vec @ v) / n * eye_vec

        def mv(v: np.ndarray) -> np.ndarray:
            x = p0(np.asarray(v, dtype=np.complex128).ravel())
            return p0(self.solve_shifted(x.reshape(n, n), eta_).ravel())

        op = spla.LinearOperator((dim, dim), matvec=mv, dtype=np.complex128)
        rng = np.random.default_rng(0)
        v0 = p0(rng.standard_normal(dim) + 1j * rng.standard_normal(dim))
        kk = max(1, min(int(k), dim - 3))
        while True:
            mu, vec = spla.eigs(op, k=kk, which="LM", v0=v0, tol=tol)
            modes = self._modes_from(mu, vec, eta_)
            if modes.index >= 0 or kk >= min(max_k, dim - 3):
                return modes
            kk = min(2 * kk, max_k, dim - 3)

    def _modes_from(self, mu: np.ndarray, vec: np.ndarray, eta: float) -> SlowModes:
        n = self.N
        lam, rates, sigma = self._rates_from(mu, eta)
        order = np.argsort(rates.real, kind="stable")
        lam, rates, vec = lam[order], rates[order], vec[:, order]
        vec = vec / np.linalg.norm(vec, axis=0)[None, :]
        xs = vec.T.reshape(-1, n, n)
        pop = np.array([float(np.sum(np.abs(np.diagonal(x)) ** 2)) for x in xs])
        c = self.result.c / np.linalg.norm(self.result.c)
        ov = np.array([abs(np.vdot(c, np.diagonal(x))) for x in xs])
        res = np.array(
            [
                float(np.linalg.norm(self.apply_eigen(x) - lm * x))
                for x, lm in zip(xs, lam, strict=True)
            ]
        )
        cand = np.flatnonzero(pop > 0.5)
        idx = int(cand[0]) if cand.size else -1
        return SlowModes(
            gamma=self.gamma,
            eigenvalues=lam,
            rates=rates,
            population_weight=pop,
            tau_overlap=ov,
            residual=res,
            vectors=np.moveaxis(xs, 0, -1),
            sigma=sigma,
            index=idx,
        )


# --- the channel ----------------------------------------------------------------------------------


class Channel(_EigenbasisOperators):
    """The one-period channel ``S_period[rho] = S_bath[U rho U^dagger]`` (paper Eq. 1).

    Parameters
    ----------
    u : ndarray, shape (2**L, 2**L)
        Floquet unitary in the computational basis (``2 <= L <= MAX_L``).
    gamma : float
        Bath coupling ``> 0``.
    result : WeakCoupling, optional
        The weak-coupling analysis of ``u`` (eigenbasis, ``Gamma``, ``c``, ``meta``; e.g. an
        :class:`~mbl_avalanche.analysis.SampleResult`); :func:`weak_coupling` if not given.
    check : bool
        Validate ``u`` (unitarity, size) and ``gamma``.

    Examples
    --------
    >>> from mbl_avalanche import FloquetModel
    >>> ch = Channel(FloquetModel(L=4, alpha=3).unitary(0), gamma=1e-3)
    >>> modes = ch.slow_modes()
    >>> abs(modes.r1_over_3gamma / ch.Gamma - 1) < 0.05
    True
    """

    kind = "unitary"
    time_unit = "periods"
    correction_order = 1

    def __init__(
        self,
        u: np.ndarray,
        gamma: float,
        *,
        result: WeakCoupling | None = None,
        check: bool = True,
    ) -> None:
        if check:
            u = np.asarray(u)
            _precheck_size(u)
            u, _ = check_unitary(u)
            check_dynamics_L(u.shape[0].bit_length() - 1)
            gamma = check_gamma(gamma)
        self.u = np.asarray(u, dtype=np.complex128)
        self.gamma = float(gamma)
        self._init_eigenbasis(
            self.u.shape[0], result if result is not None else weak_coupling(self.u)
        )
        self.a, self.b = bath_coefficients(self.gamma)
        dtheta = self.theta[:, None] - self.theta[None, :]
        self.phi = np.exp(1j * dtheta)
        self._one_minus_phi = -np.expm1(1j * dtheta)  # 1 - phi without cancellation

    def __repr__(self) -> str:
        return f"Channel(L={self.L}, gamma={self.gamma:g}, Gamma={self.Gamma:.6g})"

    def predicted_rel_error(self, gamma: float | None = None) -> float:
        """``-gamma``: second-order perturbation theory (module docstring)."""
        return -(self.gamma if gamma is None else float(gamma))

    # -- application -------------------------------------------------------------------------------
    def apply(self, rho: np.ndarray) -> np.ndarray:
        """``S_period[rho]`` for ``(..., N, N)`` operators in the computational basis."""
        return apply_bath(self.u @ rho @ self.u.conj().T, self.gamma)

    def apply_eigen(self, x: np.ndarray) -> np.ndarray:
        """``S~[x] = (a + b Pi~)[phi o x]`` for ``(..., N, N)`` operators in the eigenbasis."""
        y = self.phi * x
        return self.a * y + self.b * self._q(self._q_adjoint(y))

    # -- dense representations (checks, spectral rho(t)) -------------------------------------------
    def dense(self) -> np.ndarray:
        """The channel as a dense ``4**L x 4**L`` matrix in the eigenbasis (row-major vectors).

        ``M = a diag(phi) + b Q Q^dagger diag(phi)``; 16 MiB at ``L = 5``, 256 MiB at ``L = 6``.
        """
        q = self.q_matrix()
        ph = self.phi.ravel()
        m = self.b * (q @ (q.conj().T * ph[None, :]))
        m[np.diag_indices_from(m)] += self.a * ph
        return m

    def choi(self) -> np.ndarray:
        """Choi matrix ``J = sum_ij |i><j| x S[|i><j|]`` (``N**2 x N**2``, computational basis)."""
        n = self.N
        basis = np.eye(n * n, dtype=np.complex128).reshape(n * n, n, n)
        out = self.apply(basis).reshape(n, n, n, n)  # [i, j, a, b]
        return out.transpose(0, 2, 1, 3).reshape(n * n, n * n)

    def eigenvalues(self) -> np.ndarray:
        """All ``4**L`` eigenvalues from the dense channel, by descending modulus (checks)."""
        w = sla.eigvals(self.dense(), check_finite=False)
        return w[np.argsort(-np.abs(w), kind="stable")]

    # -- shift-invert ------------------------------------------------------------------------------
    def _capacitance(self, eta: float) -> tuple[np.ndarray, np.ndarray, Any]:
        """``A^{-1}``, ``D = phi / A``, LU of ``C = 1/b + Q^dagger D Q``; shift ``sigma = 1 + eta``.

        ``A = a phi - sigma = -(eta + b + a (1 - phi))`` (``a = 1 - b``) is formed from the small
        quantities, so it keeps its relative precision for tiny ``gamma``.
        """
        if eta in self._lu:
            return self._lu[eta]
        a_inv = -1.0 / (eta + self.b + self.a * self._one_minus_phi)
        d = self.phi * a_inv
        self._lu[eta] = (a_inv, d, _capacitance_lu(self._W, d, self.b))
        return self._lu[eta]

    def solve_shifted(self, r: np.ndarray, eta: float) -> np.ndarray:
        """``(S~ - (1 + eta))^{-1} r`` for one ``N x N`` eigenbasis operator (Woodbury, exact)."""
        a_inv, d, lu = self._capacitance(eta)
        h = self.N // 2
        u = self._q_adjoint(d * r).ravel()
        cu = sla.lu_solve(lu, u, check_finite=False).reshape(h, h)
        return a_inv * (r - self._q(cu))

    def slow_modes(
        self, k: int = 4, *, eta: float | None = None, tol: float = 0.0, max_k: int = 32
    ) -> SlowModes:
        """The ``k`` eigenvalues of ``S_period`` nearest ``sigma = 1 + eta`` (steady state out).

        ``eta`` defaults to ``gamma``.

        Shift-invert Arnoldi (ARPACK through :func:`scipy.sparse.linalg.eigs`) on ``P0 (S~ -
        sigma)^{-1} P0`` with ``P0`` the projector on traceless operators.  If none of the ``k``
        modes has population weight above 1/2, ``k`` is doubled (up to ``max_k``).  See the module
        docstring for why the slowest *population* mode is ``r_1``.
        """
        return self._slow_modes(k, eta, tol, max_k)

    def _rates_from(self, mu: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray, float]:
        d = eta + 1.0 / mu  # lambda - 1, without cancellation against 1
        lam = 1.0 + d
        log_abs = 0.5 * np.log1p(2.0 * d.real + np.abs(d) ** 2)
        rates = -(log_abs + 1j * np.arctan2(d.imag, 1 + d.real))
        return lam, rates, 1.0 + eta


# --- the Lindblad generator of a Hamiltonian ------------------------------------------------------


@dataclass
class LindbladCorrection:
    """The first correction to the weak-coupling limit of a Lindbladian (module docstring).

    ``r_1 = 3 gamma Gamma - mu_3 gamma**3 + O(gamma**5)``, i.e. ``(r_1/(3 gamma) - Gamma)/Gamma =
    kappa gamma**2 + O(gamma**4)``.

    Attributes
    ----------
    kappa : float
        ``-mu_3 / (3 Gamma)``.
    mu3 : float
        ``coherence + feedback + mixing``.
    coherence : float
        ``(4 - 3 Gamma) ||y||**2``: decay of the admixed coherences and the eigenvalue's own
        renormalisation (``>= 0``).
    feedback : float
        ``-4 ||Pi~ y||**2``: the admixed coherences fed back through the bath (``<= 0``).
    mixing : float
        ``-sum_k (c_k . w)**2 / (3 (Gamma_k - Gamma))``: the slowest mode mixed with the other
        population modes by the antisymmetric second-order block (0 for a real ``H``).
    b_norm2 : float
        ``||b||**2 <= 12 Gamma``, the weight of the coherences fed from ``tau_S``.
    delta_eff : float
        ``sqrt(||b||**2 / ||y||**2)``: the ``|b|**2``-weighted harmonic mean of ``|E_m - E_n|``;
        ``|kappa| <~ (4/3) b_norm2 / (Gamma delta_eff**2)`` without the mixing term.
    delta_min : float
        Smallest ``|E_m - E_n|`` with ``|b_mn| > 1e-10 max|b|``: the expansion needs ``gamma <<
        delta_min``.
    gamma2_gap : float
        ``Gamma_2 - Gamma`` (the next population mode; the mixing term carries its inverse).
    """

    kappa: float
    mu3: float
    coherence: float
    feedback: float
    mixing: float
    b_norm2: float
    delta_eff: float
    delta_min: float
    gamma2_gap: float

    __repr__ = compact_repr

    def rel_error(self, gamma: float) -> float:
        """The predicted ``(r_1/(3 gamma) - Gamma)/Gamma = kappa gamma**2``."""
        return self.kappa * gamma * gamma


class Lindbladian(_EigenbasisOperators):
    """The Lindblad generator ``L[rho] = -i [H, rho] + gamma sum_j (E_j rho E_j - rho)`` of a
    Hamiltonian coupled to the bath at site ``L`` (conventions, section 1b).

    ``E = (X_L, Y_L, Z_L)``; equivalently ``L = -i [H, .] + 4 gamma (Pi - 1)``.  Time ``t`` is in
    units of ``1/J`` (the inverse unit of ``H``).

    Parameters
    ----------
    h : ndarray, shape (2**L, 2**L)
        Hermitian Hamiltonian in the computational basis (``2 <= L <= MAX_L``).
    gamma : float
        Bath coupling ``> 0`` (the jump operators are ``sqrt(gamma) E_j``).
    result : WeakCoupling, optional
        The weak-coupling analysis of ``h`` (energies as ``theta``, eigenbasis, ``Gamma``, ``c``,
        ``meta``; e.g. an :class:`~mbl_avalanche.analysis.SampleResult` of
        ``kind="hamiltonian"``); :func:`weak_coupling_hamiltonian` if not given.
    check : bool
        Validate ``h`` (hermiticity, size) and ``gamma``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((16, 16)) + 1j * rng.standard_normal((16, 16))
    >>> lb = Lindbladian((z + z.conj().T) / 2, gamma=1e-3)
    >>> modes = lb.slow_modes()
    >>> abs(modes.r1_over_3gamma / lb.Gamma - 1) < 1e-4
    True
    """

    kind = "hamiltonian"
    time_unit = "1/J"
    correction_order = 2

    def __init__(
        self,
        h: np.ndarray,
        gamma: float,
        *,
        result: WeakCoupling | None = None,
        check: bool = True,
    ) -> None:
        if check:
            h = np.asarray(h)
            _precheck_size(h)
            h = check_hermitian(h)
            check_dynamics_L(h.shape[0].bit_length() - 1)
            gamma = check_gamma(gamma)
        self.h = np.asarray(h, dtype=np.complex128)
        self.gamma = float(gamma)
        self._init_eigenbasis(
            self.h.shape[0], result if result is not None else weak_coupling_hamiltonian(self.h)
        )
        #: ``omega_mn = E_m - E_n``.
        self.omega = self.theta[:, None] - self.theta[None, :]
        self._correction: LindbladCorrection | None = None

    def __repr__(self) -> str:
        return f"Lindbladian(L={self.L}, gamma={self.gamma:g}, Gamma={self.Gamma:.6g})"

    @property
    def energies(self) -> np.ndarray:
        """Energies ``E_n`` of ``H``, ascending (``theta`` of the weak-coupling analysis)."""
        return self.theta

    @property
    def norm_bound(self) -> float:
        """``E_max - E_min + 4 gamma >= ||L||_2`` (Hilbert-Schmidt operator norm)."""
        return float(self.theta[-1] - self.theta[0]) + 4.0 * self.gamma

    def predicted_rel_error(self, gamma: float | None = None) -> float:
        """``kappa gamma**2`` of third-order perturbation theory
        (:meth:`weak_coupling_correction`)."""
        return self.weak_coupling_correction().rel_error(
            self.gamma if gamma is None else float(gamma)
        )

    # -- application -------------------------------------------------------------------------------
    def apply(self, rho: np.ndarray) -> np.ndarray:
        """``L[rho]`` for ``(..., N, N)`` operators in the computational basis."""
        h = self.h
        return -1j * (h @ rho - rho @ h) + apply_dissipator(rho, self.gamma)

    def apply_eigen(self, x: np.ndarray) -> np.ndarray:
        """``L~[x] = -i omega o x + 4 gamma (Pi~ - 1)[x]`` for ``(..., N, N)`` eigenbasis
        operators."""
        return -1j * self.omega * x + 4.0 * self.gamma * (self.project_eigen(x) - x)

    def apply_adjoint_eigen(self, x: np.ndarray) -> np.ndarray:
        """``L~^dagger[x] = +i omega o x + 4 gamma (Pi~ - 1)[x]`` (Hilbert-Schmidt adjoint)."""
        return 1j * self.omega * x + 4.0 * self.gamma * (self.project_eigen(x) - x)

    def linear_operator(self) -> spla.LinearOperator:
        """``L~`` as a :class:`scipy.sparse.linalg.LinearOperator` (row-major eigenbasis), with
        its adjoint."""
        n = self.N

        def mv(v: np.ndarray) -> np.ndarray:
            return self.apply_eigen(np.asarray(v).reshape(n, n)).ravel()

        def rmv(v: np.ndarray) -> np.ndarray:
            return self.apply_adjoint_eigen(np.asarray(v).reshape(n, n)).ravel()

        return spla.LinearOperator((n * n, n * n), matvec=mv, rmatvec=rmv, dtype=np.complex128)

    # -- dense representations (checks, spectral rho(t)) -------------------------------------------
    def dense(self) -> np.ndarray:
        """The generator as a dense ``4**L x 4**L`` matrix in the eigenbasis (row-major vectors).

        ``M = diag(-i omega - 4 gamma) + 4 gamma Q Q^dagger``; 16 MiB at ``L = 5``.
        """
        q = self.q_matrix()
        m = (4.0 * self.gamma) * (q @ q.conj().T)
        m[np.diag_indices_from(m)] += -1j * self.omega.ravel() - 4.0 * self.gamma
        return m

    def eigenvalues(self) -> np.ndarray:
        """All ``4**L`` eigenvalues from the dense generator, by descending real part (checks;
        the steady state ``0`` first)."""
        w = sla.eigvals(self.dense(), check_finite=False)
        return w[np.argsort(-w.real, kind="stable")]

    def propagator(self, t: float) -> np.ndarray:
        """``exp(t L)`` as a dense matrix in the computational basis (row-major; checks)."""
        return sla.expm(float(t) * self.dense_computational())

    def choi(self, t: float) -> np.ndarray:
        """Choi matrix ``J = sum_ij |i><j| x exp(t L)[|i><j|]`` (``N**2 x N**2``, computational
        basis; checks)."""
        n = self.N
        p = self.propagator(t).reshape(n, n, n, n)  # [a, b, i, j]
        return p.transpose(2, 0, 3, 1).reshape(n * n, n * n)

    # -- shift-invert ------------------------------------------------------------------------------
    def _capacitance(self, eta: float) -> tuple[np.ndarray, Any]:
        """``A^{-1}`` and the LU of ``C = 1/(4 gamma) + Q^dagger A^{-1} Q``; shift ``sigma = eta``.

        ``A = -i omega - 4 gamma - eta`` is formed exactly (no cancellation).
        """
        if eta in self._lu:
            return self._lu[eta]
        b = 4.0 * self.gamma
        a_inv = -1.0 / ((eta + b) + 1j * self.omega)
        self._lu[eta] = (a_inv, _capacitance_lu(self._W, a_inv, b))
        return self._lu[eta]

    def solve_shifted(self, r: np.ndarray, eta: float) -> np.ndarray:
        """``(L~ - eta)^{-1} r`` for one ``N x N`` eigenbasis operator (Woodbury, exact)."""
        a_inv, lu = self._capacitance(eta)
        h = self.N // 2
        u = self._q_adjoint(a_inv * r).ravel()
        cu = sla.lu_solve(lu, u, check_finite=False).reshape(h, h)
        return a_inv * (r - self._q(cu))

    def slow_modes(
        self, k: int = 4, *, eta: float | None = None, tol: float = 0.0, max_k: int = 32
    ) -> SlowModes:
        """The ``k`` eigenvalues of ``L`` nearest ``sigma = eta > 0`` (steady state out).

        ``eta`` defaults to ``gamma``.  Shift-invert Arnoldi on ``P0 (L~ - sigma)^{-1} P0`` as for
        :meth:`Channel.slow_modes`; the rates are ``r_k = -lambda_k``.
        """
        return self._slow_modes(k, eta, tol, max_k)

    def _rates_from(self, mu: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray, float]:
        lam = eta + 1.0 / mu
        return lam, -lam, eta

    # -- the first correction to the weak-coupling limit -------------------------------------------
    def weak_coupling_correction(self) -> LindbladCorrection:
        """``kappa`` of ``(r_1/(3 gamma) - Gamma)/Gamma = kappa gamma**2 + O(gamma**4)`` from
        third-order perturbation theory (module docstring), with its parts.

        Independent of ``gamma``; needs all modes of ``S`` (one dense ``eigh`` of size ``N``).
        NaN if an energy difference the bath couples to ``tau_S`` vanishes exactly.
        """
        if self._correction is not None:
            return self._correction
        n = self.N
        G = self.Gamma
        c = np.asarray(self.result.c, dtype=float)
        c = c / np.linalg.norm(c)
        off = ~np.eye(n, dtype=bool)
        b = 4.0 * self.project_eigen(np.diag(c).astype(np.complex128))
        b[~off] = 0.0
        om = self.omega
        ab = np.abs(b)
        big = ab > 1e-10 * max(float(ab.max()), 1e-300)
        delta_min = float(np.min(np.abs(om[big]))) if np.any(big) else float("inf")
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(off, 1j * b / np.where(off, om, 1.0), 0.0)
        if not np.all(np.isfinite(y)):
            nan = float("nan")
            self._correction = LindbladCorrection(
                nan, nan, nan, nan, nan, float(np.sum(ab**2)), 0.0, delta_min, nan
            )
            return self._correction
        y2 = float(np.sum(np.abs(y) ** 2))
        py = self.project_eigen(y)
        coherence = (4.0 - 3.0 * G) * y2
        feedback = -4.0 * float(np.sum(np.abs(py) ** 2))
        w = -4.0 * np.real(np.diagonal(py))  # A_k1 = <c_k, w>: the antisymmetric block's column
        s = bath.rate_matrix(self.V)
        lap = -np.array(s, dtype=float)
        np.fill_diagonal(lap, 0.0)
        np.fill_diagonal(lap, -lap.sum(axis=1))
        gk, ck = np.linalg.eigh(lap)
        one = int(np.argmax(np.abs(ck.T @ c)))
        others = np.arange(n) != one
        aw = ck.T @ w
        gap = gk[others] - G
        mixing = -float(np.sum(aw[others] ** 2 / (3.0 * gap)))
        up = gk[others][gk[others] > G]
        b2 = float(np.sum(ab**2))
        mu3 = coherence + feedback + mixing
        self._correction = LindbladCorrection(
            kappa=-mu3 / (3.0 * G) if G > 0 else float("nan"),
            mu3=mu3,
            coherence=coherence,
            feedback=feedback,
            mixing=mixing,
            b_norm2=b2,
            delta_eff=math.sqrt(b2 / y2) if y2 > 0 else float("inf"),
            delta_min=delta_min,
            gamma2_gap=float(up.min() - G) if up.size else float("nan"),
        )
        return self._correction

    # -- exact time stepping -----------------------------------------------------------------------
    def step_cost(self, t: float) -> int:
        """Applications of ``L`` the ``"step"`` method spends to reach time ``t``."""
        s = max(1, math.ceil(self.norm_bound * float(t) / _TAYLOR_THETA))
        return s * _taylor_degree(self.norm_bound * float(t) / s)

    def propagate(self, x: np.ndarray, t: float, *, traceless: bool = False) -> np.ndarray:
        """``exp(t L)[x]`` for one ``N x N`` operator (computational basis), exact to rounding.

        ``s = ceil(t ||L|| / 2)`` steps of the Taylor polynomial of degree ``m``, the smallest with
        ``sum_{k>m} theta**k / k! <= 2**-53`` for ``theta = t ||L|| / s`` (``||L||`` bounded by
        :attr:`norm_bound`); ``traceless``: project the trace out after each step.
        """
        t = float(t)
        if not (math.isfinite(t) and t >= 0):
            raise InputError(f"t={t!r} is not allowed: it must be a finite number >= 0")
        if t == 0:
            return np.array(x, dtype=np.complex128)
        nb = self.norm_bound
        s = max(1, math.ceil(nb * t / _TAYLOR_THETA))
        h = t / s
        m = _taylor_degree(nb * h)
        n = self.N
        y: np.ndarray = np.array(x, dtype=np.complex128)
        for _ in range(s):
            term: np.ndarray = y
            acc = y.copy()
            for j in range(1, m + 1):
                term = self.apply(term) * (h / j)
                acc += term
            if traceless:
                acc[np.diag_indices(n)] -= np.trace(acc) / n
            y = acc
        return y


def _taylor_degree(theta: float) -> int:
    """Smallest ``m`` with ``sum_{k>m} theta**k / k! <= 2**-53`` (``0 <= theta <= 2``)."""
    theta = float(theta)
    m = 1
    while True:
        # tail after degree m: theta^(m+1)/(m+1)! * sum_j (theta/(m+2))^j <= first / (1 - q)
        first = theta ** (m + 1) / math.factorial(m + 1)
        q = theta / (m + 2)
        if q < 1 and first / (1 - q) <= _UNIT_ROUNDOFF:
            return m
        m += 1


# --- initial states -------------------------------------------------------------------------------


def initial_state(spec: str | np.ndarray, channel: Channel | Lindbladian) -> tuple[np.ndarray, str]:
    """A density matrix (computational basis) and its label.

    Parameters
    ----------
    spec : str or ndarray
        ``"up"`` (all spins up, ``|0...0>``), a bit string of length ``L`` (``s_1 ... s_L``, site
        1 first; ``0`` = up), ``"tau"`` (``1/2**L + p tau_S`` with ``p = 1/(2**L max|c_n|)``, the
        largest ``p`` that keeps it positive for both signs of ``c``), or an ``N x N`` density
        matrix (Hermitian, trace 1, positive).
    channel : Channel or Lindbladian
        The dynamics (for ``L`` and ``tau_S``).
    """
    n, L = channel.N, channel.L
    if isinstance(spec, np.ndarray):
        rho = np.asarray(spec, dtype=np.complex128)
        if rho.shape != (n, n):
            raise InputError(
                f"initial density matrix of shape {rho.shape} is not allowed: need {(n, n)}"
            )
        if not (np.allclose(rho, rho.conj().T, atol=1e-10) and abs(np.trace(rho) - 1) < 1e-10):
            raise InputError(
                "initial density matrix is not allowed: it must be Hermitian with trace 1"
            )
        if np.linalg.eigvalsh(0.5 * (rho + rho.conj().T))[0] < -1e-10:
            raise InputError(
                "initial density matrix is not allowed: it must be positive semidefinite"
            )
        return rho, "custom"
    s = str(spec)
    if s == "up":
        s = "0" * L
    if s == "tau":
        c = channel.result.c
        p = 1.0 / (n * float(np.max(np.abs(c))))
        return np.eye(n, dtype=np.complex128) / n + p * channel.tau_S(), "tau"
    if len(s) != L or set(s) - {"0", "1"}:
        raise InputError(
            f"initial state {spec!r} is not allowed: use 'up', 'tau' or a bit string of {L} "
            "characters 0/1 (site 1 first, 0 = spin up)"
        )
    rho = np.zeros((n, n), dtype=np.complex128)
    idx = int(s, 2)
    rho[idx, idx] = 1.0
    return rho, s if spec != "up" else "up"


# --- time evolution -------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """``rho(t)`` summarised by ``<Z_i>(t)`` and the distance from equilibrium.

    Attributes
    ----------
    times : ndarray
        Times ``t``: integer periods for the channel, ``1/J`` units (float) for a Lindbladian.
    z : ndarray, shape (T, L)
        ``<Z_i>(t) = Tr(Z_i rho(t))`` for sites ``i = 1..L`` (columns).
    distance : ndarray, shape (T,)
        ``||rho(t) - 1/2**L||_F``.
    method : str
        ``"spectral"`` (Eq. 2 from the dense eigendecomposition) or ``"step"`` (repeated
        application of the channel, or exact Taylor steps of ``exp(h L)``).
    initial : str
        Label of the initial state.
    reconstruction_error : float
        Spectral method: ``||sum_k p_k tau_k - (rho(0) - 1/2**L)||_F / ||rho(0) - 1/2**L||_F``
        (measures the conditioning of the eigenbasis); 0 for stepping.
    coefficients : ndarray or None
        Spectral method: ``|p_k| ||tau_k||_F`` of the 8 slowest modes (Eq. 2 weights).
    time_unit : str
        ``"periods"`` or ``"1/J"``.
    """

    times: np.ndarray
    z: np.ndarray
    distance: np.ndarray
    method: str
    initial: str
    reconstruction_error: float = 0.0
    coefficients: np.ndarray | None = None
    time_unit: str = "periods"

    __repr__ = compact_repr

    def late_rate(self, window: tuple[float, float] = (0.5, 1.0)) -> float:
        """Late-time decay rate: least-squares slope of ``-log distance`` over a window.

        ``window`` gives the fractions of ``times[-1]`` that bound the fit.
        """
        return late_decay_rate(self.times, self.distance, window)

    def site_rates(self, window: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
        """Late-time decay rate of ``|<Z_i>|`` per site."""
        z = self.z
        return np.array([late_decay_rate(self.times, z[:, i], window) for i in range(z.shape[1])])

    def relaxation_times(self, fraction: float = math.exp(-1.0)) -> np.ndarray:
        """Per site, the first time at which ``|<Z_i>(t)| <= fraction |<Z_i>(0)|`` (NaN if never).

        Sites with ``<Z_i>(0) = 0`` get NaN.
        """
        out = np.full(self.z.shape[1], np.nan)
        z0 = np.abs(self.z[0])
        for i in range(self.z.shape[1]):
            if z0[i] <= 1e-12:
                continue
            hit = np.flatnonzero(np.abs(self.z[:, i]) <= fraction * z0[i])
            if hit.size:
                out[i] = float(self.times[hit[0]])
        return out


def late_decay_rate(
    times: np.ndarray, values: np.ndarray, window: tuple[float, float] = (0.5, 1.0)
) -> float:
    """Least-squares slope of ``-log|values|`` vs ``times`` over ``window`` (of ``times[-1]``)."""
    t = np.asarray(times, dtype=float)
    v = np.abs(np.asarray(values))
    sel = (t >= window[0] * t[-1]) & (t <= window[1] * t[-1]) & (v > 0)
    if np.count_nonzero(sel) < 2:
        return float("nan")
    slope = np.polyfit(t[sel], np.log(v[sel]), 1)[0]
    return float(-slope)


def time_grid(t_max: float, n_times: int = 200, *, integer: bool = True) -> np.ndarray:
    """Times ``0..t_max``: a log-spaced head and a linear tail (unique, sorted).

    ``integer`` (the channel): whole periods.  Otherwise (a Lindbladian) real times, the log head
    starting at ``min(1, t_max) / 100``.
    """
    if integer:
        t_max = max(1, math.ceil(t_max))
        lin = np.linspace(0, t_max, max(2, n_times // 2))
        log = np.geomspace(1, t_max, max(2, n_times // 2))
        return np.unique(np.concatenate([[0], np.rint(lin), np.rint(log)]).astype(np.int64))
    t_max = float(t_max)
    if not (math.isfinite(t_max) and t_max > 0):
        raise InputError(f"t_max={t_max!r} is not allowed: it must be a finite number > 0")
    lin = np.linspace(0.0, t_max, max(2, n_times // 2))
    log = np.geomspace(min(1.0, t_max) / 100.0, t_max, max(2, n_times // 2))
    return np.unique(np.concatenate([[0.0], lin, log]))


def _times(channel: Channel | Lindbladian, times: Sequence[float] | np.ndarray) -> np.ndarray:
    if isinstance(channel, Lindbladian):
        t = np.unique(np.asarray(times, dtype=float))
        if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0:
            raise InputError("times are not allowed: give at least one finite time t >= 0")
        return t
    t = np.unique(np.asarray(times, dtype=np.int64))
    if t.size == 0 or t[0] < 0:
        raise InputError("times are not allowed: give at least one integer period t >= 0")
    return t


def evolve(
    channel: Channel | Lindbladian,
    rho0: np.ndarray | str,
    times: Sequence[float] | np.ndarray,
    *,
    method: Method = "auto",
) -> Trajectory:
    """``rho(t)`` of Eq. (2) at ``times``.

    Parameters
    ----------
    channel : Channel or Lindbladian
        The one-period channel (``times`` are integer periods) or the Lindblad generator of a
        Hamiltonian (``times`` in units of ``1/J``).
    rho0 : ndarray or str
        Initial density matrix, or a spec for :func:`initial_state`.
    times : sequence
        Times ``t >= 0`` (sorted and made unique).
    method : {"auto", "spectral", "step"}
        ``"spectral"``: Eq. (2) from the eigendecomposition of the dense map (``4**L x 4**L``;
        the default for ``L <= SPECTRAL_MAX_L``), any ``t`` at the same cost.  ``"step"``: the
        channel applied ``t`` times to ``rho(0) - 1/2**L``, or for a Lindbladian exact Taylor steps
        of ``exp(h L)`` (:meth:`Lindbladian.propagate`; cost ``~ 12 ||L|| t_max`` applications of
        ``L``); exact to rounding, the default at ``L = 6``.
    """
    if isinstance(rho0, str):
        rho, label = initial_state(rho0, channel)
    else:
        rho, label = initial_state(np.asarray(rho0), channel)
    t = _times(channel, times)
    if method == "auto":
        method = "spectral" if channel.L <= SPECTRAL_MAX_L else "step"
    if method not in ("spectral", "step"):
        raise InputError(f"method={method!r} is not allowed: use 'auto', 'spectral' or 'step'")
    lindblad = isinstance(channel, Lindbladian)
    unit = channel.time_unit
    n, L = channel.N, channel.L
    zs = z_signs(L).T  # zs[i, n] = <n|Z_{i+1}|n>
    delta = rho - np.eye(n) / n  # traceless; the map is unital, so it evolves linearly
    if method == "step":
        z = np.empty((t.size, L))
        dist = np.empty(t.size)
        x = delta.copy()
        if isinstance(channel, Lindbladian):
            now = 0.0
            for j, tj in enumerate(t):
                x = channel.propagate(x, float(tj) - now, traceless=True)
                now = float(tj)
                z[j] = zs @ np.real(np.diagonal(x))
                dist[j] = np.linalg.norm(x)
        else:
            cur = 0
            for j, tj in enumerate(t):
                while cur < tj:
                    x = channel.apply(x)
                    cur += 1
                z[j] = zs @ np.real(np.diagonal(x))
                dist[j] = np.linalg.norm(x)
        return Trajectory(times=t, z=z, distance=dist, method="step", initial=label, time_unit=unit)
    m = channel.dense()
    w, r = sla.eig(m, check_finite=False, overwrite_a=True)
    del m
    x0 = channel.to_eigenbasis(delta).ravel()
    p = sla.solve(r, x0, check_finite=False)
    # The steady state (the identity) carries exactly Tr(delta) = 0: drop its rounding-level weight,
    # which would otherwise set a floor under the late-time decay.
    k0 = int(np.argmin(np.abs(w - (0.0 if lindblad else 1.0))))
    eye_vec = np.eye(n).ravel() / math.sqrt(n)
    if abs(np.vdot(eye_vec, r[:, k0])) > 0.99 * np.linalg.norm(r[:, k0]):
        p[k0] = 0.0
    recon = float(np.linalg.norm(r @ p - x0)) / max(float(np.linalg.norm(x0)), 1e-300)
    # observables: <Z_i> = Tr(Z_i V x V^dagger) = sum conj(Zt_i) . vec(x), Zt_i = V^dagger Z_i V
    zt = np.einsum("mi,ki,in->kmn", channel.V.conj().T, zs, channel.V, optimize=True)
    obs = zt.reshape(L, -1).conj() @ r
    logw = w.astype(np.complex128) if lindblad else np.log(w.astype(np.complex128))
    coef = p[:, None] * np.exp(logw[:, None] * t[None, :])  # (4**L, T)
    z = np.real(obs @ coef).T
    # the distance from the explicit vectors (a Gram quadratic form would lose it below ~1e-8)
    dist = np.empty(t.size)
    step = max(1, (1 << 22) // r.shape[0])
    for j in range(0, t.size, step):
        dist[j : j + step] = np.linalg.norm(r @ coef[:, j : j + step], axis=0)
    weights = np.abs(p) * np.linalg.norm(r, axis=0)
    if lindblad:
        slow = np.argsort(-w.real, kind="stable")
        slow = slow[slow != k0][:8]
    else:
        slow = np.argsort(-np.abs(w))
        slow = slow[np.abs(w[slow] - 1.0) > 1e-12][:8]
    return Trajectory(
        times=t,
        z=z,
        distance=dist,
        method="spectral",
        initial=label,
        reconstruction_error=recon,
        coefficients=weights[slow],
        time_unit=unit,
    )


# --- the weak-coupling limit ----------------------------------------------------------------------


@dataclass
class SweepRow:
    """One coupling of a :func:`gamma_sweep`.

    Attributes
    ----------
    gamma : float
        Bath coupling.
    r1 : float
        Slowest population rate of the exact dynamics, per period (or per ``1/J``).
    r1_over_3gamma : float
        ``r_1 / (3 gamma)``, which tends to ``Gamma``.
    Gamma : float
        Weak-coupling gap of Eq. (5).
    rel_error : float
        ``(r_1/(3 gamma) - Gamma) / Gamma``.
    population_weight, tau_overlap, residual : float
        Of the slowest population mode (see :class:`SlowModes`).
    order : int
        Order ``p`` of the first correction: 1 for the channel, 2 for a Lindbladian.
    """

    gamma: float
    r1: float
    r1_over_3gamma: float
    Gamma: float
    rel_error: float
    population_weight: float
    tau_overlap: float
    residual: float
    order: int = 1

    @property
    def error_over_gamma(self) -> float:
        """``(r_1/(3 gamma) - Gamma) / (Gamma gamma)``: tends to -1 as ``gamma -> 0`` for the
        channel (to 0 for a Lindbladian)."""
        return self.rel_error / self.gamma

    @property
    def scaled_error(self) -> float:
        """``rel_error / gamma**order``: tends to -1 (channel) or ``kappa`` (Lindbladian)."""
        return self.rel_error / self.gamma**self.order


@dataclass
class Sweep:
    """``r_1/(3 gamma)`` against ``Gamma`` over couplings ``gamma`` (descending).

    Attributes
    ----------
    rows : list of SweepRow
        One per coupling, largest first.
    Gamma : float
        Weak-coupling gap of Eq. (5).
    meta : dict
        Free-form description.
    kind : str
        ``"unitary"`` (the channel) or ``"hamiltonian"`` (the Lindbladian).
    order : int
        Predicted order of the first correction (1 or 2).
    coefficient : float
        Predicted ``rel_error / gamma**order`` as ``gamma -> 0``: -1 for the channel, ``kappa``
        of :meth:`Lindbladian.weak_coupling_correction` for a Hamiltonian.
    """

    rows: list[SweepRow]
    Gamma: float
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "unitary"
    order: int = 1
    coefficient: float = -1.0

    __repr__ = compact_repr

    def slope(self, n_small: int = 3) -> float:
        """Log-log slope of ``|rel_error|`` vs ``gamma`` over the ``n_small`` smallest couplings."""
        rows = sorted(self.rows, key=lambda r: r.gamma)[:n_small]
        g = np.log([r.gamma for r in rows])
        e = np.log([abs(r.rel_error) for r in rows])
        return float(np.polyfit(g, e, 1)[0])

    def table(self) -> str:
        """A plain-text table."""
        scaled = "err/gamma" if self.order == 1 else f"err/g^{self.order}"
        head = (
            f"{'gamma':>9} {'r_1':>12} {'r_1/(3 gamma)':>14} {'rel.err':>11} {scaled:>10} "
            f"{'pop.w':>7} {'<tau_S>':>8} {'resid':>8}"
        )
        lines = [f"Gamma (weak coupling, Eq. 5) = {self.Gamma:.10e}", head]
        for r in self.rows:
            lines.append(
                f"{r.gamma:9.1e} {r.r1:12.5e} {r.r1_over_3gamma:14.10f} {r.rel_error:+11.3e} "
                f"{r.scaled_error:+10.4f} {r.population_weight:7.4f} {r.tau_overlap:8.5f} "
                f"{r.residual:8.1e}"
            )
        lines.append(f"log-log slope of |rel.err| vs gamma (3 smallest gamma): {self.slope():.4f}")
        if self.kind == "hamiltonian":
            lines.append(
                f"third-order prediction: rel.err = kappa gamma^2 with kappa = "
                f"{self.coefficient:+.6g} (slope 2)"
            )
        return "\n".join(lines)

    def records(self) -> list[dict[str, float]]:
        """Rows as dicts (for JSON)."""
        return [
            dict(vars(r), error_over_gamma=r.error_over_gamma, scaled_error=r.scaled_error)
            for r in self.rows
        ]


def _make(
    op: np.ndarray,
    gamma: float,
    kind: Kind,
    result: WeakCoupling | None = None,
    check: bool = True,
) -> Channel | Lindbladian:
    if kind == "hamiltonian":
        return Lindbladian(op, gamma, result=result, check=check)
    return Channel(op, gamma, result=result, check=check)


def gamma_sweep(
    op: np.ndarray,
    gammas: Sequence[float] | None = None,
    *,
    result: WeakCoupling | None = None,
    k: int = 4,
    kind: Kind = "unitary",
) -> Sweep:
    """Slowest population mode ``r_1`` for each ``gamma``, against ``Gamma``.

    ``op`` is a Floquet unitary (``kind="unitary"``: the channel) or a Hamiltonian
    (``kind="hamiltonian"``: the Lindbladian).  For the channel ``r_1/(3 gamma) = Gamma (1 -
    gamma + ...)``: the relative error divided by ``gamma`` tends to -1 (the :meth:`Sweep.slope`
    is 1).  For a Lindbladian ``r_1/(3 gamma) = Gamma (1 + kappa gamma**2 + O(gamma**4))``: slope
    2.  ``gammas`` default to :data:`DEFAULT_SWEEP_GAMMAS` (unitary) or
    :data:`DEFAULT_SWEEP_GAMMAS_HAMILTONIAN`.
    """
    kind = _check_kind(kind)
    if gammas is None:
        gammas = DEFAULT_SWEEP_GAMMAS if kind == "unitary" else DEFAULT_SWEEP_GAMMAS_HAMILTONIAN
    gs = sorted((check_gamma(g) for g in gammas), reverse=True)
    if not gs:
        raise InputError("gammas are not allowed: give at least one coupling > 0")
    gen0 = _make(op, gs[0], kind, result)
    op0 = gen0.h if isinstance(gen0, Lindbladian) else gen0.u
    rows = []
    for g in gs:
        gen = _make(op0, g, kind, gen0.result, check=False)
        m = gen.slow_modes(k)
        i = m.index
        rows.append(
            SweepRow(
                gamma=g,
                r1=m.r1,
                r1_over_3gamma=m.r1_over_3gamma,
                Gamma=gen.Gamma,
                rel_error=(m.r1_over_3gamma - gen.Gamma) / gen.Gamma,
                population_weight=float(m.population_weight[i]) if i >= 0 else float("nan"),
                tau_overlap=float(m.tau_overlap[i]) if i >= 0 else float("nan"),
                residual=float(m.residual[i]) if i >= 0 else float("nan"),
                order=gen0.correction_order,
            )
        )
    if isinstance(gen0, Lindbladian):
        coef = gen0.weak_coupling_correction().kappa
        return Sweep(rows=rows, Gamma=gen0.Gamma, kind=kind, order=2, coefficient=coef)
    return Sweep(rows=rows, Gamma=gen0.Gamma)


# --- one call for the command line and notebooks --------------------------------------------------


@dataclass
class DynamicsResult:
    """Slow modes, one trajectory and (optionally) a gamma sweep for one unitary or Hamiltonian.

    Attributes
    ----------
    channel : Channel or Lindbladian
        The one-period channel (or the Lindblad generator) at the coupling of the run.
    modes : SlowModes
        Its slowest relaxation modes (``modes.r1`` is ``r_S``).
    trajectory : Trajectory
        ``rho(t)`` from the initial state.
    sweep : Sweep or None
        ``r_1/(3 gamma)`` against ``Gamma`` over couplings, if asked for.
    """

    channel: Channel | Lindbladian
    modes: SlowModes
    trajectory: Trajectory
    sweep: Sweep | None = None

    __repr__ = compact_repr

    @property
    def kind(self) -> str:
        """``"unitary"`` or ``"hamiltonian"``."""
        return self.channel.kind

    def scalars(self) -> dict[str, Any]:
        """Flat dict of the scalar results."""
        ch, m, tr = self.channel, self.modes, self.trajectory
        i = m.index
        out: dict[str, Any] = dict(ch.result.meta)
        out.update(
            L=ch.L,
            gamma=ch.gamma,
            Gamma=ch.Gamma,
            r1=m.r1,
            r1_over_3gamma=m.r1_over_3gamma,
            rel_diff=(m.r1_over_3gamma - ch.Gamma) / ch.Gamma,
            r1_imag=float(m.rates[i].imag) if i >= 0 else float("nan"),
            population_weight=float(m.population_weight[i]) if i >= 0 else float("nan"),
            tau_overlap=float(m.tau_overlap[i]) if i >= 0 else float("nan"),
            residual=float(m.residual[i]) if i >= 0 else float("nan"),
            next_rates_over_3gamma=[float(r) / (3 * ch.gamma) for r in m.rates.real],
            next_population_weights=[float(x) for x in m.population_weight],
            trajectory_method=tr.method,
            initial=tr.initial,
            t_max=int(tr.times[-1]) if ch.time_unit == "periods" else float(tr.times[-1]),
            late_rate=tr.late_rate(),
            late_rate_over_r1=tr.late_rate() / m.r1,
            reconstruction_error=tr.reconstruction_error,
            site_relaxation_times=[float(x) for x in tr.relaxation_times()],
            # first order: coherences decay at >= 2 gamma, populations at 3 gamma Gamma_k
            population_mode_slowest_first_order=bool(3.0 * ch.Gamma < 2.0),
            kind=ch.kind,
            time_unit=ch.time_unit,
            correction_order=ch.correction_order,
            predicted_rel_diff=ch.predicted_rel_error(),
        )
        if isinstance(ch, Lindbladian):
            corr = ch.weak_coupling_correction()
            out.update(
                kappa=corr.kappa,
                kappa_delta_eff=corr.delta_eff,
                kappa_delta_min=corr.delta_min,
            )
        if self.sweep is not None:
            out["sweep"] = self.sweep.records()
            out["sweep_slope"] = self.sweep.slope()
        return out


def run_dynamics(
    op: np.ndarray,
    gamma: float,
    *,
    kind: Kind = "unitary",
    result: WeakCoupling | None = None,
    initial: str | np.ndarray = "up",
    n_relax: float = 20.0,
    n_times: int = 200,
    method: Method = "auto",
    k: int = 4,
    sweep: Sequence[float] | None = None,
) -> DynamicsResult:
    """The channel of a unitary (or the Lindbladian of a Hamiltonian, ``kind="hamiltonian"``),
    slow modes, ``rho(t)`` up to ``n_relax / r_1`` and an optional sweep."""
    kind = _check_kind(kind)
    n_times = check_integer("n_times", n_times, 2, MAX_TIMES)
    k = check_integer("k", k, 1, MAX_MODES)
    ch = _make(op, gamma, kind, result)
    modes = ch.slow_modes(k)
    if not (n_relax > 0 and math.isfinite(n_relax)):
        raise InputError(f"n_relax={n_relax!r} is not allowed: it must be a finite number > 0")
    unit = ch.time_unit
    t_max = n_relax / modes.r1 if modes.r1 > 0 else n_relax / ch.gamma
    if not t_max < 1e15:
        raise InputError(
            f"t_max = {t_max:.3g} {unit} is not allowed: r_1 = {modes.r1:.3g} is too small for "
            f"{n_relax:g}/r_1 {unit} (at most 1e15); raise gamma or lower n_relax"
        )
    stepping = (method == "auto" and ch.L > SPECTRAL_MAX_L) or method == "step"
    if stepping and isinstance(ch, Lindbladian):
        cost = ch.step_cost(t_max)
        if cost > STEP_MAX_MATVECS:
            raise InputError(
                f"t_max = {t_max:.3g} (1/J) is not allowed for stepping: it needs {cost:.3g} "
                f"applications of L (at most {STEP_MAX_MATVECS:.0e}); raise gamma, lower n_relax "
                "or use method 'spectral' (dense eigendecomposition, minutes at L = 6)"
            )
    elif stepping and t_max > 2e6:
        raise InputError(
            f"t_max = {t_max:.3g} periods is not allowed for stepping (at most 2e6): raise "
            "gamma or lower n_relax"
        )
    grid = time_grid(t_max, n_times, integer=not isinstance(ch, Lindbladian))
    traj = evolve(ch, initial, grid, method=method)
    op0 = ch.h if isinstance(ch, Lindbladian) else ch.u
    sw = gamma_sweep(op0, sweep, result=ch.result, k=k, kind=kind) if sweep else None
    return DynamicsResult(channel=ch, modes=modes, trajectory=traj, sweep=sw)
