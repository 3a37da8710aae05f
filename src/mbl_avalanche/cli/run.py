"""``mbl-avalanche run``: compute an ensemble of a model over a grid into a run directory."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from ..ensemble.claims import STALE_AFTER_S
from ..ensemble.config import make_config
from ..ensemble.runner import WorkerDied, run_ensemble
from ..ensemble.slurm import parse_shard, shard_from_env
from ..errors import InputError

__all__ = [
    "add_grid_arguments",
    "config_overrides",
    "params_from_args",
    "parse_param",
    "register",
    "run",
]


def add_grid_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments that define a run's configuration (each overrides ``--config``)."""
    p.add_argument("outdir", metavar="OUTDIR", help="run directory (created; reruns continue)")
    p.add_argument("--config", metavar="run.toml", help="TOML file of run keys; flags override")
    p.add_argument(
        "--model",
        help="model: floquet (default), heisenberg, planted, or a user model module:Class",
    )
    p.add_argument("--L", type=int, nargs="+", help="chain lengths, e.g. --L 6 7 8")
    p.add_argument("--alpha", type=float, nargs="+", help="Floquet disorder parameters, e.g. 30 1")
    p.add_argument("--W", type=float, nargs="+", help="Heisenberg disorder strengths, e.g. 5 10")
    p.add_argument("--Delta", type=float, nargs="+", help="Heisenberg anisotropies (default 1)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=V1,V2",
        help="values of any model parameter (repeatable), e.g. --param epsilon=1e-3,1e-2",
    )
    p.add_argument("--samples", type=int, help="samples 0..N-1 per grid point (L, parameters)")
    p.add_argument("--seed", type=int, help="root seed (default 20230623)")
    p.add_argument("--gue-scale", type=float, help="scale of the bond GUE matrices (default 1)")
    p.add_argument("--layer-order", choices=("odd_first", "even_first"), help="layer order")
    p.add_argument(
        "--method",
        help="unitary eigensolver: auto (default: fast, checked, Schur fallback), fast or schur",
    )
    p.add_argument("--chunk", type=int, help="samples per task/shard file (default 0: from L)")
    p.add_argument(
        "--threads", type=int, help="BLAS threads per sample (default 1; 0: cores // workers)"
    )
    p.add_argument(
        "--backend",
        help="cpu (default) or gpu: CuPy, one worker per visible GPU x --per-gpu",
    )
    p.add_argument(
        "--per-gpu",
        type=int,
        help="with --backend gpu: samples in flight per GPU (default 0: auto, 4 up to L = 10, "
        "2 at L = 11, 12, else 1, as device memory allows)",
    )
    p.add_argument(
        "--save-arrays",
        action="store_const",
        const=True,
        default=None,
        help="also keep theta and c of every sample (HDF5)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_const",
        const=True,
        default=None,
        help="recompute samples recorded as failed",
    )


def parse_param(text: str) -> tuple[str, list[float]]:
    """``"NAME=V1,V2"`` -> ``("NAME", [V1, V2])`` (numbers), or a one-line :class:`InputError`."""
    name, sep, values = str(text).partition("=")
    name = name.strip()
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not name.isidentifier() or not items:
        raise InputError(f"--param {text!r} is not allowed: give NAME=V1[,V2...], e.g. W=5,10")
    out = []
    for v in items:
        try:
            out.append(float(v))
        except ValueError:
            raise InputError(f"--param {text!r} is not allowed: {v!r} is not a number") from None
    return name, out


def params_from_args(args: argparse.Namespace) -> dict[str, list[float]]:
    """Model parameters given by ``--W``, ``--Delta`` and ``--param NAME=...`` (once each)."""
    out: dict[str, list[float]] = {}
    for name in ("W", "Delta"):
        if getattr(args, name, None):
            out[name] = list(getattr(args, name))
    for item in getattr(args, "param", None) or []:
        name, values = parse_param(item)
        if name in out or (name == "alpha" and getattr(args, "alpha", None)):
            raise InputError(f"parameter {name!r} is given twice: give it once")
        out[name] = values
    return out


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Configuration keys given on the command line (None: not given)."""
    return dict(
        model=args.model,
        params=params_from_args(args) or None,
        L=args.L,
        alpha=args.alpha,
        samples=args.samples,
        seed=args.seed,
        gue_scale=args.gue_scale,
        layer_order=args.layer_order,
        method=args.method,
        chunk=args.chunk,
        threads=args.threads,
        backend=getattr(args, "backend", None),
        per_gpu=getattr(args, "per_gpu", None),
        save_arrays=args.save_arrays,
        retry_failed=args.retry_failed,
        workers=getattr(args, "workers", None),
        dask_scheduler=getattr(args, "dask_scheduler", None),
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="compute an ensemble over an (L, alpha) grid (resumable)",
        description="Analyse samples 0..N-1 of every (L, alpha) into OUTDIR: one record per "
        "sample with every scalar of the sample analysis. Crash-safe; running the same command "
        "again continues; raising --samples adds only the new samples.",
    )
    add_grid_arguments(p)
    p.add_argument(
        "--workers",
        type=int,
        help="local worker processes (default 0: auto, one per core as memory allows; one "
        "process for under 20 s of estimated work; with --backend gpu: per_gpu per GPU)",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="compute only slice I of N (default: from SLURM_ARRAY_TASK_ID/COUNT)",
    )
    p.add_argument(
        "--dask-scheduler",
        metavar="tcp://HOST:PORT",
        help="compute on this Dask cluster (the driver writes the results)",
    )
    p.add_argument(
        "--claim-timeout",
        type=float,
        default=STALE_AFTER_S,
        metavar="SECONDS",
        help="take over a task another host claimed when its heartbeat stops this long "
        f"(default {STALE_AFTER_S:g}; a dead process of this host: at once)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for tasks other processes are computing when ours are done",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    p.set_defaults(func=run)


def _term_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    cfg = make_config(args.config, **config_overrides(args))
    shard: tuple[int, int] | None
    if args.shard is not None:
        shard = parse_shard(args.shard)
    elif not cfg.dask_scheduler:
        shard = shard_from_env()
    else:
        shard = None
    old = signal.signal(signal.SIGTERM, _term_to_interrupt)  # batch systems stop with SIGTERM
    # Ctrl-C stops cleanly even when the shell started us with SIGINT ignored (a background job
    # of a non-interactive shell inherits SIG_IGN, and Python then raises no KeyboardInterrupt)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        summary = run_ensemble(
            args.outdir,
            config=cfg,
            shard=shard,
            progress=not args.no_progress,
            claim_timeout=args.claim_timeout,
            wait_for_others=not args.no_wait,
        )
    except WorkerDied as exc:
        print(f"mbl-avalanche run: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)
    print(summary.line(), file=sys.stderr)
    if summary.computed_failed:
        print(
            f"mbl-avalanche run: {summary.computed_failed} samples failed (see 'error' in the "
            "table); rerun with --retry-failed to retry them",
            file=sys.stderr,
        )
    return 130 if summary.interrupted else 0
