"""``mbl-avalanche dynamics``: exact open-system dynamics of one sample at finite bath coupling."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..analysis import analyze_sample
from ..dynamics import (
    DEFAULT_SWEEP_GAMMAS,
    MAX_L,
    DynamicsResult,
    check_dynamics_L,
    check_gamma,
    run_dynamics,
)
from ..errors import InputError
from ..models.custom import chain_length, load_matrix
from ..models.floquet import FloquetModel, check_alpha
from .sample import add_model_arguments, jsonable

__all__ = [
    "format_summary",
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dynamics",
        help=f"exact open-system dynamics at finite gamma (L <= {MAX_L})",
        description="The one-period channel S_bath[U rho U^dagger] of Eq. (1) at finite bath "
        "coupling gamma: its slowest relaxation rate r_1 (compared with 3 gamma Gamma of the "
        "weak-coupling limit), rho(t) of Eq. (2) as <Z_i>(t) per site, and optionally a gamma "
        "sweep showing r_1/(3 gamma) -> Gamma.",
    )
    add_model_arguments(p, L_help=f"chain length (2..{MAX_L})")
    p.add_argument("--unitary", metavar="U.npy", help="use this unitary (2**L x 2**L) instead")
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
        help="evolve up to this many 1/r_1 periods (default 20)",
    )
    p.add_argument("--times", type=int, default=200, help="number of time points (default 200)")
    p.add_argument(
        "--method",
        choices=("auto", "spectral", "step"),
        default="auto",
        help="rho(t) from the dense spectral decomposition (auto: L <= 5) or by stepping",
    )
    p.add_argument("--modes", type=int, default=4, help="slow modes to compute (default 4)")
    p.add_argument(
        "--sweep",
        nargs="*",
        type=float,
        metavar="GAMMA",
        default=None,
        help="also sweep gamma (default values 1e-1 .. 1e-8) and tabulate r_1/(3 gamma) vs Gamma",
    )
    p.add_argument("--plot", metavar="OUT.png", help="write <Z_i>(t) (and the sweep) to this file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=run)


def _unitary_and_result(args: argparse.Namespace) -> tuple[np.ndarray, Any]:
    if args.unitary:
        m = load_matrix(args.unitary, "unitary")
        if m.ndim == 2 and m.shape[0] == m.shape[1]:
            check_dynamics_L(chain_length(int(m.shape[0]), "unitary"))
        return m, None
    if args.L is None or args.alpha is None:
        raise InputError("--L and --alpha are required (or give --unitary)")
    L = check_dynamics_L(args.L)
    check_alpha(args.alpha)
    model = FloquetModel(
        L=L,
        alpha=args.alpha,
        seed=args.seed,
        gue_scale=args.gue_scale,
        layer_order=args.layer_order,
    )
    return model.unitary(args.sample), analyze_sample(model, args.sample)


def format_summary(res: DynamicsResult) -> str:
    """A readable multi-line summary."""
    d = res.scalars()
    ch, m, tr = res.channel, res.modes, res.trajectory
    head = (
        f"L={ch.L} alpha={d['alpha']:g} sample={d['sample']} seed={d['seed']}"
        if "alpha" in d
        else f"L={ch.L} unitary from {d.get('source', 'array')}"
    )
    lines = [
        f"{head}  gamma={ch.gamma:g}",
        f"  Gamma (weak coupling, Eq. 5)     = {ch.Gamma:.10e}",
        f"  r_1 / (3 gamma) (exact channel)  = {m.r1_over_3gamma:.10e}",
        f"  relative difference              = {d['rel_diff']:+.3e}"
        f"   (prediction -gamma = {-ch.gamma:+.3e})",
        f"  r_1 = {m.r1:.6e} per period; population weight {d['population_weight']:.6f}, "
        f"overlap with tau_S {d['tau_overlap']:.6f}, residual {d['residual']:.1e}",
        "  slow modes (Re r_k / 3 gamma, population weight): "
        + ", ".join(
            f"{r / (3 * ch.gamma):.5g} ({w:.3f})"
            for r, w in zip(m.rates.real, m.population_weight, strict=True)
        ),
        f"  rho(t) from initial '{tr.initial}' by {tr.method}, t up to {tr.times[-1]} periods "
        f"(= {tr.times[-1] * m.r1:.3g} / r_1)",
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
    if args.times < 2:
        raise InputError(f"--times {args.times} is not allowed: it must be >= 2")
    if args.modes < 1:
        raise InputError(f"--modes {args.modes} is not allowed: it must be >= 1")
    u, result = _unitary_and_result(args)
    sweep = None
    if args.sweep is not None:
        sweep = list(args.sweep) or list(DEFAULT_SWEEP_GAMMAS)
    res = run_dynamics(
        u,
        gamma,
        result=result,
        initial=args.initial,
        n_relax=args.n_relax,
        n_times=args.times,
        method=args.method,
        k=args.modes,
        sweep=sweep,
    )
    if args.unitary:
        res.channel.result.meta.setdefault("source", str(args.unitary))
    if args.plot:
        from ..figures.dynamics import plot_trajectory

        plot_trajectory(res, args.plot)
    if args.json:
        print(json.dumps(jsonable(res.scalars()), indent=2))
    else:
        print(format_summary(res))
        if args.plot:
            print(f"  plot written to {args.plot}")
    return 0
