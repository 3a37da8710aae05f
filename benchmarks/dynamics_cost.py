"""Slow modes of the exact channel: shift-invert Krylov (no 16**L superoperator) vs dense eig.

For L = 3..max_L, times in one run (compare the printed ratios, not seconds):

* ``krylov``: :meth:`Channel.slow_modes` (Woodbury shift-invert, 4 modes),
* ``dense``: all ``4**L`` eigenvalues of the dense channel (``zgeev``; up to ``--dense-max-L``),
* ``step``: one application of the channel to a density matrix,

and the largest disagreement between the Krylov eigenvalues and the dense ones.

    python benchmarks/dynamics_cost.py --max-L 6 --dense-max-L 5 [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from _timing import best_of
from mbl_avalanche import FloquetModel
from mbl_avalanche.dynamics import Channel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-L", type=int, default=6)
    ap.add_argument("--dense-max-L", type=int, default=5)
    ap.add_argument("--gamma", type=float, default=1e-3)
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"gamma={args.gamma:g} alpha={args.alpha:g} threads={args.threads}")
    print(
        f"{'L':>2} {'4^L':>6} {'step s':>9} {'krylov s':>9} {'dense s':>9} "
        f"{'dense/krylov':>12} {'krylov/step':>11} {'max|dlambda|':>12}"
    )
    with threadpool_limits(limits=args.threads):
        for L in range(3, args.max_L + 1):
            u = FloquetModel(L=L, alpha=args.alpha).unitary(0)
            ch = Channel(u, args.gamma)
            rho = np.eye(ch.N, dtype=complex) / ch.N
            t_step = best_of(lambda ch=ch, rho=rho: ch.apply(rho), 5)[0]
            t_kry = np.inf
            modes = None
            for _ in range(args.repeat):
                fresh = Channel(u, args.gamma, result=ch.result, check=False)
                t0 = time.perf_counter()
                modes = fresh.slow_modes(4)
                t_kry = min(t_kry, time.perf_counter() - t0)
            if L <= args.dense_max_L:
                t0 = time.perf_counter()
                w = ch.eigenvalues()
                t_dense = time.perf_counter() - t0
                err = max(float(np.min(np.abs(w - lam))) for lam in modes.eigenvalues)
                dense_s, ratio = f"{t_dense:9.3f}", f"{t_dense / t_kry:12.1f}"
                err_s = f"{err:12.1e}"
            else:
                dense_s, ratio, err_s = f"{'-':>9}", f"{'-':>12}", f"{'-':>12}"
            print(
                f"{L:2d} {4**L:6d} {t_step:9.2e} {t_kry:9.3f} {dense_s} {ratio} "
                f"{t_kry / t_step:11.0f} {err_s}"
            )


if __name__ == "__main__":
    main()
