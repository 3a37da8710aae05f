"""Ensemble throughput: samples per minute at L = 8 for 1 and 2 local workers, in one run.

Each worker count runs the same grid (one alpha, ``--samples`` samples, one BLAS thread per
sample) into a fresh temporary run directory through :func:`run_ensemble`, so the time includes
everything a user pays: worker start-up, the analysis, and writing one crash-safe shard per task.
Prints samples/min for each worker count and the ratio to one worker.

    OMP_NUM_THREADS=1 python benchmarks/ensemble_throughput.py [--L 8] [--samples 48]
"""

from __future__ import annotations

import argparse
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
    args = ap.parse_args()
    print(f"L={args.L} alpha={args.alpha} samples={args.samples} chunk={args.chunk} "
          f"cores={cpu_count()}")
    rates = {}
    for w in args.workers:
        with tempfile.TemporaryDirectory() as d:
            s = run_ensemble(d, L=[args.L], alpha=[args.alpha], samples=args.samples,
                             chunk=args.chunk, workers=w, threads=1, progress=False)
            n = len(load_run(d))
        assert n == args.samples and s.computed_ok == n
        rates[w] = n / s.elapsed * 60
        print(f"workers={w} ({s.executor}, {s.workers} process(es)): {n} samples in "
              f"{s.elapsed:.2f} s = {rates[w]:.1f} samples/min")
    base = rates[args.workers[0]]
    for w in args.workers[1:]:
        print(f"ratio workers={w} / workers={args.workers[0]}: {rates[w] / base:.2f}x")


if __name__ == "__main__":
    main()
