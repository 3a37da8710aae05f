"""Measure the per-sample cost model of ``mbl_avalanche.resources`` (seconds per sample, per L).

For each ``L`` the script runs a small ensemble (alpha = 30 and 1, or W = 10 and 2 for
``--model heisenberg``, alternating; one worker, one
BLAS thread) through :func:`mbl_avalanche.ensemble.run_ensemble` into a temporary run directory
and divides the wall time by the number of samples: what a user pays per sample, analysis plus
the runner's bookkeeping (task list, records, crash-safe shards).  For the larger ``L`` it also
times single samples with two BLAS threads.  It prints a table and the two dicts to paste into
``resources.SAMPLE_SECONDS`` and ``resources.THREAD_SPEEDUP``, with the ratio of each measured
value to the model's current prediction (a ratio far from 1 means the model needs updating).

    OMP_NUM_THREADS=1 python benchmarks/cost_model.py [--max-L 11] [--threads-L 9 10 11]
    OMP_NUM_THREADS=1 python benchmarks/cost_model.py --model heisenberg --max-L 14
"""

from __future__ import annotations

import argparse
import tempfile
import time

from threadpoolctl import threadpool_info, threadpool_limits

from mbl_avalanche import analyze_sample
from mbl_avalanche.ensemble import run_ensemble
from mbl_avalanche.models import make_model
from mbl_avalanche.resources import sample_seconds

#: Samples per (L, alpha) so that each L takes some seconds.
SAMPLES = {4: 200, 5: 150, 6: 100, 7: 50, 8: 20, 9: 6, 10: 2, 11: 1, 12: 1}
#: The same for the sector-by-sector XXZ chain (about 8x cheaper per L at L >= 10).
SAMPLES_SECTORS = {4: 200, 5: 150, 6: 100, 7: 60, 8: 40, 9: 20, 10: 8, 11: 4, 12: 2, 13: 1, 14: 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-L", type=int, default=4)
    ap.add_argument("--max-L", type=int, default=11)
    ap.add_argument("--threads-L", type=int, nargs="*", default=[9, 10, 11])
    ap.add_argument("--model", default="floquet", help="model family (default floquet)")
    ap.add_argument(
        "--values",
        type=float,
        nargs="+",
        default=None,
        help="values of the model's scan parameter (default: alpha 30, 1; W 10, 2)",
    )
    args = ap.parse_args()
    from mbl_avalanche.models import resolve

    cls = resolve(args.model)
    par = cls.scan_parameter
    values = args.values or ([30.0, 1.0] if args.model == "floquet" else [10.0, 2.0])
    grid = {"alpha": values} if args.model == "floquet" else {"params": {par: values}}
    blas = [
        f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
    ]
    print(f"# BLAS: {'; '.join(blas)}")
    print(f"{'L':>3} {'samples':>8} {'s/sample':>10} {'model':>10} {'measured/model':>15}")
    measured: dict[int, float] = {}
    for L in range(args.min_L, args.max_L + 1):
        n = (SAMPLES if args.model == "floquet" else SAMPLES_SECTORS).get(L, 1)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            s = run_ensemble(
                d,
                L=[L],
                model=args.model,
                **grid,
                samples=n,
                workers=1,
                threads=1,
                progress=False,
            )
            wall = time.perf_counter() - t0
        per = wall / (s.computed_ok + s.computed_failed)
        measured[L] = per
        pred = sample_seconds(L, 1, args.model)
        print(
            f"{L:>3} {len(values) * n:>8} {per:>10.4f} {pred:>10.4f} {per / pred:>15.2f}",
            flush=True,
        )
    speedup: dict[int, float] = {}
    for L in args.threads_L:
        model = make_model(args.model, L, 20230623, {par: values[0]})
        times = {}
        for threads in (1, 2):
            with threadpool_limits(threads):
                analyze_sample(model, 0)  # warm-up (BLAS buffers)
                t0 = time.perf_counter()
                analyze_sample(model, 1)
                times[threads] = time.perf_counter() - t0
        speedup[L] = times[1] / times[2]
        print(
            f"L={L}: 1 thread {times[1]:.3f} s, 2 threads {times[2]:.3f} s, speedup "
            f"{speedup[L]:.2f} (model "
            f"{sample_seconds(L, 1, args.model) / sample_seconds(L, 2, args.model):.2f})",
            flush=True,
        )
    print(
        f"{args.model}: SAMPLE_SECONDS = {{"
        + ", ".join(f"{L}: {v:.3g}" for L, v in measured.items())
        + "}"
    )
    print("THREAD_SPEEDUP = {" + ", ".join(f"{L}: {v:.2f}" for L, v in speedup.items()) + "}")


if __name__ == "__main__":
    main()
