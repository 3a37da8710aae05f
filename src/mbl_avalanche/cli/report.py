"""``mbl-avalanche report``: the paper's claims checked on a run (Markdown + JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ._output import check_output_dir, output_errors
from .figures import add_table_arguments, default_out, regimes_from_args

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "add_bootstrap_arguments",
    "check_bootstrap_arguments",
    "make",
    "register",
    "run",
]


def add_bootstrap_arguments(p: argparse.ArgumentParser) -> None:
    """Bootstrap options of the report."""
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)"
    )
    p.add_argument("--boot-seed", type=int, default=0, help="seed of the bootstrap (default 0)")


def check_bootstrap_arguments(args: argparse.Namespace) -> None:
    """Raise :class:`InputError` for bad bootstrap options (the report's own check,
    :func:`mbl_avalanche.report.check_bootstrap`, under the flags' names)."""
    from ..report import check_bootstrap

    check_bootstrap(args.n_boot, args.level, args.boot_seed, ("--n-boot", "--level", "--boot-seed"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="check the paper's claims on a run (Markdown + JSON)",
        description="Each claim of the paper measured on the run with its sample count, a "
        "bootstrap interval and a verdict against a stated criterion; writes report.md and "
        "report.json and prints the summary table.",
    )
    add_table_arguments(p)
    add_bootstrap_arguments(p)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default OUTDIR)")
    p.set_defaults(func=run)


def make(args: argparse.Namespace, df: pd.DataFrame, out: Path, source: str) -> tuple[Path, Path]:
    """Write the report of ``df`` into ``out``, print its summary table; return the paths."""
    from ..report import write_report

    regimes, model = regimes_from_args(args, df)
    md, js, _ = write_report(
        df,
        out,
        model=model,
        regimes=regimes,
        n_boot=args.n_boot,
        level=args.level,
        seed=args.boot_seed,
        L=args.fig4_L,
        alpha=args.fig4_alpha,
        source=source,
    )
    text = md.read_text()
    print(text.split("\n## Details")[0].rstrip())
    print(f"\nwrote {md} and {js}")
    return md, js


def run(args: argparse.Namespace) -> int:
    from ..table import load_table

    check_bootstrap_arguments(args)
    out = Path(args.out) if args.out else default_out(args.outdir, "")
    check_output_dir(out, "--out")
    df = load_table(args.outdir)
    with output_errors("--out", out):
        make(args, df, out, str(args.outdir))
    return 0
