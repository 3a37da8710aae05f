"""``mbl-avalanche reproduce``: run a preset grid, then the figures and the report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from ..models.floquet import DEFAULT_SEED
from ..resources import cpu_count
from ._output import check_output_dir, output_errors
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
        description="Runs the preset's grid with the ensemble runner (resumable: run it again to "
        "continue), then writes OUTDIR/figures/*.png|pdf and OUTDIR/report.md|json. "
        "quick: L = 6..9, alpha = 30 and 1, 160 samples each (about a minute on 2 cores). "
        "paper: L = 6..11 with 10^4 samples and L = 12 with 2000 (one run directory), for a "
        "workstation or cluster. landmark: the avalanche landmark of the Floquet circuit (alpha "
        "scan) and the Heisenberg chain (W scan), L = 6..10, 1000 samples per grid point, in "
        "OUTDIR/floquet and OUTDIR/heisenberg, each with landmark.json|txt, its figures and "
        "report, and OUTDIR/landmark.md; landmark-quick: the same, coarser (minutes on 2 "
        "cores). --dry-run prints the grid and the time the measured cost model estimates.",
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
        help="samples per grid point for every block (overrides the preset)",
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
    out = check_output_dir(args.outdir, "OUTDIR")
    # every block's configuration is validated before the first one runs (hours may pass)
    run_blocks(out, blocks, seed=args.seed, workers=workers, runner=_validate_block)
    print(f"reproduce --preset {args.preset} -> {out}")
    print(describe(blocks, workers))
    if args.dry_run:
        return 0
    t0 = time.perf_counter()
    with output_errors("OUTDIR", out):
        done = run_blocks(
            out,
            blocks,
            seed=args.seed,
            workers=workers,
            progress=False if args.no_progress else None,
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
    from ..reproduce import PRESET_KIND
    from ..table import load_table

    if PRESET_KIND[args.preset] == "landmark":
        _finish_landmark(args, [d for d, _ in done], out, t_run)
    else:
        df = load_table(out)
        print(f"ensemble: {len(df)} samples in {out} ({t_run:.0f} s this call)")
        fig_cli.make(args, df, out / "figures")
        rep_cli.make(args, df, out, str(out))
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


def _validate_block(outdir: Path, progress: bool | None = None, **keys: object) -> object:
    """A stand-in for the runner that only builds (validates) a block's configuration."""
    from ..ensemble.config import make_config

    return make_config(None, **keys)


def _finish_landmark(args: argparse.Namespace, dirs: list[Path], out: Path, t_run: float) -> None:
    """Per model folder: landmark.json|txt, the landmark figures, the report; then landmark.md."""
    import json

    from ..figures.landmark import write_landmark_figures
    from ..landmark import landmark
    from ..reproduce import landmark_summary
    from ..table import load_table
    from . import report as rep_cli
    from .landmark import format_landmark

    results = []
    for d in dirs:
        df = load_table(d)
        print(f"\n== {d.name}: {len(df)} samples in {d} ({t_run:.0f} s this call, all blocks)")
        res = landmark(df, n_boot=args.n_boot, level=args.level, seed=args.boot_seed)
        (d / "landmark.json").write_text(json.dumps(res.to_dict(), indent=2) + "\n")
        text = format_landmark(res, str(d))
        (d / "landmark.txt").write_text(text + "\n")
        print(text)
        paths = write_landmark_figures(res, d / "figures")
        print("wrote " + ", ".join(str(p) for p in paths))
        args.model = None  # each folder holds one model
        rep_cli.make(args, df, d, str(d))
        results.append((d.name, res))
    summary = out / "landmark.md"
    summary.write_text(landmark_summary(results))
    print(f"\n{summary.read_text()}\nwrote {summary}")
