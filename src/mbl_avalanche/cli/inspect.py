"""``mbl-avalanche inspect``: draw one sample (spectrum, slowest mode, currents, resonance)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ._output import check_output_file, output_errors
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
    p.add_argument(
        "--currents", type=int, default=20, help="strongest currents drawn (1..1000, default 20)"
    )
    p.set_defaults(func=run)


#: Most currents drawn (arcs; beyond a few hundred the panel is a solid smear).
MAX_CURRENTS = 1000


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.currents <= MAX_CURRENTS:
        raise InputError(
            f"--currents {args.currents} is not allowed: it must be an integer in 1..{MAX_CURRENTS}"
        )
    out = check_output_file(args.plot, "--plot", (".png", ".pdf", ".svg"))
    from ..figures.inspect import save_inspector

    r = sample_from_args(args, keep_S=True)
    print(format_summary(r))
    with output_errors("--plot", args.plot):
        save_inspector(r, out, args.currents)
    print(f"wrote {out}")
    return 0
