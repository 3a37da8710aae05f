"""One disorder sample from end to end: the stages of the pipeline composed.

:func:`analyze` takes any unitary (or, with ``kind="hamiltonian"``, any Hermitian matrix) of size
``2**L`` in the computational basis of the conventions, section 1; :func:`analyze_sample` builds
the model's Floquet unitary first.  The stages, each in its own module, each contributing its part
of the :class:`Certificate`:

1. *check* -- the input operator (:mod:`mbl_avalanche.models.custom`): size, unitarity or
   hermiticity;
2. *spectrum* (:mod:`mbl_avalanche.spectrum`): quasienergies and orthonormal eigenvectors;
   unitarity, orthonormality, eigen-residual, smallest splitting;
3. *bath* (:mod:`mbl_avalanche.bath`): the rate matrix ``S`` of Eq. (3) (row sums), the slowest
   mode ``c`` and ``Gamma`` of Eq. (5) (its accuracy figures and flags), the top pair of ``D_mn``
   (Eq. 4) and ``R``;
4. *resonance* (:mod:`mbl_avalanche.resonance`): the near-resonant set ``{A, B, A', B'}``.

Both return a :class:`SampleResult` whose scalars are plain fields; :meth:`SampleResult.scalars`
gives them as one flat record whose columns are those of :mod:`mbl_avalanche.record`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from . import bath, resonance, spectrum
from .backend import Backend, array_module, get_backend
from .errors import InputError, InputTypeError
from .models.custom import check_hermitian, check_unitary
from .models.floquet import FloquetModel
from .models.protocol import Model, check_number

__all__ = [
    "Certificate",
    "Kind",
    "SampleResult",
    "analyze",
    "analyze_sample",
    "analyze_sectors",
    "circuit_apply",
]

Kind = Literal["unitary", "hamiltonian"]
#: What :func:`analyze` accepts: a matrix, or (for a unitary) a zero-argument source of one.
Operator = np.ndarray | Callable[[], np.ndarray]


@dataclass
class Certificate:
    """Accuracy figures of one sample (all max-norms unless stated), composed of the stages' parts.

    The first three are exact max-norms with ``analyze(..., exact_certificate=True)``; by default
    they are randomised estimates of the Frobenius norms of the same matrices
    (:func:`mbl_avalanche.spectrum.probe_errors`, ``O(N^2)``), which bound the max-norms from
    above (the eigen-residual: largest column norm; the others: largest entry).

    Attributes
    ----------
    unitarity_error : float
        Spectrum stage: ``max|U^dagger U - 1|`` of the input unitary (0 for a Hamiltonian).
    orthonormality_error : float
        Spectrum stage: ``max|V^dagger V - 1|`` of the eigenvectors.
    eigen_residual : float
        Spectrum stage: ``max_n ||U v_n - exp(i theta_n) v_n||`` (or ``||H v_n - E_n v_n|| /
        max|E|``).
    row_sum_error : float
        Rate-matrix stage: ``max_n |sum_m S_mn - 1|`` (tests completeness and orthonormality of
        ``V``).
    gamma_rel_diff : float
        Slow-mode stage: ``|Gamma_eq5 - Gamma_eig| / Gamma_eq5``: how far the eigenvalue is from
        Eq. (5).
    gamma_ratio : float
        Slow-mode stage: ``Gamma / Gamma2`` (the paper assumes a gap, i.e. a ratio below 1).
    gamma_resolution : float
        Slow-mode stage: absolute eigenvalue resolution of the Laplacian eigensolver.
    gamma_residual : float
        Slow-mode stage: a-posteriori residual ``||Lap c - Gamma c|| / ||c||`` of the slowest
        mode.
    gamma_floor : float
        Slow-mode stage: estimated absolute error of ``Gamma`` from Eq. (5): ``residual**2 /
        gap`` (gap to the modes outside the Ritz space) plus the rounding floor of the Ritz
        matrix.
    mode_error : float
        Slow-mode stage: estimated error (angle) of the slowest mode ``c``.
    min_splitting : float
        Spectrum stage: smallest quasienergy spacing (modulo 2 pi); inside a pair with spacing
        ``delta`` the eigenvectors carry an error of about ``1e-15 / delta``.
    degenerate_slow_mode : bool
        Flag: ``mode_error > 0.01``, the slowest mode is not determined to 1% (e.g. alpha ->
        infinity).
    gamma_below_precision : bool
        Flag: ``Gamma`` below 10 times its floor, not resolved in float64.
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

    @classmethod
    def compose(
        cls, spec: spectrum.SpectrumCertificate, row_sum_error: float, modes: bath.SlowModes
    ) -> Certificate:
        """The certificate from the parts of the spectrum, rate-matrix and slow-mode stages."""
        return cls(row_sum_error=float(row_sum_error), **asdict(spec), **modes.certificate())

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

    Attributes
    ----------
    L : int
        Chain length (``N = 2**L`` basis states; the bath couples to site ``L``).
    kind : {"unitary", "hamiltonian"}
        What was diagonalised.
    theta : ndarray, shape (N,)
        Quasienergies in ``(-pi, pi]`` (energies for a Hamiltonian), ascending.
    V : ndarray, shape (N, N)
        Orthonormal eigenvectors (columns, same order) in the computational basis.
    c : ndarray, shape (N,)
        Slowest mode of the rate matrix, ``tau_S = sum_n c_n |n><n|``, ``sum c**2 = 2**L``.
    Gamma : float
        Gap of the slowest mode from Eq. (5) (``r_S = 3 gamma Gamma``).
    Gamma_eig : float
        The same gap as the Laplacian eigenvalue (for comparison).
    Gamma2 : float
        Gap of the second slowest mode.
    mu, nu : int
        The pair ``mu < nu`` with the largest ``D_mn`` (Eq. 4).
    D_top : float
        ``D_mu_nu``.
    R : float
        ``D_mu_nu / (2**L Gamma)`` (Fig. 2).
    certificate : Certificate
        Accuracy figures and flags.
    meta : dict
        Record columns that describe the input: the model identity (``alpha, sample, seed,
        gue_scale, layer_order``) or a ``source``, the eigensolver ``method`` and ``backend``,
        ``exact_certificate`` and the fast solver's own figures (``fast_*``).
    timings : dict of str to float
        Wall seconds per stage (``build, check, diagonalise, rates, slowest_mode, rest,
        resonance``).
    S : ndarray or None
        The ``N x N`` rate matrix of Eq. (3), if kept (``keep_S=True``).
    resonance : Resonance or None
        The near-resonant set (:class:`mbl_avalanche.resonance.Resonance`), if analysed.
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
    resonance: resonance.Resonance | None = None

    def __repr__(self) -> str:
        case = self.resonance.case if self.resonance is not None else None
        return (
            f"SampleResult(L={self.L}, kind={self.kind!r}, Gamma={self.Gamma:.6g}, "
            f"R={self.R:.6g}, mu={self.mu}, nu={self.nu}, case={case!r}, "
            f"flags={self.certificate.flags}, method={self.meta.get('method')!r}, "
            f"V=<{type(self.V).__name__} {tuple(self.V.shape)} {self.V.dtype}>)"
        )

    @property
    def N(self) -> int:
        """Hilbert-space dimension ``2**L``."""
        return 2**self.L

    @property
    def spectrum(self) -> spectrum.Spectrum:
        """The eigen-decomposition as a :class:`~mbl_avalanche.spectrum.Spectrum`."""
        return spectrum.Spectrum(
            theta=self.theta,
            V=self.V,
            periodic=self.kind == "unitary",
            method=self.meta.get("method", ""),
        )

    def rate(self, gamma: float) -> float:
        """Relaxation rate ``r_S = 3 gamma Gamma`` of the slowest mode (first order in gamma).

        ``gamma``: the bath coupling, a finite number ``> 0`` (else a one-line
        :class:`~mbl_avalanche.errors.InputError`)."""
        return 3.0 * check_number("gamma", gamma, minimum=0.0, minimum_open=True) * self.Gamma

    def rate_matrix(self) -> np.ndarray:
        """``S`` of Eq. (3) (kept if requested, else recomputed from ``V``)."""
        return self.S if self.S is not None else bath.rate_matrix(self.V)

    def contributions(self) -> np.ndarray:
        """``D_mn`` of Eq. (4) as an ``N x N`` array."""
        return bath.contributions(self.rate_matrix(), self.c)

    def scalars(self) -> dict[str, Any]:
        """All scalar results as one flat record (columns of :mod:`mbl_avalanche.record`)."""
        out: dict[str, Any] = dict(self.meta)
        out.update(
            L=self.L,
            kind=self.kind,
            Gamma=self.Gamma,
            Gamma_eig=self.Gamma_eig,
            Gamma2=self.Gamma2,
            rS_over_gamma=3.0 * self.Gamma,
            mu=self.mu,
            nu=self.nu,
            theta_mu=float(self.theta[self.mu]),
            theta_nu=float(self.theta[self.nu]),
            c_mu=float(self.c[self.mu]),
            c_nu=float(self.c[self.nu]),
            D_top=self.D_top,
            R=self.R,
        )
        out.update({f"cert_{k}": v for k, v in asdict(self.certificate).items()})
        out["cert_flags"] = ",".join(self.certificate.flags)
        if self.resonance is not None:
            out.update(self.resonance.scalars())
        out.update({f"time_{k}": v for k, v in self.timings.items()})
        return out


