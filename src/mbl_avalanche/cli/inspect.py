"""``mbl-avalanche inspect``: draw one sample (spectrum, slowest mode, currents, resonance)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from .sample import add_source_arguments, format_summary, sample_from_args

__all__ = [
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="draw one sample: spectrum, c_n, strongest currents, resonance profile",
        description="Analyse one sample and draw the four-panel inspector to --plot.",
    )
    add_source_arguments(p)
    p.add_argument("--plot", required=True, metavar="OUT.png", help="figure file (png/pdf/svg)")
    p.add_argument("--currents", type=int, default=20, help="strongest currents drawn (>= 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.plot)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"--plot {args.plot!r} is not allowed: use a .png, .pdf or .svg name")
    if not out.parent.exists():
        raise InputError(
            f"--plot {args.plot!r} is not allowed: folder {str(out.parent)!r} does not exist"
        )
    if args.currents < 1:
        raise InputError(f"--currents {args.currents} is not allowed: it must be >= 1")
    from ..figures.inspect import save_inspector

    r = sample_from_args(args, keep_S=True)
    print(format_summary(r))
    save_inspector(r, out, args.currents)
    print(f"wrote {out}")
    return 0
