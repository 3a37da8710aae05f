"""Ensemble throughput per L for every workers x BLAS-threads layout that fits the cores.

For each L, each layout ``W x T`` (W local worker processes, T BLAS threads per sample, W * T
at most the cores) computes the same samples through :func:`run_ensemble` into a fresh
temporary run directory, so the time includes everything a user pays (worker start-up, the
analysis, the crash-safe shards).  Layouts are measured in turn within one L (the machine is
noisy: compare within a row).  Prints samples per hour of each layout and the best one per L.

    OMP_NUM_THREADS=1 python benchmarks/throughput_grid.py --L 9 10 11 12 --samples 64 32 8 4

``--samples`` gives the samples per L (one value for all, or one per L); use at least two per
worker so that every worker has work for most of the run.
"""

from __future__ import annotations

import argparse
import tempfile

from mbl_avalanche.ensemble import load_run, run_ensemble
from mbl_avalanche.resources import cpu_count


def layouts(cores: int) -> list[tuple[int, int]]:
    """``(workers, threads)`` with ``workers * threads == cores`` (all cores busy), plus 1x1."""
    out = [(w, cores // w) for w in range(1, cores + 1) if cores % w == 0]
    return sorted({(1, 1), *out})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, nargs="+", default=[9, 10, 11, 12])
    ap.add_argument("--samples", type=int, nargs="+", default=[64, 32, 8, 4])
    ap.add_argument("--alpha", type=float, default=30.0)
    args = ap.parse_args()
    if len(args.samples) not in (1, len(args.L)):
        ap.error("--samples: give one value or one per L")
    per_L = args.samples * len(args.L) if len(args.samples) == 1 else args.samples
    cores = cpu_count()
    grid = layouts(cores)
    print(f"# cores {cores}, alpha {args.alpha:g}; samples per hour (higher is better)")
    print(f"{'L':>3} {'samples':>7} " + " ".join(f"{f'{w}x{t}':>10}" for w, t in grid) + "  best")
    for L, n in zip(args.L, per_L, strict=True):
        rates = {}
        for w, t in grid:
            with tempfile.TemporaryDirectory() as d:
                s = run_ensemble(
                    d,
                    L=[L],
                    alpha=[args.alpha],
                    samples=n,
                    chunk=1,
                    workers=w,
                    threads=t,
                    progress=False,
                )
                assert len(load_run(d)) == n and s.computed_ok == n
            rates[(w, t)] = n / s.elapsed * 3600
        best = max(rates, key=lambda k: rates[k])
        cells = " ".join(f"{rates[k]:10.0f}" for k in grid)
        print(f"{L:>3} {n:>7} {cells}  {best[0]}x{best[1]}", flush=True)


if __name__ == "__main__":
    main()
