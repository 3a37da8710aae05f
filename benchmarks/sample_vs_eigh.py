"""The whole per-sample pipeline against one ``eigh(driver="evr")`` of the same size, in one run.

For each number of BLAS threads and each L (N = 2**L) and each sample ``k = 0 .. S-1`` it
times ``scipy.linalg.eigh(H, driver="evr")`` of the Hermitian part ``H`` of sample ``k``'s
Floquet unitary (the floor: no pipeline can be cheaper than diagonalising once), then
``analyze_sample`` (build, diagonalise, rates, slowest mode, certificate, top pair, resonance
analysis) of the same sample twice, in alternating order: with the slowest mode by the
Cholesky route of ``bath._slow_subspace_cholesky`` ("cholesky", the default) and by the dense
``dsyevr`` of the deflated Laplacian ("dense", what every sample used before).  It prints the
mean seconds of each stage, the total as a ratio to ``evr`` (the mean of each sample's ratio to
its own ``evr``, timed right before it), how many samples the Cholesky route kept (the others
fell back to ``dsyevr``), the largest relative difference of ``Gamma`` between the two routes,
and ``evr`` plus the rate matrix alone as a ratio to ``evr`` (what no pipeline with a dense rate
matrix can go below).

    python benchmarks/sample_vs_eigh.py --L 11 12 --threads 1 2 --samples 2 --alpha 30

Ratios are measured in the same run (the machines are noisy: compare ratios, not seconds).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_info, threadpool_limits

from _timing import best_of
from mbl_avalanche import bath
from mbl_avalanche import spectrum as sp
from mbl_avalanche.analysis import analyze_sample
from mbl_avalanche.models.floquet import FloquetModel

STAGES = ("build", "diagonalise", "rates", "slowest_mode", "check", "rest", "resonance")


class Route:
    """Counts the samples whose slowest mode the Cholesky route delivered."""

    def __init__(self) -> None:
        self.kept = 0
        self.tried = 0
        self._real = bath._slow_subspace_cholesky

    def __call__(self, s: np.ndarray, k: int) -> Any:
        self.tried += 1
        out = self._real(s, k)
        self.kept += out is not None
        return out


def one(model: FloquetModel, k: int, route: str) -> tuple[float, Any]:
    saved = bath.CHOLESKY_MIN_STATES
    if route == "dense":
        bath.CHOLESKY_MIN_STATES = 1 << 62
    try:
        t0 = time.perf_counter()
        r = analyze_sample(model, k)
        return time.perf_counter() - t0, r
    finally:
        bath.CHOLESKY_MIN_STATES = saved


def evr_seconds(model: FloquetModel, k: int, repeat: int) -> float:
    """``eigh(driver="evr")`` of the Hermitian part of sample ``k`` (the floor), in seconds."""
    u = model.unitary(k)
    h = sp.rotated_hermitian_part(u, sp.DEFAULT_PHASE)
    del u
    h = np.tril(h) + np.tril(h, -1).conj().T  # the full Hermitian matrix for scipy's driver
    t, _ = best_of(lambda: sla.eigh(h, driver="evr", check_finite=False), repeat)
    return t


def run(L: int, alpha: float, samples: int, repeat: int) -> None:
    n = 2**L
    model = FloquetModel(L=L, alpha=alpha)
    spy = Route()
    bath._slow_subspace_cholesky = spy
    totals: dict[str, list[float]] = {"cholesky": [], "dense": []}
    ratios: dict[str, list[float]] = {"cholesky": [], "dense": []}
    stages: dict[str, dict[str, float]] = {r: dict.fromkeys(STAGES, 0.0) for r in totals}
    gammas: dict[str, list[float]] = {"cholesky": [], "dense": []}
    evrs: list[float] = []
    try:
        for k in range(samples):
            # the floor of this sample right before its pipeline runs: each ratio compares
            # timings taken within a minute of each other (this machine's speed drifts by 10%)
            t_evr = evr_seconds(model, k, repeat)
            evrs.append(t_evr)
            for route in ("cholesky", "dense") if k % 2 == 0 else ("dense", "cholesky"):
                t, r = one(model, k, route)
                totals[route].append(t)
                ratios[route].append(t / t_evr)
                gammas[route].append(r.Gamma)
                for s in STAGES:
                    stages[route][s] += r.timings.get(s, 0.0) / samples
    finally:
        bath._slow_subspace_cholesky = spy._real
    rel = max(abs(a - b) / b for a, b in zip(gammas["cholesky"], gammas["dense"], strict=True))
    t_evr = float(np.mean(evrs))
    print(
        f"\nN = {n} (L = {L}, alpha = {alpha:g}, {samples} samples): eigh(evr) {t_evr:.2f} s "
        f"(mean; timed before each sample's pipeline)"
    )
    print(
        f"  {'slow mode':9s} {'total s':>8s} {'/evr':>6s}  " + " ".join(f"{s:>12s}" for s in STAGES)
    )
    for route, ts in totals.items():
        mean = float(np.mean(ts))
        print(
            f"  {route:9s} {mean:8.2f} {float(np.mean(ratios[route])):6.2f}  "
            + " ".join(f"{stages[route][s]:12.3f}" for s in STAGES)
        )
    floor = 1.0 + stages["cholesky"]["rates"] / t_evr
    print(
        f"  Cholesky route kept in {spy.kept} of {spy.tried} samples (others: dsyevr); "
        f"max |Gamma_cholesky / Gamma_dense - 1| = {rel:.1e}\n"
        f"  eigh(evr) + the rate matrix alone (6 N^3 flops of zgemm): {floor:.2f} x evr; "
        f"diagonalise stage / evr {stages['cholesky']['diagonalise'] / t_evr:.2f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, nargs="*", default=[11, 12])
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--alpha", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=1, help="eigh(evr) timings (minimum is kept)")
    args = p.parse_args()
    for threads in args.threads:
        with threadpool_limits(limits=threads):
            blas = [f"{i['internal_api']} {i.get('version')}" for i in threadpool_info()]
            print(f"# BLAS threads {threads} ({'; '.join(blas)})")
            for L in args.L:
                run(L, args.alpha, args.samples, args.repeat)


if __name__ == "__main__":
    main()
