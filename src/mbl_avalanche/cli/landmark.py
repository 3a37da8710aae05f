"""``mbl-avalanche landmark``: the avalanche landmark of a run, per pair of L (text or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ._output import check_output_dir, output_errors
from .report import add_bootstrap_arguments, check_bootstrap_arguments

if TYPE_CHECKING:
    from ..landmark import Landmark

__all__ = ["format_landmark", "register", "run"]

_FORMATS = ("png", "pdf", "svg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "landmark",
        help="the avalanche landmark: where mean ln Gamma falls by ln 4 per site",
        description="Typical slowest rate ln Gamma_typ(L) = mean ln Gamma per parameter value and "
        "L, its slope between consecutive L, and the parameter value where that slope crosses "
        "-ln 4 (the avalanche landmark, conventions section 2b) for every pair of L and for a "
        "joint fit over the largest L, with bootstrap intervals.",
    )
    p.add_argument(
        "run_path",
        metavar="RUN",
        help="run directory (mbl-avalanche run / reproduce), a folder of run directories, or a "
        ".parquet/.csv table",
    )
    p.add_argument(
        "--parameter",
        default=None,
        metavar="NAME",
        help="the scanned column (default: the model's, alpha for floquet, W for heisenberg)",
    )
    p.add_argument(
        "--model", default=None, metavar="NAME", help="model family (needed if the run has several)"
    )
    p.add_argument(
        "--top", type=int, default=3, metavar="K", help="joint fit over the largest K L (default 3)"
    )
    p.add_argument(
        "--max-below-precision",
        type=float,
        default=None,
        metavar="F",
        help="leave out cells (parameter, L) where more than this fraction of Gamma is below "
        "double precision (flag gamma_below_precision; default 0.05, 1 keeps all)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", default=None, metavar="DIR", help="write the three figures to DIR")
    p.add_argument(
        "--format",
        nargs="+",
        default=["png", "pdf"],
        choices=_FORMATS,
        metavar="FMT",
        help="figure formats: png, pdf, svg (default png pdf)",
    )
    add_bootstrap_arguments(p)
    p.set_defaults(func=run)


def _check_plot_dir(path: str) -> Path:
    """``path`` if a folder can be made or written there (nothing is created yet)."""
    return check_output_dir(path, "--plot")


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _crossing_text(d: dict[str, Any]) -> str:
    if d.get("crossing") is None:
        text = f"not bracketed: {d.get('reason')}"
    else:
        text = _num(d["crossing"])
    if d.get("low") is not None and d.get("high") is not None:
        text += f" [{_num(d['low'])}, {_num(d['high'])}]"
    if d.get("note"):
        text += f"  ({d['note']})"
    return text


def format_landmark(result: Landmark, source: str = "") -> str:
    """The readable table that ``mbl-avalanche landmark`` prints."""
    par = result.parameter
    pct = f"{100 * result.level:g}%"
    lines = [
        f"avalanche landmark{f' of {source}' if source else ''}: model {result.model}, "
        f"parameter {par}",
        f"slope of ln Gamma_typ = mean ln Gamma per added site crosses -ln 4 = -1.386 at "
        f"{par}_c ({pct} bootstrap intervals, {result.n_boot} resamples, seed {result.seed})",
        "",
        f"{'L1-L2':>8}  {par}_c [low, high]",
    ]
    for pair in result.pairs:
        L1, L2 = pair["L"]
        lines.append(f"{f'{L1}-{L2}':>8}  {_crossing_text(pair)}")
    fit = result.fit
    if fit.get("L"):
        lines.append(
            f"{'fit':>8}  L = {', '.join(map(str, fit['Ls']))} (weighted least squares): "
            f"{_crossing_text(fit)}"
        )
    else:
        lines.append(f"{'fit':>8}  {fit.get('reason')}")
    lines += ["", f"slopes d ln Gamma_typ / dL ({pct} intervals); -ln 4 = -1.386"]
    pair_names = [f"{p['L'][0]}-{p['L'][1]}" for p in result.pairs]
    if fit.get("L"):
        pair_names.append(f"fit {fit['L'][0]}-{fit['L'][1]}")
    lines.append(f"{par:>8}  " + "  ".join(f"{n:>24}" for n in pair_names))
    sl = result.slopes
    fit_by_p = {float(r[par]): r for r in fit.get("slopes", [])}
    for p in result.values:
        cells = []
        for pair in result.pairs:
            L1, L2 = pair["L"]
            row = sl[(sl[par] == p) & (sl["L1"] == L1) & (sl["L2"] == L2)]
            if len(row):
                r = row.iloc[0]
                cells.append(f"{r['slope']:.3f} [{r['low']:.3f}, {r['high']:.3f}]")
            else:
                cells.append("-")
        if fit.get("L"):
            f = fit_by_p.get(p)
            cells.append(
                "-" if f is None else f"{f['slope']:.3f} [{f['low']:.3f}, {f['high']:.3f}]"
            )
        lines.append(f"{p:>8g}  " + "  ".join(f"{c:>24}" for c in cells))
    counts = result.typical.groupby("L")["n"].agg(["min", "max"])
    per_L = ", ".join(
        f"L={int(L)}: {int(r['min'])}" + (f"-{int(r['max'])}" if r["max"] != r["min"] else "")
        for L, r in counts.iterrows()
    )
    lines += ["", f"samples per ({par}, L) cell: {per_L}"]
    if result.dropped:
        lines.append(
            "rows left out: " + ", ".join(f"{n} ({why})" for why, n in result.dropped.items())
        )
    if result.excluded:
        lines.append(
            "cells left out (Gamma below double precision in more than the allowed share): "
            + ", ".join(
                f"{par}={e[par]:g} L={e['L']} ({100 * e['below_precision']:.0f}%)"
                for e in result.excluded
            )
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..landmark import MAX_BELOW_PRECISION, landmark
    from ..table import load_table

    check_bootstrap_arguments(args)
    if args.top < 2:
        raise InputError(f"--top {args.top} is not allowed: it must be >= 2")
    below = MAX_BELOW_PRECISION if args.max_below_precision is None else args.max_below_precision
    if not 0.0 <= below <= 1.0:
        raise InputError(
            f"--max-below-precision {below:g} is not allowed: it must be a fraction in [0, 1]"
        )
    if not Path(args.run_path).exists():
        raise InputError(
            f"RUN={args.run_path!r} does not exist: give a run directory, a folder of run "
            "directories or a .parquet/.csv table"
        )
    plot_dir = _check_plot_dir(args.plot) if args.plot else None
    df = load_table(args.run_path)
    result = landmark(
        df,
        args.parameter,
        model=args.model,
        top=args.top,
        n_boot=args.n_boot,
        level=args.level,
        seed=args.boot_seed,
        max_below_precision=below,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_landmark(result, str(args.run_path)))
    if plot_dir is not None:
        from ..figures.landmark import write_landmark_figures

        with output_errors("--plot", plot_dir):
            paths = write_landmark_figures(result, plot_dir, tuple(dict.fromkeys(args.format)))
        print(
            "wrote " + ", ".join(str(p) for p in paths),
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0
