"""Exact open-system dynamics at finite bath coupling: the channel of Eq. (1), rho(t) of Eq. (2).

The weak-coupling slowest mode of :mod:`mbl_avalanche.bath` is the ``gamma -> 0`` limit of the real
open-system dynamics.  This module computes that dynamics exactly, for ``L <= 6``, at any
``gamma > 0``, so the limit can be checked on any sample.

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from . import bath, spectrum
from ._repr import compact_repr
from .basis import z_signs
from .errors import InputError
from .models.custom import check_unitary

__all__ = [
    "DEFAULT_SWEEP_GAMMAS",
    "MAX_L",
    "SPECTRAL_MAX_L",
    "Channel",
    "DynamicsResult",
    "SlowModes",
    "Sweep",
    "SweepRow",
    "Trajectory",
    "WeakCoupling",
    "WeakCouplingLimit",
    "apply_bath",
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
]

#: Largest chain length accepted (the capacitance matrix is ``4**(L-1)`` squared).
MAX_L = 6
#: Largest chain length for which the dense channel is built by default (spectral ``rho(t)``).
SPECTRAL_MAX_L = 5
#: Default coupling values of :func:`gamma_sweep` (one per decade).
DEFAULT_SWEEP_GAMMAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)

Method = Literal["auto", "spectral", "step"]


# --- input checks ---------------------------------------------------------------------------------


def check_gamma(gamma: object) -> float:
    """Validate a bath coupling (a finite number ``> 0``)."""
    try:
        g = float(gamma)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"gamma={gamma!r} is not allowed: gamma must be a number > 0") from None
    if not (math.isfinite(g) and g > 0):
        raise InputError(f"gamma={gamma!r} is not allowed: gamma must be a finite number > 0")
    return g


def check_dynamics_L(L: object) -> int:
    """Validate a chain length for the exact dynamics (an integer, ``2 <= L <= MAX_L``)."""
    if isinstance(L, bool) or not isinstance(L, int | np.integer) or not 2 <= int(L) <= MAX_L:
        raise InputError(
            f"L={L!r} is not allowed for the exact dynamics: L must be an integer with "
            f"2 <= L <= {MAX_L} (the channel acts on 4**L-dimensional operator space)"
        )
    return int(L)


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


# --- the weak-coupling limit the channel is compared with -----------------------------------------


class WeakCoupling(Protocol):
    """What the channel needs of a weak-coupling analysis (a :class:`WeakCouplingLimit` or an
    :class:`mbl_avalanche.analysis.SampleResult`)."""

    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    Gamma: float
    meta: dict[str, Any]


@dataclass
class WeakCouplingLimit:
    """Eigenbasis and slowest mode of ``U`` in the weak-coupling limit (paper Eqs. 3-5).

    Attributes
    ----------
    theta : ndarray
        Quasienergies, ascending.
    V : ndarray
        Orthonormal eigenvectors (columns).
    c : ndarray
        Slowest mode, ``sum c**2 = 2**L``.
    Gamma : float
        Its gap from Eq. (5).
    meta : dict
        Record fields of the analysis: ``method``, ``backend``, ``exact_certificate`` and the
        fast solver's ``fast_*`` figures, in the order of :func:`mbl_avalanche.analysis.analyze`.
    """

    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    Gamma: float
    meta: dict[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr


def weak_coupling(u: np.ndarray, method: str = "auto") -> WeakCouplingLimit:
    """The weak-coupling limit of ``u``: :mod:`~mbl_avalanche.spectrum` then
    :mod:`~mbl_avalanche.bath` (the eigensolver ``method`` as in
    :func:`~mbl_avalanche.spectrum.diagonalize_unitary`)."""
    spec = spectrum.diagonalize_unitary(u, method=method)
    modes = bath.slowest_modes(bath.rate_matrix(spec.V))
    solver = spec.record_fields()
    meta = {"method": solver.pop("method"), "backend": "cpu", "exact_certificate": False, **solver}
    return WeakCouplingLimit(theta=spec.theta, V=spec.V, c=modes.c, Gamma=modes.Gamma, meta=meta)


# --- the channel ----------------------------------------------------------------------------------


@dataclass
class SlowModes:
    """Slowest relaxation modes of ``S_period`` from shift-invert Arnoldi.

    Attributes
    ----------
    gamma : float
        Bath coupling.
    eigenvalues : ndarray, complex
        ``lambda_k = exp(-r_k)``, slowest first (ascending ``Re r_k``).
    rates : ndarray, complex
        ``r_k = -log(lambda_k)`` (``Re r_k`` is the decay rate per period).
    population_weight : ndarray
        ``sum_n |x_nn|**2 / sum_mn |x_mn|**2`` of each eigenoperator in the eigenbasis of ``U``.
    tau_overlap : ndarray
        ``|<tau_S, x>| / (||tau_S|| ||x||)`` with the weak-coupling ``tau_S = sum_n c_n |n><n|``.
    residual : ndarray
        ``||S x - lambda x|| / ||x||`` (Frobenius norms).
    vectors : ndarray, shape (N, N, k)
        Eigenoperators in the eigenbasis of ``U``, unit Frobenius norm.
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
        """``r_S = Re(r_1)``: decay rate per period of the slowest population mode."""
        return float(self.rates[self.index].real) if self.index >= 0 else float("nan")

    @property
    def r1_over_3gamma(self) -> float:
        """``r_1 / (3 gamma)``, which tends to ``Gamma`` as ``gamma -> 0``."""
        return self.r1 / (3.0 * self.gamma)

    @property
    def population_rates(self) -> np.ndarray:
        """``Re r_k`` of the population-like modes (weight > 1/2), slowest first."""
        return self.rates.real[self.population_weight > 0.5]


