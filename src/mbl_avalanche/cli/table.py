"""``mbl-avalanche table``: the run directory as one table (Parquet or CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..ensemble.store import load_run
from ..errors import InputError
from ..table import TABLE_FORMATS, write_table
from ._output import check_output_file, output_errors

__all__ = [
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "table",
        help="write the table of a run directory (one row per sample)",
        description="One row per finished sample, sorted by (L, alpha, sample), no duplicates.",
    )
    p.add_argument("outdir", metavar="OUTDIR", help="run directory")
    p.add_argument(
        "--format",
        choices=TABLE_FORMATS,
        default=None,
        help="file format (default: from the -o suffix, else csv)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="output file (csv: default stdout)")
    p.add_argument("--ok-only", action="store_true", help="leave out failed samples")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fmt = args.format
    if fmt is None:
        fmt = "parquet" if args.output and Path(args.output).suffix == ".parquet" else "csv"
    if fmt == "parquet" and not args.output:
        raise InputError("--format parquet needs -o FILE (Parquet is not written to stdout)")
    if args.output:
        check_output_file(args.output, "--output")
    df = load_run(args.outdir, failed=not args.ok_only)
    if args.output:
        with output_errors("--output", args.output):
            write_table(df, args.output, fmt)
        print(f"{len(df)} samples -> {args.output}", file=sys.stderr)
        return 0
    try:
        write_table(df, sys.stdout, fmt)
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
    return 0