class _Stopwatch:
    """Wall time per stage into a ``timings`` dict (device work waited for at each stop)."""

    def __init__(self, timings: dict[str, float], be: Backend) -> None:
        self.timings, self.be = timings, be

    @contextmanager
    def stage(self, name: str, accumulate: bool = False) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.be.synchronize()
        dt = time.perf_counter() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt if accumulate else dt


def _checked_input(
    op: Any, kind: Kind, check: bool, exact: bool, be: Backend | None = None
) -> tuple[Any, float]:
    """The check stage: ``op`` as complex128 and the unitarity error of a unitary input.

    A device array (an operator built on the GPU, ``be`` given) stays there: the unitarity
    error is then estimated on the device by the probes of
    :func:`~mbl_avalanche.spectrum.probe_errors`.
    """
    if be is not None and be.is_gpu and not check and kind == "unitary" and not exact:
        u = be.asarray(op, dtype=np.complex128)
        return u, spectrum.probe_errors(lambda x: x, u, be.xp.ones(u.shape[0]))[1]
    if kind == "hamiltonian":
        return (check_hermitian(op) if check else np.asarray(op, dtype=np.complex128)), 0.0
    if check:
        return check_unitary(op)
    u = np.asarray(op, dtype=np.complex128)
    if exact:
        return u, spectrum.unitarity_error(u)
    return u, spectrum.probe_errors(lambda x: x, u, np.ones(u.shape[0]))[1]


