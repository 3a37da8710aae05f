"""``mbl-avalanche reproduce``: run a preset grid, then the figures and the report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from ..models.floquet import DEFAULT_SEED
from ..resources import cpu_count
from .figures import add_table_arguments
from .report import add_bootstrap_arguments, check_bootstrap_arguments

__all__ = [
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    from ..reproduce import PRESETS

    p = sub.add_parser(
        "reproduce",
        help="run a preset grid, then figures and report (resumable)",
        description="Runs the preset's (L, alpha) grid with the ensemble runner (resumable: run "
        "it again to continue), then writes OUTDIR/figures/*.png|pdf and OUTDIR/report.md|json. "
        "quick: L = 6..9, alpha = 30 and 1, 160 samples each (about 5-10 minutes on 2 cores). "
        "paper: L = 6..11 with 10^4 samples and L = 12 with 2000 (one run directory), for a "
        "workstation or cluster.",
    )
    add_table_arguments(p)
    p.add_argument(
        "--preset", choices=tuple(PRESETS), default="quick", help="grid to run (default quick)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"worker processes (default: all usable cores, here {cpu_count()})",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="root seed of the samples")
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples per (L, alpha) for every block (overrides the preset)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and time estimate only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_bootstrap_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..reproduce import describe, plan, run_blocks
    from . import figures as fig_cli
    from . import report as rep_cli

    check_bootstrap_arguments(args)
    workers = cpu_count() if args.workers is None else args.workers
    if workers < 1:
        raise InputError(f"--workers {workers} is not allowed: it must be >= 1")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed} is not allowed: it must be >= 0")
    blocks = plan(args.preset, args.samples)
    out = Path(args.outdir)
    if out.exists() and not out.is_dir():
        raise InputError(f"OUTDIR={args.outdir!r} is not allowed: it is a file, not a folder")
    print(f"reproduce --preset {args.preset} -> {out}")
    print(describe(blocks, workers))
    if args.dry_run:
        return 0
    t0 = time.perf_counter()
    done = run_blocks(
        out, blocks, seed=args.seed, workers=workers, progress=False if args.no_progress else None
    )
    t_run = time.perf_counter() - t0
    failed = sum(int(getattr(s, "computed_failed", 0) or 0) for _, s in done)
    if failed:
        print(
            f"warning: {failed} samples failed (see mbl-avalanche status; rerun with "
            "mbl-avalanche run --retry-failed)"
        )
    if any(getattr(s, "interrupted", False) for _, s in done):
        print("interrupted: finished samples are kept; run the same command again to continue")
        return 130
    from ..table import load_table

    df = load_table(out)
    print(f"ensemble: {len(df)} samples in {out} ({t_run:.0f} s this call)")
    fig_cli.make(args, df, out / "figures")
    rep_cli.make(args, df, out, str(out))
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0
