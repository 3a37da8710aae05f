"""Heisenberg (XXZ) samples sector by sector against a dense ``eigh`` of the full Hamiltonian.

    OMP_NUM_THREADS=1 python benchmarks/sectors.py --L 10 11 12 13 14 --dense-max-L 13

For each ``L`` a fresh child process (one BLAS thread) runs ``analyze_sample`` of the random-field
Heisenberg chain (``W = 10``, sample 0) -- sector-by-sector ``eigh`` (cost ~ ``sum_n binom(L,
n)**3``), the rate matrix from the block eigenvectors, the slow modes by the block-tridiagonal
solver, the resonance -- and prints its stage times and its peak resident memory
(``ru_maxrss``).  Up to ``--dense-max-L`` a second child times ``scipy.linalg.eigh`` of the full
real ``2**L x 2**L`` matrix (what the sample would cost without the conservation law: the
eigensolver alone), and the script prints ``dense eigh / sector sample`` measured in this run,
and the dense slow-mode solver on the same rate matrix (``--slow-dense``) against the block one.
The L = 14 line shows whether a sample fits this machine (its peak RSS against ``MemTotal``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from math import comb

CHILD_SAMPLE = r"""
import json, resource, sys, time
from threadpoolctl import threadpool_limits
from mbl_avalanche import analyze_sample, bath
from mbl_avalanche.models import HeisenbergModel
L, W, slow_dense = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with threadpool_limits(1):
    t0 = time.perf_counter()
    r = analyze_sample(HeisenbergModel(L=L, W=W), 0, keep_S=slow_dense)
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    dense_slow = float("nan")
    if slow_dense:
        t0 = time.perf_counter()
        d = bath.slowest_modes(r.S)
        dense_slow = time.perf_counter() - t0
        tol = 10 * (d.floor + r.certificate.gamma_floor) + 1e-14 * r.Gamma
        assert abs(d.Gamma - r.Gamma) <= tol, (d.Gamma, r.Gamma)
print(json.dumps(dict(L=L, total=total, stages=r.timings, base=base, peak=peak,
                      dense_slow=dense_slow, Gamma=r.Gamma, flags=r.certificate.flags)))
"""

CHILD_DENSE = r"""
import json, sys, time
import scipy.linalg as sla
from threadpoolctl import threadpool_limits
from mbl_avalanche.models import HeisenbergModel
L, W = int(sys.argv[1]), float(sys.argv[2])
h = HeisenbergModel(L=L, W=W).operator(0)
with threadpool_limits(1):
    t0 = time.perf_counter()
    sla.eigh(h, overwrite_a=True, check_finite=False, driver="evd")
print(json.dumps(dict(L=L, dense=time.perf_counter() - t0)))
"""


def _child(code: str, *args: object) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mem_total() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, nargs="*", default=[10, 11, 12, 13, 14])
    p.add_argument("--W", type=float, default=10.0)
    p.add_argument("--dense-max-L", type=int, default=13, help="largest L of the dense eigh")
    p.add_argument(
        "--slow-dense",
        type=int,
        default=12,
        help="largest L at which the dense slow-mode solver is also timed (default 12)",
    )
    args = p.parse_args()
    gib = 2.0**30
    print(f"# W = {args.W}, one BLAS thread, MemTotal {_mem_total() / gib:.1f} GiB")
    print(
        f"{'L':>3} {'sum b^3/8^L':>11} {'sample s':>9} {'eigh s':>7} {'rates s':>8} "
        f"{'slow s':>7} {'dense slow s':>12} {'peak GiB':>9} {'dense eigh s':>12} "
        f"{'dense/sample':>12}"
    )
    for L in args.L:
        share = sum(comb(L, n) ** 3 for n in range(L + 1)) / 8.0**L
        r = _child(CHILD_SAMPLE, L, args.W, int(L <= args.slow_dense))
        st = r["stages"]
        dense = _child(CHILD_DENSE, L, args.W)["dense"] if L <= args.dense_max_L else float("nan")
        print(
            f"{L:>3} {share:>11.3f} {r['total']:>9.2f} {st.get('diagonalise', 0):>7.2f} "
            f"{st.get('rates', 0):>8.2f} {st.get('slowest_mode', 0):>7.2f} "
            f"{r['dense_slow']:>12.2f} {r['peak'] / gib:>9.2f} {dense:>12.2f} "
            f"{dense / r['total']:>12.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