def analyze(
    op: Operator,
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
    backend: str | Backend = "cpu",
    apply: Callable[[np.ndarray], np.ndarray] | None = None,
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
    meta : dict, optional
        Record columns describing the input (e.g. the model identity), copied onto the result.
    timings : dict, optional
        Stage timings measured before the call (e.g. ``build``), copied onto the result.
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
    """
    timings = dict(timings or {})
    meta = dict(meta or {})
    if kind not in ("unitary", "hamiltonian"):
        raise InputError(f"kind={kind!r} is not allowed: use 'unitary' or 'hamiltonian'")
    source = op if callable(op) else None
    if source is not None and kind != "unitary":
        raise InputError("a callable op is allowed only for kind='unitary'")
    be = get_backend(backend)
    clock = _Stopwatch(timings, be)

    with clock.stage("check", accumulate=True):
        if source is not None:
            op = source()
            if not (be.is_gpu and not check and array_module(op) is not np):
                op = np.array(op, dtype=np.complex128)  # a private copy: the solver may overwrite
        u, unit_err = _checked_input(op, kind, check, exact_certificate, be)
        del op
    n = u.shape[0]
    L = n.bit_length() - 1

    # what applies U for the certificate: the circuit if given (never a reference to U then)
    mul: Any = apply if apply is not None and kind == "unitary" else u
    with clock.stage("diagonalise"):
        if kind == "hamiltonian":
            spec = spectrum.diagonalize_hermitian(u, overwrite=overwrite)
            spec.V = be.asarray(spec.V)
        elif source is not None and apply is not None:
            # lean path: the solver takes the only reference to U (and frees it after forming
            # H); a Schur fallback rebuilds it from the source
            box = [u]
            del u

            def handover() -> np.ndarray:
                return box.pop() if box else np.array(source(), dtype=np.complex128)

            spec = spectrum.diagonalize_unitary(
                handover, method=method, overwrite=True, backend=be, apply=apply
            )
        else:
            spec = spectrum.diagonalize_unitary(
                u, method=method, overwrite=overwrite, backend=be, apply=apply
            )

    return _after_spectrum(
        spec,
        be,
        clock,
        L=L,
        kind=kind,
        rates=lambda: bath.rate_matrix(spec.V),
        certify=lambda: spectrum.certify(
            spec, mul, unitarity_error=unit_err, exact=exact_certificate, overwritten=overwrite
        ),
        keep_S=keep_S,
        resonances=resonances,
        demixing_measure=demixing_measure,
        meta=meta,
        timings=timings,
        exact_certificate=exact_certificate,
    )


def analyze_sectors(
    blocks: Sequence[np.ndarray],
    sectors: Sequence[np.ndarray],
    *,
    keep_S: bool = False,
    resonances: bool = True,
    demixing_measure: str = "z",
    check: bool = True,
    meta: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
) -> SampleResult:
    """Analyse a Hamiltonian given by its blocks in the sectors of a conserved number of down
    spins (the random-field XXZ chain: total ``S^z``), sector by sector.

    The eigensolver (:func:`mbl_avalanche.spectrum.diagonalize_sectors`) costs about
    ``sum_n binom(L, n)**3`` and the rate matrix (:func:`mbl_avalanche.bath.rate_matrix_sectors`)
    is built from the block eigenvectors; it is block tridiagonal in the sectors, so for
    ``N >= 1024`` the slowest modes come from a block-Cholesky subspace iteration
    (:func:`mbl_avalanche.bath.slowest_modes` with ``groups``, cost about ``sum_n binom(L, n)**3``
    instead of ``N**3``); the top pair and the near-resonant set are those of
    :func:`analyze`.  The certificate's orthonormality and eigen-residual are
    exact max-norms over the blocks.  ``sectors`` must partition the basis and the Hamiltonian
    must conserve it (``X_L``, ``Y_L`` connect neighbouring sectors, ``Z_L`` stays in one).
    """
    timings = dict(timings or {})
    meta = dict(meta or {})
    be = get_backend("cpu")
    clock = _Stopwatch(timings, be)
    with clock.stage("diagonalise"):
        spec = spectrum.diagonalize_sectors(blocks, sectors, check=check)
    n = spec.N
    return _after_spectrum(
        spec,
        be,
        clock,
        L=n.bit_length() - 1,
        kind="hamiltonian",
        rates=lambda: bath.rate_matrix_sectors(spec.blocks or [], n),
        certify=lambda: spectrum.certify_sectors(spec),
        groups=bath.sector_groups(spec.blocks or []),
        keep_S=keep_S,
        resonances=resonances,
        demixing_measure=demixing_measure,
        meta=meta,
        timings=timings,
        exact_certificate=True,
    )


def _after_spectrum(
    spec: spectrum.Spectrum,
    be: Backend,
    clock: _Stopwatch,
    *,
    L: int,
    kind: str,
    rates: Callable[[], Any],
    certify: Callable[[], spectrum.SpectrumCertificate],
    keep_S: bool,
    resonances: bool,
    demixing_measure: str,
    meta: dict[str, Any],
    timings: dict[str, float],
    exact_certificate: bool,
    groups: Sequence[np.ndarray] | None = None,
) -> SampleResult:
    """The stages after the spectrum: rates, slowest mode, top pair, certificate, resonance.

    ``groups``: a partition in which ``S`` is block tridiagonal (sectors), for the slow modes.
    """
    with clock.stage("rates"):
        s = rates()
    with clock.stage("slowest_mode"):
        modes = bath.slowest_modes(s, groups=groups)

    with clock.stage("rest"):
        top = bath.top_pair(s, modes.c, modes.Gamma)
        spec.V = be.to_host(spec.V)
        cert = Certificate.compose(
            certify(),
            bath.row_sum_error(s),
            modes,
        )

    res = None
    if resonances:
        with clock.stage("resonance"):
            res = resonance.four_state_set(
                spec.V,
                spec.theta,
                modes.c,
                s,
                top.mu,
                top.nu,
                modes.Gamma,
                periodic=spec.periodic,
                measure=demixing_measure,
            )
    solver = spec.record_fields()
    meta.setdefault("method", solver.pop("method"))
    meta.setdefault("backend", be.name)
    meta.setdefault("exact_certificate", bool(exact_certificate))
    for key, value in solver.items():
        meta.setdefault(key, value)
    return SampleResult(
        L=L,
        kind=kind,
        theta=spec.theta,
        V=spec.V,
        c=modes.c,
        Gamma=modes.Gamma,
        Gamma_eig=modes.Gamma_eig,
        Gamma2=modes.Gamma2,
        mu=top.mu,
        nu=top.nu,
        D_top=top.D_top,
        R=top.R,
        certificate=cert,
        meta=meta,
        timings=timings,
        S=be.to_host(s) if keep_S else None,
        resonance=res,
    )


def analyze_sample(model: Model, sample: int, **kwargs: Any) -> SampleResult:
    """Build sample ``sample`` of ``model`` (any :class:`~mbl_avalanche.models.Model`) and
    analyse it.

    The result's ``meta`` holds the sample's record fields
    (:meth:`~mbl_avalanche.models.Model.record_fields`: the model family, its parameters, the
    sample index, seed, knobs and disorder realisation).  A unitary model is analysed by
    :func:`analyze`; on the CPU a model with a gate circuit (the Floquet model,
    :meth:`~mbl_avalanche.models.floquet.FloquetModel.circuit`) lets the fast solver apply
    ``U_F`` gate by gate and never hold it while ``eigh`` runs.  A Hamiltonian model with
    sectors (the XXZ chain) is analysed sector by sector (:func:`analyze_sectors`), any other
    by :func:`analyze` with ``kind="hamiltonian"``.  A user model's operator is validated.
    """
    if not isinstance(model, Model):
        raise InputTypeError(
            f"model={model!r} is not allowed: it must be a mbl_avalanche.models.Model instance "
            "(e.g. FloquetModel(L=8, alpha=30)); for a matrix use analyze(op, kind)"
        )
    builtin = type(model).__module__.startswith("mbl_avalanche.")
    meta = model.record_fields(sample)
    meta.update(kwargs.pop("meta", None) or {})
    t0 = time.perf_counter()
    if model.kind == "hamiltonian":
        sectors = model.sectors()
        if sectors is not None:
            if not builtin and sum(len(s) for s in sectors) != model.N:
                raise InputError(
                    f"model {model.family!r} at L={model.L} is not allowed: its sectors hold "
                    f"{sum(len(s) for s in sectors)} states, not 2**L = {model.N}"
                )
            blocks = model.sector_blocks(sample)
            timings = {"build": time.perf_counter() - t0}
            kwargs.pop("method", None)
            kwargs.pop("backend", None)
            return analyze_sectors(
                blocks, sectors, check=not builtin, meta=meta, timings=timings, **kwargs
            )
        h = model.operator(sample)
        if not builtin:
            _check_shape(model, h)
        timings = {"build": time.perf_counter() - t0}
        kwargs.pop("method", None)
        return analyze(h, "hamiltonian", check=not builtin, meta=meta, timings=timings, **kwargs)
    be = get_backend(kwargs.get("backend", "cpu"))
    on_device = be.is_gpu and builtin and hasattr(model, "unitary_on")
    make: Callable[[], Any]
    if on_device:  # U_F built on the GPU by its gate circuit (only the gates cross over)

        def make() -> Any:
            return model.unitary_on(sample, be.xp)  # type: ignore[attr-defined]
    else:

        def make() -> Any:
            return model.operator(sample)

    box = [make()]
    be.synchronize()
    if not builtin:
        _check_shape(model, box[0])
    t_build = time.perf_counter() - t0

    def build() -> Any:  # the first call hands over the built U, later calls rebuild
        return box.pop() if box else make()

    if not be.is_gpu:
        circuit = model.circuit(sample)
        if circuit is not None:
            kwargs.setdefault("apply", circuit)
    elif on_device:
        kwargs.setdefault("apply", model.circuit(sample, be.xp))  # type: ignore[call-arg]
    return analyze(
        build, "unitary", check=not builtin, meta=meta, timings={"build": t_build}, **kwargs
    )


def _check_shape(model: Model, op: Any) -> None:
    """A user model's operator must be ``2**L`` square (one-line :class:`InputError`)."""
    shape = np.shape(op)
    if shape != (model.N, model.N):
        raise InputError(
            f"model {model.family!r} at L={model.L} is not allowed: its operator has shape "
            f"{shape}, it must be 2**L x 2**L = {model.N}x{model.N}"
        )


def circuit_apply(model: FloquetModel, sample: int) -> Callable[[np.ndarray], np.ndarray]:
    """Deprecated: use ``model.circuit(sample)``
    (:meth:`~mbl_avalanche.models.floquet.FloquetModel.circuit`)."""
    warnings.warn(
        "analysis.circuit_apply(model, sample) is deprecated: use model.circuit(sample)",
        DeprecationWarning,
        stacklevel=2,
    )
    return model.circuit(sample)
