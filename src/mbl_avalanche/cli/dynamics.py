"""``mbl-avalanche dynamics``: exact open-system dynamics of one sample at finite bath coupling.

A Floquet unitary (the model's, or ``--unitary U.npy``) evolves by the one-period channel of
Eq. (1); a Hamiltonian (``--hamiltonian H.npy``) by the Lindblad equation with the same bath
(conventions, section 1b), with ``t`` in units of ``1/J``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..analysis import analyze_sample
from ..dynamics import (
    DEFAULT_SWEEP_GAMMAS,
    DEFAULT_SWEEP_GAMMAS_HAMILTONIAN,
    MAX_L,
    MAX_MODES,
    MAX_TIMES,
    DynamicsResult,
    Kind,
    check_dynamics_L,
    check_gamma,
    run_dynamics,
)
from ..errors import InputError
from ..models.custom import check_hermitian, check_unitary, load_matrix
from ..models.protocol import check_number
from ._output import check_output_file, output_errors
from .sample import (
    about_file,
    add_model_arguments,
    check_matrix_L,
    jsonable,
    model_from_args,
)

__all__ = [
    "format_summary",
    "register",
    "run",
]


#: File types of ``--plot``.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dynamics",
        help=f"exact open-system dynamics at finite gamma (L <= {MAX_L})",
        description="The one-period channel S_bath[U rho U^dagger] of Eq. (1) at finite bath "
        "coupling gamma (or, with --hamiltonian, the Lindblad evolution with jump operators "
        "sqrt(gamma) X_L, Y_L, Z_L): its slowest relaxation rate r_1 (compared with 3 gamma Gamma "
        "of the weak-coupling limit), rho(t) of Eq. (2) as <Z_i>(t) per site, and optionally a "
        "gamma sweep showing r_1/(3 gamma) -> Gamma.",
    )
    add_model_arguments(p, L_help=f"chain length (2..{MAX_L})")
    p.add_argument("--unitary", metavar="U.npy", help="use this unitary (2**L x 2**L) instead")
    p.add_argument(
        "--hamiltonian",
        metavar="H.npy",
        help="use this Hermitian matrix (2**L x 2**L) and its Lindblad evolution instead "
        "(t in units of 1/J; not with --unitary)",
    )
    p.add_argument("--gamma", type=float, required=True, help="bath coupling gamma (> 0)")
    p.add_argument(
        "--initial",
        default="up",
        help="initial state: 'up' (default), 'tau' (1/2^L + p tau_S) or a bit string s_1..s_L "
        "(0 = up)",
    )
    p.add_argument(
        "--n-relax",
        type=float,
        default=20.0,
        help="evolve up to this many 1/r_1 (periods, or 1/J for a Hamiltonian; default 20)",
    )
    p.add_argument(
        "--times", type=int, default=200, help="number of time points (2..100000, default 200)"
    )
    p.add_argument(
        "--method",
        choices=("auto", "spectral", "step"),
        default="auto",
        help="rho(t) from the dense spectral decomposition (auto: L <= 5) or by stepping",
    )
    p.add_argument("--modes", type=int, default=4, help="slow modes to compute (1..32, default 4)")
    p.add_argument(
        "--sweep",
        nargs="*",
        type=float,
        metavar="GAMMA",
        default=None,
        help="also sweep gamma (default values 1e-1 .. 1e-8; 1e-1 .. 1e-4 for a Hamiltonian) and "
        "tabulate r_1/(3 gamma) vs Gamma",
    )
    p.add_argument(
        "--plot", metavar="OUT.png", help="write <Z_i>(t) (and the sweep) to this .png/.pdf/.svg"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=run)


def _operator_and_result(args: argparse.Namespace) -> tuple[np.ndarray, Any, Kind]:
    if args.unitary and args.hamiltonian:
        raise InputError("--unitary and --hamiltonian are not allowed together: give one of them")
    if args.hamiltonian:
        m = load_matrix(args.hamiltonian, "Hamiltonian")
        L = check_matrix_L(args, m, "hamiltonian")
        with about_file("--hamiltonian", args.hamiltonian):
            check_dynamics_L(L)
            check_hermitian(m)  # the checks of the channel, told which file they judged
        return m, None, "hamiltonian"
    if args.unitary:
        m = load_matrix(args.unitary, "unitary")
        L = check_matrix_L(args, m, "unitary")
        with about_file("--unitary", args.unitary):
            check_dynamics_L(L)
            check_unitary(m)
        return m, None, "unitary"
    if args.L is not None:
        check_dynamics_L(args.L)
    model = model_from_args(args)
    check_dynamics_L(model.L)
    return model.operator(args.sample), analyze_sample(model, args.sample), model.kind


def format_summary(res: DynamicsResult) -> str:
    """A readable multi-line summary."""
    d = res.scalars()
    ch, m, tr = res.channel, res.modes, res.trajectory
    hamiltonian = ch.kind == "hamiltonian"
    if d.get("model", "floquet") == "floquet" and "alpha" in d:
        head = f"L={ch.L} alpha={d['alpha']:g} sample={d['sample']} seed={d['seed']}"
    elif "model" in d:
        from .. import record

        params = " ".join(f"{k}={d[k]:g}" for k in record.MODEL_PARAMETERS.get(d["model"], ()))
        head = f"L={ch.L} {d['model']} {params} sample={d['sample']} seed={d['seed']}"
    else:
        what = "Hamiltonian" if hamiltonian else "unitary"
        head = f"L={ch.L} {what} from {d.get('source', 'array')}"
    if hamiltonian:
        exact = "(exact Lindbladian)"
        prediction = f"(prediction kappa gamma^2 = {d['predicted_rel_diff']:+.3e}, kappa = "
        prediction += f"{d['kappa']:+.4g})"
        per, unit = "per unit time (1/J)", "(1/J)"
    else:
        exact = "(exact channel) "
        prediction = f"(prediction -gamma = {-ch.gamma:+.3e})"
        per, unit = "per period", "periods"
    t_end = tr.times[-1]
    t_text = f"{t_end:.6g}" if hamiltonian else f"{t_end}"
    lines = [
        f"{head}  gamma={ch.gamma:g}",
        f"  Gamma (weak coupling, Eq. 5)     = {ch.Gamma:.10e}",
        f"  r_1 / (3 gamma) {exact} = {m.r1_over_3gamma:.10e}",
        f"  relative difference              = {d['rel_diff']:+.3e}   {prediction}",
        f"  r_1 = {m.r1:.6e} {per}; population weight {d['population_weight']:.6f}, "
        f"overlap with tau_S {d['tau_overlap']:.6f}, residual {d['residual']:.1e}",
        "  slow modes (Re r_k / 3 gamma, population weight): "
        + ", ".join(
            f"{r / (3 * ch.gamma):.5g} ({w:.3f})"
            for r, w in zip(m.rates.real, m.population_weight, strict=True)
        ),
        f"  rho(t) from initial '{tr.initial}' by {tr.method}, t up to {t_text} {unit} "
        f"(= {t_end * m.r1:.3g} / r_1)",
        f"    late-time decay rate / r_1     = {d['late_rate_over_r1']:.6f}",
        "    1/e relaxation time of <Z_i>   = "
        + ", ".join(f"site {i + 1}: {t:.4g}" for i, t in enumerate(d["site_relaxation_times"])),
    ]
    if not d["population_mode_slowest_first_order"]:
        lines.append(
            "  note: Gamma >= 2/3, so coherences |m><n| (first-order rates >= 2 gamma) may decay "
            "slower than this population mode"
        )
    if tr.method == "spectral":
        lines.append(f"    eigenbasis reconstruction error {tr.reconstruction_error:.1e}")
    if res.sweep is not None:
        lines.append("  gamma sweep:")
        lines.extend("    " + ln for ln in res.sweep.table().splitlines())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    gamma = check_gamma(args.gamma)
    if not 2 <= args.times <= MAX_TIMES:
        raise InputError(
            f"--times {args.times} is not allowed: it must be an integer in 2..{MAX_TIMES}"
        )
    if not 1 <= args.modes <= MAX_MODES:
        raise InputError(
            f"--modes {args.modes} is not allowed: it must be an integer in 1..{MAX_MODES}"
        )
    plot = check_output_file(args.plot, "--plot", PLOT_SUFFIXES) if args.plot else None
    for g in args.sweep or ():  # checked before the sample is analysed
        check_number("--sweep", g, minimum=0.0, minimum_open=True)
    op, result, kind = _operator_and_result(args)
    sweep = None
    if args.sweep is not None:
        default = DEFAULT_SWEEP_GAMMAS if kind == "unitary" else DEFAULT_SWEEP_GAMMAS_HAMILTONIAN
        sweep = [check_number("--sweep", g, minimum=0.0, minimum_open=True) for g in args.sweep]
        sweep = sweep or list(default)
    res = run_dynamics(
        op,
        gamma,
        kind=kind,
        result=result,
        initial=args.initial,
        n_relax=args.n_relax,
        n_times=args.times,
        method=args.method,
        k=args.modes,
        sweep=sweep,
    )
    if args.unitary or args.hamiltonian:
        res.channel.result.meta.setdefault("source", str(args.unitary or args.hamiltonian))
    if plot is not None:
        from ..figures.dynamics import plot_trajectory

        with output_errors("--plot", args.plot):
            plot_trajectory(res, plot)
    if args.json:
        print(json.dumps(jsonable(res.scalars()), indent=2))
    else:
        print(format_summary(res))
        if args.plot:
            print(f"  plot written to {args.plot}")
    return 0
