"""The gate circuit of the Floquet model on ``N x N`` blocks: all columns at once against column
blocks of ``CIRCUIT_COLUMNS`` (and other widths), in one run.

``U_F X`` for an ``N x N`` ``X`` is ``2 (L - 1)`` gate passes; applied to all columns at once each
pass streams the whole ``N x N`` array through memory, applied to ``N x w`` column blocks a block
stays in cache through every gate.  Prints, per L, the best of ``--repeat`` wall times of
``circuit(X)`` for each block width (``N`` = all at once, the previous code path) and the ratio to
the default width, and the same for the build of ``U_F`` (``FloquetModel.unitary``), checking
that all widths give the same numbers.

    python benchmarks/floquet_circuit.py --L 9 11 12 --threads 1 2
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from _timing import best_of
from mbl_avalanche.models import floquet
from mbl_avalanche.models.floquet import FloquetModel


def run(L: int, widths: list[int], repeat: int) -> None:
    n = 2**L
    model = FloquetModel(L=L, alpha=30)
    apply = model.circuit(0)
    rng = np.random.default_rng(0)
    x = np.asfortranarray(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    default = floquet.CIRCUIT_COLUMNS
    rows = []
    ref_x = ref_u = None
    try:
        for w in sorted({n, default, *widths}, reverse=True):
            floquet.CIRCUIT_COLUMNS = w
            t_x, y = best_of(lambda: apply(x), repeat)
            t_u, u = best_of(lambda: model.unitary(0), repeat)
            if ref_x is None:
                ref_x, ref_u = y, u
            err = max(float(np.max(np.abs(y - ref_x))), float(np.max(np.abs(u - ref_u))))
            rows.append((w, t_x, t_u, err))
    finally:
        floquet.CIRCUIT_COLUMNS = default
    t_def = {w: (tx, tu) for w, tx, tu, _ in rows}[default]
    print(f"\nL = {L} (N = {n}): U_F X and the build of U_F, seconds (best of {repeat})")
    head = ("columns", "U_F X", "/default", "build", "/default", "max diff")
    print("  " + " ".join(f"{h:>9s}" for h in head))
    for w, tx, tu, err in rows:
        label = f"{w}{' *' if w == default else ''}{' (all)' if w == n else ''}"
        cells = (f"{tx:.3f}", f"{tx / t_def[0]:.2f}", f"{tu:.3f}", f"{tu / t_def[1]:.2f}")
        print(f"  {label:>9s} " + " ".join(f"{c:>9s}" for c in cells) + f" {err:9.1e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, nargs="*", default=[9, 11, 12])
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--widths", type=int, nargs="*", default=[8, 16, 64, 256])
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    for threads in args.threads:
        with threadpool_limits(limits=threads):
            print(f"# BLAS threads {threads}")
            for L in args.L:
                run(L, args.widths, args.repeat)


if __name__ == "__main__":
    main()
