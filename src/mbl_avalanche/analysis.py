"""One disorder sample from end to end: spectrum, rate matrix, slowest mode, ``R``, certificate.

:func:`analyze` takes any unitary (or, with ``kind="hamiltonian"``, any Hermitian matrix) of size
``2**L`` in the computational basis of SPEC section 1; :func:`analyze_sample` builds the model's
Floquet unitary first.  Both return a :class:`SampleResult` whose scalars are plain fields
(:meth:`SampleResult.scalars` gives them as one flat dict for tables and stores).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from . import bath, resonance, spectrum
from .backend import get_backend
from .errors import InputError
from .models.custom import check_hermitian, check_unitary
from .models.floquet import FloquetModel, apply_two_site_gate, diagonal_phases

Kind = Literal["unitary", "hamiltonian"]


@dataclass
class Certificate:
    """Accuracy figures of one sample (all max-norms unless stated).

    The first three are exact max-norms with ``analyze(..., exact_certificate=True)``; by default
    they are randomised estimates of the Frobenius norms of the same matrices
    (:func:`mbl_avalanche.spectrum.probe_errors`, ``O(N^2)``), which bound the max-norms from
    above (the eigen-residual: largest column norm; the others: largest entry).

    Attributes
    ----------
    unitarity_error : float
        ``max|U^dagger U - 1|`` of the input unitary (0 for a Hamiltonian).
    orthonormality_error : float
        ``max|V^dagger V - 1|`` of the eigenvectors.
    eigen_residual : float
        ``max_n ||U v_n - exp(i theta_n) v_n||`` (or ``||H v_n - E_n v_n|| / max|E|``).
    row_sum_error : float
        ``max_n |sum_m S_mn - 1|`` (tests completeness and orthonormality of ``V``).
    gamma_rel_diff : float
        ``|Gamma_eq5 - Gamma_eig| / Gamma_eq5``: how far the eigenvalue is from Eq. (5).
    gamma_ratio : float
        ``Gamma / Gamma2`` (the paper assumes a gap, i.e. a ratio below 1).
    gamma_resolution : float
        Absolute eigenvalue resolution of the Laplacian eigensolver.
    gamma_residual : float
        A-posteriori residual ``||Lap c - Gamma c|| / ||c||`` of the slowest mode.
    gamma_floor : float
        Estimated absolute error of ``Gamma`` from Eq. (5): ``residual**2 / gap`` (gap to the
        modes outside the Ritz space) plus the rounding floor of the Ritz matrix.
    mode_error : float
        Estimated error (angle) of the slowest mode ``c``.
    min_splitting : float
        Smallest quasienergy spacing (modulo 2 pi); inside a pair with spacing ``delta`` the
        eigenvectors carry an error of about ``1e-15 / delta``.
    degenerate_slow_mode : bool
        ``mode_error > 0.01``: the slowest mode is not determined to 1% (e.g. alpha -> infinity).
    gamma_below_precision : bool
        ``Gamma`` below 10 times its floor: not resolved in float64.
    """

    unitarity_error: float
    orthonormality_error: float
    eigen_residual: float
    row_sum_error: float
    gamma_rel_diff: float
    gamma_ratio: float
    gamma_resolution: float
    gamma_residual: float
    gamma_floor: float
    mode_error: float
    min_splitting: float
    degenerate_slow_mode: bool
    gamma_below_precision: bool

    @property
    def flags(self) -> list[str]:
        """Names of the raised flags."""
        return [f for f in ("degenerate_slow_mode", "gamma_below_precision") if getattr(self, f)]

    @property
    def ok(self) -> bool:
        """No flag raised."""
        return not self.flags


@dataclass
class SampleResult:
    """Everything computed for one sample.

    Conventions: eigenstates are indexed in ascending quasienergy order; ``c`` is normalised to
    ``sum c**2 = 2**L`` with the sign convention of :mod:`mbl_avalanche.bath`; ``R = D_mu_nu /
    (2**L Gamma)`` with ``mu < nu`` the pair of largest ``D_mn``.
    """

    L: int
    kind: str
    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    Gamma: float
    Gamma_eig: float
    Gamma2: float
    mu: int
    nu: int
    D_top: float
    R: float
    certificate: Certificate
    meta: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    S: np.ndarray | None = None
    resonance: Any = None

    @property
    def N(self) -> int:
        """Hilbert-space dimension ``2**L``."""
        return 2**self.L

    @property
    def spectrum(self) -> spectrum.Spectrum:
        """The eigen-decomposition as a :class:`~mbl_avalanche.spectrum.Spectrum`."""
        return spectrum.Spectrum(
            theta=self.theta, V=self.V, periodic=self.kind == "unitary", method=self.meta.get(
                "method", "")
        )

    def rate(self, gamma: float) -> float:
        """Relaxation rate ``r_S = 3 gamma Gamma`` of the slowest mode (first order in gamma)."""
        return 3.0 * float(gamma) * self.Gamma

    def rate_matrix(self) -> np.ndarray:
        """``S`` of Eq. (3) (kept if requested, else recomputed from ``V``)."""
        return self.S if self.S is not None else bath.rate_matrix(self.V)

    def contributions(self) -> np.ndarray:
        """``D_mn`` of Eq. (4) as an ``N x N`` array."""
        return bath.contributions(self.rate_matrix(), self.c)

    def scalars(self) -> dict[str, Any]:
        """All scalar results as one flat dict (for tables, JSON and the ensemble store)."""
        out: dict[str, Any] = dict(self.meta)
        out.update(
            L=self.L, kind=self.kind, Gamma=self.Gamma, Gamma_eig=self.Gamma_eig,
            Gamma2=self.Gamma2, rS_over_gamma=3.0 * self.Gamma, mu=self.mu, nu=self.nu,
            theta_mu=float(self.theta[self.mu]), theta_nu=float(self.theta[self.nu]),
            c_mu=float(self.c[self.mu]), c_nu=float(self.c[self.nu]), D_top=self.D_top,
            R=self.R,
        )
        out.update({f"cert_{k}": v for k, v in asdict(self.certificate).items()})
        out["cert_flags"] = ",".join(self.certificate.flags)
        if self.resonance is not None and hasattr(self.resonance, "scalars"):
            out.update(self.resonance.scalars())
        out.update({f"time_{k}": v for k, v in self.timings.items()})
        return out


def analyze(
    op: np.ndarray,
    kind: Kind = "unitary",
    *,
    method: str = "auto",
    keep_S: bool = False,
    resonances: bool = True,
    demixing_measure: str = "z",
    check: bool = True,
    overwrite: bool = False,
    meta: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    backend: str = "cpu",
    apply: Any = None,
    exact_certificate: bool = False,
) -> SampleResult:
    """Analyse one closed-system operator coupled to the bath at its last site.

    Parameters
    ----------
    op : ndarray, shape (2**L, 2**L), or callable
        A unitary (``kind="unitary"``) or Hermitian matrix (``kind="hamiltonian"``) in the
        computational basis (site 1 the most significant bit; the bath at site ``L``).  For a
        unitary also a zero-argument callable that builds it: together with ``apply`` the
        unitary is then not held while it is diagonalised (one ``N x N`` matrix less at the
        memory peak, if the callable returns a new array), and rebuilt if the fast solver falls
        back to Schur.  What it returns is copied, never overwritten.
    kind : {"unitary", "hamiltonian"}
        How to diagonalise: Schur for a unitary, ``eigh`` for a Hamiltonian.  The bath analysis is
        identical.
    method : {"auto", "fast", "schur"}
        Unitary eigensolver (see :func:`mbl_avalanche.spectrum.diagonalize_unitary`); ``"auto"``
        (default) is the fast solver with its a-posteriori check and a fallback to Schur.
    backend : {"cpu", "gpu"}
        Where the eigensolver, the rates and the slowest mode run (results come back as NumPy).
    apply : callable, optional
        ``X -> U @ X`` (e.g. the model's gate circuit), used instead of dense products with
        ``op`` by the fast solver and the eigen-residual (CPU).
    exact_certificate : bool
        If true, the unitarity, orthonormality and eigen-residual figures are the exact max-norms
        (three ``N x N`` products).  If false (default), they are randomised Frobenius-norm
        estimates from :func:`mbl_avalanche.spectrum.probe_errors` (``O(N^2)``; the Frobenius norm
        bounds the max-norms from above).
    keep_S : bool
        Keep the ``N x N`` rate matrix on the result.
    resonances : bool
        Run the near-resonant eigenstate-set analysis (:mod:`mbl_avalanche.resonance`) and attach
        it as ``result.resonance``.
    demixing_measure : str
        Localisation measure used for demixing (see :func:`mbl_avalanche.resonance.demix`).
    check : bool
        Validate ``op`` (size ``2**L``, unitarity or hermiticity); raises :class:`InputError`.
    overwrite : bool
        Allow the eigensolver to destroy ``op``; the eigen-residual is then not computed (NaN).
    """
    timings = dict(timings or {})
    meta = dict(meta or {})
    if kind not in ("unitary", "hamiltonian"):
        raise InputError(f"kind={kind!r} is not allowed: use 'unitary' or 'hamiltonian'")
    t0 = time.perf_counter()
    source = op if callable(op) else None
    if source is not None:
        if kind != "unitary":
            raise InputError("a callable op is allowed only for kind='unitary'")
        op = np.array(source(), dtype=np.complex128)  # a private copy: the solver may overwrite it
    if kind == "unitary":
        if check:
            op, unit_err = check_unitary(op)
        else:
            op = np.asarray(op, dtype=np.complex128)
            unit_err = (
                spectrum.unitarity_error(op) if exact_certificate
                else spectrum.probe_errors(lambda x: x, op, np.ones(op.shape[0]))[1]
            )
    else:
        op = check_hermitian(op) if check else np.asarray(op, dtype=np.complex128)
        unit_err = 0.0
    n = op.shape[0]
    L = n.bit_length() - 1
    timings["check"] = timings.get("check", 0.0) + time.perf_counter() - t0

    be = get_backend(backend)
    t0 = time.perf_counter()
    if kind == "unitary":
        solver_input: Any = op
        if source is not None and apply is not None:
            # lean path: the solver takes the only reference (and frees U after forming H);
            # a Schur fallback rebuilds it from the source
            box = [op]
            op = None

            def solver_input() -> np.ndarray:
                return box.pop() if box else np.array(source(), dtype=np.complex128)

        spec = spectrum.diagonalize_unitary(  # a source's arrays are ours to overwrite
            solver_input, method=method, overwrite=overwrite or callable(solver_input),
            backend=be, apply=apply,
        )
        del solver_input
    else:
        spec = spectrum.diagonalize_hermitian(op, overwrite=overwrite)
        spec.V = be.asarray(spec.V)
    be.synchronize()
    timings["diagonalise"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    s = bath.rate_matrix(spec.V)
    be.synchronize()
    timings["rates"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    modes = bath.slowest_modes(s)
    be.synchronize()
    timings["slowest_mode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    (mu, nu, d_top), = bath.top_contributions(s, modes.c, k=1)
    big_gamma = modes.Gamma
    r = d_top / (n * big_gamma) if big_gamma > 0 else float("nan")
    spec.V = be.to_host(spec.V)
    lam = np.exp(1j * spec.theta) if kind == "unitary" else spec.theta
    if exact_certificate:
        orth = spectrum.orthonormality_error(spec.V)
        resid = float("nan") if overwrite else spectrum.eigen_residual(
            op if apply is None else apply, spec)
    else:
        resid, orth = spectrum.probe_errors(  # seed 1: independent of the solver's probes
            op if apply is None or kind != "unitary" else apply, spec.V, lam, seed=1
        )
        resid = float("nan") if overwrite else resid
    if kind == "hamiltonian":
        resid /= max(float(np.max(np.abs(spec.theta))), 1e-300)
    row_sums = s.sum(axis=1)
    cert = Certificate(
        unitarity_error=unit_err,
        orthonormality_error=orth,
        eigen_residual=resid,
        row_sum_error=float(np.max(np.abs(be.to_host(row_sums) - 1.0))),
        gamma_rel_diff=(
            abs(big_gamma - modes.Gamma_eig) / big_gamma if big_gamma > 0 else float("inf")
        ),
        gamma_ratio=big_gamma / modes.Gamma2 if modes.Gamma2 > 0 else float("nan"),
        gamma_resolution=modes.resolution,
        gamma_residual=modes.residual,
        gamma_floor=modes.floor,
        mode_error=modes.mode_error,
        min_splitting=float(np.min(spec.level_spacings())),
        degenerate_slow_mode=modes.degenerate,
        gamma_below_precision=modes.below_precision,
    )
    timings["rest"] = time.perf_counter() - t0

    res = None
    if resonances:
        t0 = time.perf_counter()
        res = resonance.four_state_set(
            spec.V, spec.theta, modes.c, s, int(mu), int(nu), big_gamma,
            periodic=spec.periodic, measure=demixing_measure,
        )
        timings["resonance"] = time.perf_counter() - t0
    meta.setdefault("method", spec.method)
    meta.setdefault("backend", be.name)
    meta.setdefault("exact_certificate", bool(exact_certificate))
    for key in ("residual_fro", "orthonormality_fro", "residual_bound", "clusters"):
        if key in spec.check:
            meta.setdefault(f"fast_{key}", spec.check[key])
    return SampleResult(
        L=L, kind=kind, theta=spec.theta, V=spec.V, c=modes.c, Gamma=big_gamma,
        Gamma_eig=modes.Gamma_eig, Gamma2=modes.Gamma2, mu=int(mu), nu=int(nu), D_top=float(d_top),
        R=float(r), certificate=cert, meta=meta, timings=timings,
        S=be.to_host(s) if keep_S else None, resonance=res,
    )


def analyze_sample(model: FloquetModel, sample: int, **kwargs: Any) -> SampleResult:
    """Build ``U_F`` of ``model`` for ``sample`` and :func:`analyze` it.

    The result's ``meta`` records ``alpha``, ``sample``, ``seed`` and the convention knobs.
    """
    t0 = time.perf_counter()
    box = [model.unitary(sample)]
    t_build = time.perf_counter() - t0

    def build() -> np.ndarray:  # the first call hands over the built U, later calls rebuild
        return box.pop() if box else model.unitary(sample)

    meta = dict(
        alpha=float(model.alpha), sample=int(sample), seed=int(model.seed),
        gue_scale=float(model.gue_scale), layer_order=model.layer_order,
    )
    meta.update(kwargs.pop("meta", None) or {})
    if kwargs.get("backend", "cpu") == "cpu":
        kwargs.setdefault("apply", circuit_apply(model, sample))
    return analyze(build, "unitary", check=False, meta=meta, timings={"build": t_build}, **kwargs)


def circuit_apply(model: FloquetModel, sample: int) -> Any:
    """``X -> U_F @ X`` by the gate circuit of ``model`` (``O(L N K)`` for ``N x K`` blocks)."""
    phases, gates = model.gates(sample)
    d = diagonal_phases(phases)[:, None]
    bonds = [b for layer in model.layers() for b in layer]

    def apply(x: np.ndarray) -> np.ndarray:
        y = np.multiply(d, x, order="C")
        for b in bonds:
            y = apply_two_site_gate(y, gates[b - 1], model.L, b)
        return y

    return apply
