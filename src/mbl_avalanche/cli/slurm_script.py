"""``mbl-avalanche slurm-script``: print an ``sbatch`` job-array script for a run."""

from __future__ import annotations

import argparse
import sys

from ..ensemble.config import make_config
from ..ensemble.slurm import array_size, shard_seconds, slurm_script
from ..errors import InputError
from .run import add_grid_arguments, config_overrides

__all__ = [
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slurm-script",
        help="print an sbatch job-array script that runs an ensemble in shards",
        description="Print a bash script for 'sbatch': array task I of N runs "
        "'mbl-avalanche run OUTDIR ... --shard I/N' (the shard is read from the SLURM array "
        "environment). All tasks write into OUTDIR, which must be on a shared filesystem.",
    )
    add_grid_arguments(p)
    p.add_argument("--array", type=int, required=True, metavar="N", help="number of shards")
    p.add_argument("--cpus-per-task", type=int, default=1, help="workers per array task")
    p.add_argument(
        "--time",
        default=None,
        help="time limit per array task (default: twice the cost model's estimate of the "
        "largest shard, plus 10 minutes)",
    )
    p.add_argument("--partition", help="SLURM partition")
    p.add_argument("--account", help="SLURM account")
    p.add_argument("--max-running", type=int, help="at most this many array tasks at once")
    p.add_argument("--setup", help="a line run first, e.g. 'source ~/venv/bin/activate'")
    p.set_defaults(func=run, workers=None, dask_scheduler=None)


def _run_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    if args.config:
        out += ["--config", args.config]
    if args.model:
        out += ["--model", args.model]
    for flag, value in (
        ("--L", args.L),
        ("--alpha", args.alpha),
        ("--W", args.W),
        ("--Delta", args.Delta),
    ):
        if value:
            out += [flag, *[repr(v) if isinstance(v, float) else str(v) for v in value]]
    for item in args.param or []:
        out += ["--param", item]
    for flag, value in (
        ("--samples", args.samples),
        ("--seed", args.seed),
        ("--gue-scale", args.gue_scale),
        ("--layer-order", args.layer_order),
        ("--method", args.method),
        ("--chunk", args.chunk),
        ("--threads", args.threads),
        ("--backend", args.backend),
        ("--per-gpu", args.per_gpu),
    ):
        if value is not None:
            out += [flag, str(value)]
    if args.save_arrays:
        out.append("--save-arrays")
    if args.retry_failed:
        out.append("--retry-failed")
    return out


def run(args: argparse.Namespace) -> int:
    cfg = make_config(args.config, **config_overrides(args))  # validates the grid now
    if args.cpus_per_task < 1:
        raise InputError(f"--cpus-per-task {args.cpus_per_task} is not allowed: it must be >= 1")
    array, note = array_size(cfg, args.array)
    script = slurm_script(
        args.outdir,
        _run_args(args),
        array=array,
        max_L=max(cfg.L),
        model=cfg.model,
        cpus_per_task=args.cpus_per_task,
        time=args.time,
        shard_seconds=None if args.time else shard_seconds(cfg, array, args.cpus_per_task),
        partition=args.partition,
        account=args.account,
        max_running=args.max_running,
        setup=args.setup,
    )
    if note:
        print(f"mbl-avalanche: {note}", file=sys.stderr)
    print(script, end="")
    return 0