class Channel:
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
            if u.ndim == 2 and u.shape[0] == u.shape[1] and u.shape[0] >= 1:
                n0 = int(u.shape[0])
                if n0 > 2**MAX_L:
                    check_dynamics_L(n0.bit_length() - 1)
            u, _ = check_unitary(u)
            check_dynamics_L(u.shape[0].bit_length() - 1)
            gamma = check_gamma(gamma)
        self.u = np.asarray(u, dtype=np.complex128)
        self.gamma = float(gamma)
        self.result = result if result is not None else weak_coupling(self.u)
        self.N = self.u.shape[0]
        self.L = self.N.bit_length() - 1
        self.theta = self.result.theta
        self.V = self.result.V
        self.a, self.b = bath_coefficients(self.gamma)
        dtheta = self.theta[:, None] - self.theta[None, :]
        self.phi = np.exp(1j * dtheta)
        self._one_minus_phi = -np.expm1(1j * dtheta)  # 1 - phi without cancellation
        # W[s] = V_s: rows of V with s_L = s, shape (2, N/2, N)
        self._W = np.ascontiguousarray(self.V.reshape(self.N // 2, 2, self.N).transpose(1, 0, 2))
        self._lu: dict[float, Any] = {}

    def __repr__(self) -> str:
        return f"Channel(L={self.L}, gamma={self.gamma:g}, Gamma={self.Gamma:.6g})"

    # -- basic facts -------------------------------------------------------------------------------
    @property
    def Gamma(self) -> float:
        """Weak-coupling gap ``Gamma`` of Eq. (5) of the same unitary."""
        return float(self.result.Gamma)

    @property
    def dim(self) -> int:
        """Dimension ``4**L`` of operator space."""
        return self.N * self.N

    def tau_S(self) -> np.ndarray:
        """Weak-coupling slowest mode ``tau_S = sum_n c_n |n><n|`` (computational basis)."""
        return (self.V * self.result.c[None, :]) @ self.V.conj().T

    # -- application -------------------------------------------------------------------------------
    def apply(self, rho: np.ndarray) -> np.ndarray:
        """``S_period[rho]`` for ``(..., N, N)`` operators in the computational basis."""
        return apply_bath(self.u @ rho @ self.u.conj().T, self.gamma)

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

    def apply_eigen(self, x: np.ndarray) -> np.ndarray:
        """``S~[x] = (a + b Pi~)[phi o x]`` for ``(..., N, N)`` operators in the eigenbasis."""
        y = self.phi * x
        return self.a * y + self.b * self._q(self._q_adjoint(y))

    def linear_operator(self) -> spla.LinearOperator:
        """``S~`` as a :class:`scipy.sparse.linalg.LinearOperator` (row-major eigenbasis)."""
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
        """The channel as a dense ``4**L x 4**L`` matrix in the eigenbasis (row-major vectors).

        ``M = a diag(phi) + b Q Q^dagger diag(phi)``; 16 MiB at ``L = 5``, 256 MiB at ``L = 6``.
        """
        q = self.q_matrix()
        ph = self.phi.ravel()
        m = self.b * (q @ (q.conj().T * ph[None, :]))
        m[np.diag_indices_from(m)] += self.a * ph
        return m

    def dense_computational(self) -> np.ndarray:
        """The channel as a dense matrix in the computational basis, column by column (checks)."""
        n = self.N
        basis = np.eye(n * n, dtype=np.complex128).reshape(n * n, n, n)
        return self.apply(basis).reshape(n * n, n * n).T

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
        h = self.N // 2
        a_inv = -1.0 / (eta + self.b + self.a * self._one_minus_phi)
        d = self.phi * a_inv
        c = np.zeros((h, h, h, h), dtype=np.complex128)  # [k, l, i, j]
        for s1 in range(2):
            w1 = self._W[s1]
            t = d[:, None, :] * w1.conj()[None, :, :]  # [m, l, n]
            for s0 in range(2):
                w0 = self._W[s0]
                g = (t @ w0.T).reshape(self.N, h * h)  # [m, (l, j)] = sum_n d_mn conj(w1_ln) w0_jn
                f = (w1.T[:, :, None] * w0.conj().T[:, None, :]).reshape(self.N, h * h)  # [m,(k,i)]
                c += (f.T @ g).reshape(h, h, h, h).transpose(0, 2, 1, 3)
        c = 0.5 * c.reshape(h * h, h * h)
        c[np.diag_indices_from(c)] += 1.0 / self.b
        lu = sla.lu_factor(c, check_finite=False)
        self._lu[eta] = (a_inv, d, lu)
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
        d = eta + 1.0 / mu  # lambda - 1, without cancellation against 1
        lam = 1.0 + d
        log_abs = 0.5 * np.log1p(2.0 * d.real + np.abs(d) ** 2)
        rates = -(log_abs + 1j * np.arctan2(d.imag, 1 + d.real))
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
            sigma=1.0 + eta,
            index=idx,
        )


# --- initial states -------------------------------------------------------------------------------


def initial_state(spec: str | np.ndarray, channel: Channel) -> tuple[np.ndarray, str]:
    """A density matrix (computational basis) and its label.

    Parameters
    ----------
    spec : str or ndarray
        ``"up"`` (all spins up, ``|0...0>``), a bit string of length ``L`` (``s_1 ... s_L``, site
        1 first; ``0`` = up), ``"tau"`` (``1/2**L + p tau_S`` with ``p = 1/(2**L max|c_n|)``, the
        largest ``p`` that keeps it positive for both signs of ``c``), or an ``N x N`` density
        matrix (Hermitian, trace 1, positive).
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
    times : ndarray of int
        Periods ``t``.
    z : ndarray, shape (T, L)
        ``<Z_i>(t) = Tr(Z_i rho(t))`` for sites ``i = 1..L`` (columns).
    distance : ndarray, shape (T,)
        ``||rho(t) - 1/2**L||_F``.
    method : str
        ``"spectral"`` (Eq. 2 from the dense eigendecomposition) or ``"step"`` (repeated
        application of the channel).
    initial : str
        Label of the initial state.
    reconstruction_error : float
        Spectral method: ``||sum_k p_k tau_k - (rho(0) - 1/2**L)||_F / ||rho(0) - 1/2**L||_F``
        (measures the conditioning of the eigenbasis); 0 for stepping.
    coefficients : ndarray or None
        Spectral method: ``|p_k| ||tau_k||_F`` of the 8 slowest modes (Eq. 2 weights).
    """

    times: np.ndarray
    z: np.ndarray
    distance: np.ndarray
    method: str
    initial: str
    reconstruction_error: float = 0.0
    coefficients: np.ndarray | None = None

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


def time_grid(t_max: float, n_times: int = 200) -> np.ndarray:
    """Integer periods ``0..t_max``: a log-spaced head and a linear tail (unique, sorted)."""
    t_max = max(1, math.ceil(t_max))
    lin = np.linspace(0, t_max, max(2, n_times // 2))
    log = np.geomspace(1, t_max, max(2, n_times // 2))
    return np.unique(np.concatenate([[0], np.rint(lin), np.rint(log)]).astype(np.int64))


def evolve(
    channel: Channel,
    rho0: np.ndarray | str,
    times: Sequence[int] | np.ndarray,
    *,
    method: Method = "auto",
) -> Trajectory:
    """``rho(t)`` of Eq. (2) at integer periods ``times``.

    Parameters
    ----------
    channel : Channel
        The one-period channel.
    rho0 : ndarray or str
        Initial density matrix, or a spec for :func:`initial_state`.
    times : sequence of int
        Periods ``t >= 0`` (sorted and made unique).
    method : {"auto", "spectral", "step"}
        ``"spectral"``: Eq. (2) from the eigendecomposition of the dense channel (``4**L x 4**L``;
        the default for ``L <= SPECTRAL_MAX_L``), any ``t`` at the same cost.  ``"step"``: apply
        the channel ``t`` times to ``rho(0) - 1/2**L`` (exact to rounding; cost ``O(t_max 8**L)``),
        the default at ``L = 6``.
    """
    if isinstance(rho0, str):
        rho, label = initial_state(rho0, channel)
    else:
        rho, label = initial_state(np.asarray(rho0), channel)
    t = np.unique(np.asarray(times, dtype=np.int64))
    if t.size == 0 or t[0] < 0:
        raise InputError("times are not allowed: give at least one integer period t >= 0")
    if method == "auto":
        method = "spectral" if channel.L <= SPECTRAL_MAX_L else "step"
    if method not in ("spectral", "step"):
        raise InputError(f"method={method!r} is not allowed: use 'auto', 'spectral' or 'step'")
    n, L = channel.N, channel.L
    zs = z_signs(L).T  # zs[i, n] = <n|Z_{i+1}|n>
    delta = rho - np.eye(n) / n  # traceless; the channel is unital, so it evolves linearly
    if method == "step":
        z = np.empty((t.size, L))
        dist = np.empty(t.size)
        x = delta.copy()
        cur = 0
        for j, tj in enumerate(t):
            while cur < tj:
                x = channel.apply(x)
                cur += 1
            z[j] = zs @ np.real(np.diagonal(x))
            dist[j] = np.linalg.norm(x)
        return Trajectory(times=t, z=z, distance=dist, method="step", initial=label)
    m = channel.dense()
    w, r = sla.eig(m, check_finite=False, overwrite_a=True)
    x0 = channel.to_eigenbasis(delta).ravel()
    p = sla.solve(r, x0, check_finite=False)
    # The steady state (the identity) carries exactly Tr(delta) = 0: drop its rounding-level weight,
    # which would otherwise set a floor under the late-time decay.
    k0 = int(np.argmin(np.abs(w - 1.0)))
    eye_vec = np.eye(n).ravel() / math.sqrt(n)
    if abs(np.vdot(eye_vec, r[:, k0])) > 0.99 * np.linalg.norm(r[:, k0]):
        p[k0] = 0.0
    recon = float(np.linalg.norm(r @ p - x0)) / max(float(np.linalg.norm(x0)), 1e-300)
    # observables: <Z_i> = Tr(Z_i V x V^dagger) = sum conj(Zt_i) . vec(x), Zt_i = V^dagger Z_i V
    zt = np.einsum("mi,ki,in->kmn", channel.V.conj().T, zs, channel.V, optimize=True)
    obs = zt.reshape(L, -1).conj() @ r
    logw = np.log(w.astype(np.complex128))
    coef = p[:, None] * np.exp(logw[:, None] * t[None, :])  # (4**L, T)
    z = np.real(obs @ coef).T
    # the distance from the explicit vectors (a Gram quadratic form would lose it below ~1e-8)
    dist = np.empty(t.size)
    step = max(1, (1 << 22) // r.shape[0])
    for j in range(0, t.size, step):
        dist[j : j + step] = np.linalg.norm(r @ coef[:, j : j + step], axis=0)
    weights = np.abs(p) * np.linalg.norm(r, axis=0)
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
        Slowest population rate of the exact channel, per period.
    r1_over_3gamma : float
        ``r_1 / (3 gamma)``, which tends to ``Gamma``.
    Gamma : float
        Weak-coupling gap of Eq. (5).
    rel_error : float
        ``(r_1/(3 gamma) - Gamma) / Gamma``.
    population_weight, tau_overlap, residual : float
        Of the slowest population mode (see :class:`SlowModes`).
    """

    gamma: float
    r1: float
    r1_over_3gamma: float
    Gamma: float
    rel_error: float
    population_weight: float
    tau_overlap: float
    residual: float

    @property
    def error_over_gamma(self) -> float:
        """``(r_1/(3 gamma) - Gamma) / (Gamma gamma)``: tends to -1 as ``gamma -> 0``."""
        return self.rel_error / self.gamma


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
    """

    rows: list[SweepRow]
    Gamma: float
    meta: dict[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def slope(self, n_small: int = 3) -> float:
        """Log-log slope of ``|rel_error|`` vs ``gamma`` over the ``n_small`` smallest couplings."""
        rows = sorted(self.rows, key=lambda r: r.gamma)[:n_small]
        g = np.log([r.gamma for r in rows])
        e = np.log([abs(r.rel_error) for r in rows])
        return float(np.polyfit(g, e, 1)[0])

    def table(self) -> str:
        """A plain-text table."""
        head = (
            f"{'gamma':>9} {'r_1':>12} {'r_1/(3 gamma)':>14} {'rel.err':>11} {'err/gamma':>10} "
            f"{'pop.w':>7} {'<tau_S>':>8} {'resid':>8}"
        )
        lines = [f"Gamma (weak coupling, Eq. 5) = {self.Gamma:.10e}", head]
        for r in self.rows:
            lines.append(
                f"{r.gamma:9.1e} {r.r1:12.5e} {r.r1_over_3gamma:14.10f} {r.rel_error:+11.3e} "
                f"{r.error_over_gamma:+10.4f} {r.population_weight:7.4f} {r.tau_overlap:8.5f} "
                f"{r.residual:8.1e}"
            )
        lines.append(f"log-log slope of |rel.err| vs gamma (3 smallest gamma): {self.slope():.4f}")
        return "\n".join(lines)

    def records(self) -> list[dict[str, float]]:
        """Rows as dicts (for JSON)."""
        return [dict(vars(r), error_over_gamma=r.error_over_gamma) for r in self.rows]


def gamma_sweep(
    u: np.ndarray,
    gammas: Sequence[float] = DEFAULT_SWEEP_GAMMAS,
    *,
    result: WeakCoupling | None = None,
    k: int = 4,
) -> Sweep:
    """Slowest population mode ``r_1`` of ``S_period`` for each ``gamma``, against ``Gamma``.

    ``r_1/(3 gamma) = Gamma (1 + O(gamma))``: the relative error divided by ``gamma`` tends to a
    constant as ``gamma -> 0`` (the :meth:`Sweep.slope` is 1).
    """
    gs = sorted((check_gamma(g) for g in gammas), reverse=True)
    if not gs:
        raise InputError("gammas are not allowed: give at least one coupling > 0")
    ch0 = Channel(u, gs[0], result=result)
    rows = []
    for g in gs:
        ch = Channel(ch0.u, g, result=ch0.result, check=False)
        m = ch.slow_modes(k)
        i = m.index
        rows.append(
            SweepRow(
                gamma=g,
                r1=m.r1,
                r1_over_3gamma=m.r1_over_3gamma,
                Gamma=ch.Gamma,
                rel_error=(m.r1_over_3gamma - ch.Gamma) / ch.Gamma,
                population_weight=float(m.population_weight[i]) if i >= 0 else float("nan"),
                tau_overlap=float(m.tau_overlap[i]) if i >= 0 else float("nan"),
                residual=float(m.residual[i]) if i >= 0 else float("nan"),
            )
        )
    return Sweep(rows=rows, Gamma=ch0.Gamma)


# --- one call for the command line and notebooks --------------------------------------------------


@dataclass
class DynamicsResult:
    """Slow modes, one trajectory and (optionally) a gamma sweep for one unitary.

    Attributes
    ----------
    channel : Channel
        The one-period channel at the coupling of the run.
    modes : SlowModes
        Its slowest relaxation modes (``modes.r1`` is ``r_S``).
    trajectory : Trajectory
        ``rho(t)`` from the initial state.
    sweep : Sweep or None
        ``r_1/(3 gamma)`` against ``Gamma`` over couplings, if asked for.
    """

    channel: Channel
    modes: SlowModes
    trajectory: Trajectory
    sweep: Sweep | None = None

    __repr__ = compact_repr

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
            t_max=int(tr.times[-1]),
            late_rate=tr.late_rate(),
            late_rate_over_r1=tr.late_rate() / m.r1,
            reconstruction_error=tr.reconstruction_error,
            site_relaxation_times=[float(x) for x in tr.relaxation_times()],
            # first order: coherences decay at >= 2 gamma, populations at 3 gamma Gamma_k
            population_mode_slowest_first_order=bool(3.0 * ch.Gamma < 2.0),
        )
        if self.sweep is not None:
            out["sweep"] = self.sweep.records()
            out["sweep_slope"] = self.sweep.slope()
        return out


def run_dynamics(
    u: np.ndarray,
    gamma: float,
    *,
    result: WeakCoupling | None = None,
    initial: str | np.ndarray = "up",
    n_relax: float = 20.0,
    n_times: int = 200,
    method: Method = "auto",
    k: int = 4,
    sweep: Sequence[float] | None = None,
) -> DynamicsResult:
    """Channel, slow modes, ``rho(t)`` up to ``n_relax / r_1`` periods and an optional sweep."""
    ch = Channel(u, gamma, result=result)
    modes = ch.slow_modes(k)
    if not (n_relax > 0 and math.isfinite(n_relax)):
        raise InputError(f"n_relax={n_relax!r} is not allowed: it must be a finite number > 0")
    t_max = n_relax / modes.r1 if modes.r1 > 0 else n_relax / ch.gamma
    if not t_max < 1e15:
        raise InputError(
            f"t_max = {t_max:.3g} periods is not allowed: r_1 = {modes.r1:.3g} is too small for "
            f"{n_relax:g}/r_1 periods (at most 1e15); raise gamma or lower n_relax"
        )
    if (method == "auto" and ch.L > SPECTRAL_MAX_L) or method == "step":
        if t_max > 2e6:
            raise InputError(
                f"t_max = {t_max:.3g} periods is not allowed for stepping (at most 2e6): raise "
                "gamma or lower n_relax"
            )
    traj = evolve(ch, initial, time_grid(t_max, n_times), method=method)
    sw = gamma_sweep(ch.u, sweep, result=ch.result, k=k) if sweep else None
    return DynamicsResult(channel=ch, modes=modes, trajectory=traj, sweep=sw)
