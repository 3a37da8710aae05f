"""Peak resident memory of one sample's analysis per L (each L in a fresh subprocess).

    PYTHONPATH=src python benchmarks/memory.py --L 10 11 12 13 --method auto

Prints ``ru_maxrss`` of a child process that builds ``U_F`` and runs ``analyze_sample`` (alpha =
30, sample 0), next to the size of one complex ``N x N`` matrix and the baseline RSS of the same
child after the imports (so peak/matrix counts the matrices alive at the peak); with
``--traced`` also the peak of live NumPy array memory (``tracemalloc``) in matrices, which
excludes BLAS buffers, libraries and allocator slack.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, tracemalloc
from threadpoolctl import threadpool_limits
from mbl_avalanche.analysis import analyze_sample
from mbl_avalanche.models.floquet import FloquetModel
L, method, threads, traced = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
if traced:
    tracemalloc.start()
with threadpool_limits(threads):
    r = analyze_sample(FloquetModel(L=L, alpha=30.0), 0, method=method)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
arrays = tracemalloc.get_traced_memory()[1] if traced else float("nan")
print(json.dumps(dict(L=L, method=r.meta["method"], base=base, peak=peak, arrays=arrays,
                      seconds=time.perf_counter() - t0)))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, nargs="*", default=[10, 11, 12])
    p.add_argument("--method", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--traced",
        action="store_true",
        help="also the peak of live NumPy arrays (tracemalloc), in matrices",
    )
    args = p.parse_args()
    print(
        f"{'L':>3} {'method':>12} {'matrix':>9} {'base RSS':>9} {'peak RSS':>9} "
        f"{'(peak-base)/matrix':>18} {'arrays/matrix':>13} {'time s':>8}"
    )
    for L in args.L:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(L),
                args.method,
                str(args.threads),
                str(int(args.traced)),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            check=True,
        )
        d = json.loads(out.stdout.strip().splitlines()[-1])
        mat = 16 * 4**L
        print(
            f"{L:>3} {d['method']:>12} {mat / 2**20:7.0f}Mi {d['base'] / 2**20:7.0f}Mi "
            f"{d['peak'] / 2**20:7.0f}Mi {(d['peak'] - d['base']) / mat:18.2f} "
            f"{d['arrays'] / mat:13.2f} {d['seconds']:8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
