"""Per-sample cost split into build / diagonalise / rates / slowest mode / rest, for L = 8..12.

Each part is also printed as a ratio to one complex 2^L x 2^L matrix product timed in the same run
(machines are noisy: compare ratios, not seconds).  ``--max-L`` stops earlier.

    python benchmarks/sample_cost.py --max-L 11 [--threads 2] [--repeat 1]
"""

from __future__ import annotations

import argparse

from threadpoolctl import threadpool_info, threadpool_limits

from _timing import matmul_seconds
from mbl_avalanche import FloquetModel, analyze_sample

PARTS = ("build", "diagonalise", "rates", "slowest_mode", "rest")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-L", type=int, default=8)
    ap.add_argument("--max-L", type=int, default=12)
    ap.add_argument("--alpha", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="samples per L (minimum is reported)")
    ap.add_argument("--method", default="auto", help="unitary eigensolver: auto, fast or schur")
    args = ap.parse_args()
    with threadpool_limits(limits=args.threads):
        blas = [
            f"{i['internal_api']} {i.get('version')} x{i['num_threads']}" for i in threadpool_info()
        ]
        print(f"# BLAS: {'; '.join(blas)}")
        print(f"# method {args.method}; rest = certificate + top pair + resonance analysis")
        print("# seconds (ratio to one complex NxN matmul timed in the same run)")
        print(
            f"{'L':>3} {'N':>6} {'matmul':>8} "
            + " ".join(f"{p:>20}" for p in PARTS)
            + f" {'total':>20}"
        )
        # warm-up (imports, BLAS buffers) so the first row is not inflated
        analyze_sample(FloquetModel(L=args.min_L, alpha=args.alpha), 0, method=args.method)
        for L in range(args.min_L, args.max_L + 1):
            n = 2**L
            mm = matmul_seconds(n)
            best = None
            for k in range(args.repeat):
                r = analyze_sample(FloquetModel(L=L, alpha=args.alpha), k, method=args.method)
                t = {p: r.timings.get(p, 0.0) for p in PARTS}
                t["rest"] += r.timings.get("check", 0.0) + r.timings.get("resonance", 0.0)
                if best is None or sum(t.values()) < sum(best.values()):
                    best = t
            total = sum(best.values())
            cells = " ".join(f"{best[p]:9.3f} ({best[p] / mm:7.2f})" for p in PARTS)
            print(f"{L:>3} {n:>6} {mm:8.3f} {cells} {total:9.3f} ({total / mm:7.2f})", flush=True)


if __name__ == "__main__":
    main()
