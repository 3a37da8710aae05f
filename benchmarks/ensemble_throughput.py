"""Ensemble throughput: samples per minute at L = 8 for 1 and 2 local workers, in one run.

Each worker count runs the same grid (one alpha, ``--samples`` samples, one BLAS thread per
sample) into a fresh temporary run directory through :func:`run_ensemble`, so the time includes
everything a user pays: worker start-up, the analysis, and writing one crash-safe shard per task.
Worker counts are measured in turn, ``--repeat`` rounds (alternating, so that a change in machine
load hits both alike); prints samples/min of every round, the median per worker count and the
ratio of medians to one worker.

    OMP_NUM_THREADS=1 python benchmarks/ensemble_throughput.py [--L 8] [--samples 48] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from mbl_avalanche.ensemble import load_run, run_ensemble
from mbl_avalanche.resources import cpu_count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=48)
    ap.add_argument("--chunk", type=int, default=4)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        f"L={args.L} alpha={args.alpha} samples={args.samples} chunk={args.chunk} "
        f"cores={cpu_count()}"
    )
    rates: dict[int, list[float]] = {w: [] for w in args.workers}
    for rnd in range(args.repeat):
        for w in args.workers:
            with tempfile.TemporaryDirectory() as d:
                s = run_ensemble(
                    d,
                    L=[args.L],
                    alpha=[args.alpha],
                    samples=args.samples,
                    chunk=args.chunk,
                    workers=w,
                    threads=1,
                    progress=False,
                )
                n = len(load_run(d))
            assert n == args.samples and s.computed_ok == n
            rates[w].append(n / s.elapsed * 60)
            print(
                f"round {rnd + 1} workers={w} ({s.executor}, {s.workers} process(es)): "
                f"{n} samples in {s.elapsed:.2f} s = {rates[w][-1]:.1f} samples/min"
            )
    med = {w: statistics.median(r) for w, r in rates.items()}
    for w in args.workers:
        print(f"workers={w}: median {med[w]:.1f} samples/min")
    base = med[args.workers[0]]
    for w in args.workers[1:]:
        print(f"ratio workers={w} / workers={args.workers[0]}: {med[w] / base:.2f}x")


if __name__ == "__main__":
    main()
