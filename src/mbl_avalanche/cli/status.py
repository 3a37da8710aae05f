"""``mbl-avalanche status``: progress of a run directory per (L, alpha)."""

from __future__ import annotations

import argparse

from ..ensemble.claims import read_claims
from ..ensemble.runner import format_duration
from ..ensemble.store import run_status

__all__ = [
    "register",
    "run",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="done / total / failed per (L, alpha) of a run, and time left",
        description="Per (L, alpha): samples done, failed and total, mean seconds per sample and "
        "the time left (for --workers parallel workers).",
    )
    p.add_argument("outdir", metavar="OUTDIR", help="run directory")
    p.add_argument("--workers", type=int, default=1, help="divide the time left by this")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if args.workers < 1:
        raise InputError(f"--workers={args.workers} is not allowed: it must be an integer >= 1")
    df = run_status(args.outdir)
    fixed = ("L", "total", "done", "failed", "left", "s_per_sample", "time_left_s")
    params = [c for c in df.columns if c not in fixed]
    if df.attrs.get("model", "floquet") != "floquet":
        print(f"model {df.attrs['model']}")
    head = "".join(f" {p:>10}" for p in params)
    print(
        f"{'L':>3}{head} {'done':>8} {'total':>8} {'failed':>7} {'s/sample':>10} {'time left':>11}"
    )
    for r in df.to_dict("records"):
        cells = "".join(f" {r[p]:>10g}" for p in params)
        print(
            f"{r['L']:>3}{cells} {r['done']:>8} {r['total']:>8} {r['failed']:>7} "
            f"{r['s_per_sample']:>10.3g} {format_duration(r['time_left_s'] / args.workers):>11}"
        )
    done, total, failed = int(df.done.sum()), int(df.total.sum()), int(df.failed.sum())
    left = float(df.time_left_s.sum()) / args.workers
    print(
        f"all: {done}/{total} done, {failed} failed, time left {format_duration(left)} with "
        f"{args.workers} worker(s)"
    )
    for name, why in df.attrs.get("corrupt", []):
        print(f"corrupt shard {name}: {why} (the next run redoes it)")
    claims = read_claims(args.outdir)
    if claims:
        by: dict[str, int] = {}
        for c in claims:
            by[c.holder] = by.get(c.holder, 0) + 1
        who = ", ".join(f"{h} ({n})" for h, n in sorted(by.items()))
        print(f"computing now: {len(claims)} task(s) claimed by {who}")
    return 0
