"""``mbl-avalanche figures``: the paper's figures (PNG and PDF) from a run directory or table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..figures.paper import FIGURES
from ..stats import MBL_ALPHA_MIN, THERMAL_ALPHA_MAX, Regimes
from ._output import check_output_dir, output_errors

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "add_table_arguments",
    "default_out",
    "make",
    "regimes_from_args",
    "register",
    "run",
]


def add_table_arguments(p: argparse.ArgumentParser) -> None:
    """``OUTDIR`` and the options that choose regimes and the Fig. 4 selection."""
    p.add_argument(
        "outdir",
        metavar="OUTDIR",
        help="run directory (mbl-avalanche run / reproduce), a folder of run "
        "directories, or a .parquet/.csv table",
    )
    p.add_argument(
        "--model",
        default=None,
        help="the model whose samples are used (default: the table's only model)",
    )
    p.add_argument(
        "--mbl-alpha-min",
        "--mbl-min",
        dest="mbl_alpha_min",
        type=float,
        default=None,
        help=f"disorder parameter >= this is MBL (default: the model's; Floquet alpha "
        f">= {MBL_ALPHA_MIN:g}, Heisenberg W >= 8)",
    )
    p.add_argument(
        "--thermal-alpha-max",
        "--thermal-max",
        dest="thermal_alpha_max",
        type=float,
        default=None,
        help=f"disorder parameter <= this is thermal (default: the model's; Floquet alpha "
        f"<= {THERMAL_ALPHA_MAX:g}, Heisenberg W <= 1)",
    )
    p.add_argument(
        "--mbl-alpha",
        "--mbl-values",
        dest="mbl_alpha",
        type=float,
        nargs="+",
        default=None,
        metavar="A",
        help="explicit MBL values of the disorder parameter (override --mbl-min)",
    )
    p.add_argument(
        "--thermal-alpha",
        "--thermal-values",
        dest="thermal_alpha",
        type=float,
        nargs="+",
        default=None,
        metavar="A",
        help="explicit thermal values of the disorder parameter (override --thermal-max)",
    )
    p.add_argument(
        "--fig4-L",
        type=int,
        default=None,
        metavar="L",
        help="L of Fig. 4 and of the near-resonance claims (default: largest)",
    )
    p.add_argument(
        "--fig4-alpha",
        type=float,
        default=None,
        metavar="A",
        help="MBL value of the disorder parameter (alpha, W) of Fig. 4 and of the claims "
        "(default: most sampled)",
    )


def regimes_from_args(args: argparse.Namespace, df: pd.DataFrame) -> tuple[Regimes, str]:
    """The model (``--model``, else the table's only one) and the
    :class:`~mbl_avalanche.stats.Regimes` that the options ask for (the model's defaults)."""
    from ..models.protocol import check_number
    from ..stats import select_model

    for flag, key in (("--mbl-min", "mbl_alpha_min"), ("--thermal-max", "thermal_alpha_max")):
        if getattr(args, key, None) is not None:
            check_number(flag, getattr(args, key))
    for flag, key in (("--mbl-values", "mbl_alpha"), ("--thermal-values", "thermal_alpha")):
        for v in getattr(args, key, None) or ():
            check_number(flag, v)
    _, model = select_model(df, getattr(args, "model", None))
    regimes = Regimes.for_model(
        model,
        mbl_min=args.mbl_alpha_min,
        thermal_max=args.thermal_alpha_max,
        mbl=tuple(args.mbl_alpha) if args.mbl_alpha else None,
        thermal=tuple(args.thermal_alpha) if args.thermal_alpha else None,
    )
    return regimes, model


def default_out(outdir: str, name: str) -> Path:
    """``OUTDIR/name`` for a directory, ``<folder of the file>/name`` for a table file."""
    p = Path(outdir)
    return (p.parent if p.is_file() else p) / name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "figures",
        help="the paper's figures (PNG + PDF) from a run",
        description="Fig. 2 (R distributions), Fig. 4 (near-resonant set), x/L, Z_jump, "
        "mean ln Gamma against L and Gamma_2/Gamma, drawn from a run directory or a table. "
        "Figures whose columns are missing are skipped with a note.",
    )
    add_table_arguments(p)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (OUTDIR/figures)")
    p.add_argument(
        "--format",
        nargs="+",
        default=["png", "pdf"],
        choices=["png", "pdf", "svg"],
        help="file formats (default png pdf)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        choices=[name for name, _ in FIGURES],
        help="draw only these figures: " + ", ".join(name for name, _ in FIGURES),
    )
    p.set_defaults(func=run)


def make(args: argparse.Namespace, df: pd.DataFrame, out: Path) -> int:
    """Draw the figures of ``df`` into ``out`` and print what was written; returns #written."""
    from ..figures import make_figures

    regimes, model = regimes_from_args(args, df)
    records = make_figures(
        df,
        out,
        regimes=regimes,
        fig4_L=args.fig4_L,
        fig4_alpha=args.fig4_alpha,
        formats=tuple(getattr(args, "format", ("png", "pdf"))),
        only=getattr(args, "only", None),
        model=model,
    )
    for r in records:
        if r.skipped:
            print(f"{r.name}: {r.note}")
        else:
            note = f"  ({r.note})" if r.note else ""
            print(f"wrote {', '.join(str(p) for p in r.paths)}{note}")
    return sum(not r.skipped for r in records)


def run(args: argparse.Namespace) -> int:
    from ..table import load_table

    out = Path(args.out) if args.out else default_out(args.outdir, "figures")
    check_output_dir(out, "--out")
    df = load_table(args.outdir)
    with output_errors("--out", out):
        n = make(args, df, out)
    if n == 0:
        raise InputError(f"OUTDIR={args.outdir!r}: no figure could be drawn from its table")
    return 0
