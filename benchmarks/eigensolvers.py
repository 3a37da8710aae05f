"""Unitary eigensolvers and the whole per-sample pipeline: time ratios and accuracy.

For N = 2**L (Floquet unitaries of the model, alpha = 30, sample 0) it times, in one run:
one complex N x N matrix product; ``scipy.linalg.eigh(H, driver="evr")`` of the Hermitian part
``H`` (the reference the issue asks for); ``eigh_fast`` (``zheevd`` with full workspace) of the
same ``H``; complex Schur; the fast solver with dense products and with the gate circuit
(``apply``).  Each is printed as a ratio to ``evr`` and to one product, with its orthonormality
``max|V^dagger V - 1|`` and residual ``max_n ||U v_n - e^{i theta_n} v_n||`` (exact, computed
after the timing).  Then the whole pipeline (``analyze_sample``: build, diagonalise, rates,
slowest mode, certificate) for ``method="schur"`` and ``method="auto"``, as ratios.

    PYTHONPATH=src python benchmarks/eigensolvers.py --L 9 10 11 12 --pipeline-L 11 12

Timings are single runs (``--repeat`` for the minimum of several); on a shared machine the
ratios, measured in the same run, are what to compare.
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from _timing import best_of
from mbl_avalanche import spectrum as sp
from mbl_avalanche.analysis import analyze_sample
from mbl_avalanche.models.floquet import FloquetModel


def accuracy(u: np.ndarray, spec: sp.Spectrum) -> tuple[float, float]:
    return sp.orthonormality_error(spec.V), sp.eigen_residual(u, spec)


def solvers(L: int, repeat: int) -> None:
    n = 2**L
    model = FloquetModel(L=L, alpha=30.0)
    u = model.unitary(0)
    apply = model.circuit(0)
    h = sp.rotated_hermitian_part(u, sp.DEFAULT_PHASE)
    h = np.tril(h) + np.tril(h, -1).conj().T  # full Hermitian matrix for the scipy drivers
    t_prod, _ = best_of(lambda: u @ u, repeat)
    t_evr, (w, vr) = best_of(lambda h=h: sla.eigh(h, driver="evr", check_finite=False), repeat)
    rows = []
    ortho = sp.orthonormality_error(vr)
    hres = float(np.max(np.linalg.norm(h @ vr - vr * w, axis=0)))
    rows.append(("eigh evr (H)", t_evr, ortho, hres))
    del vr
    t_evd, (w, vd) = best_of(lambda h=h: sp.eigh_fast(h), repeat)
    rows.append(
        (
            "eigh_fast zheevd (H)",
            t_evd,
            sp.orthonormality_error(vd),
            float(np.max(np.linalg.norm(h @ vd - vd * w, axis=0))),
        )
    )
    del vd, h
    t, s = best_of(lambda: sp.diagonalize_unitary(u, "schur"), repeat)
    rows.append(("schur (U)", t, *accuracy(u, s)))
    del s
    t, f = best_of(lambda: sp.diagonalize_unitary(u, "fast"), repeat)
    rows.append((f"fast dense (U) [{f.check['clusters']} cl]", t, *accuracy(u, f)))
    del f
    t, f = best_of(lambda: sp.diagonalize_unitary(u, "auto", apply=apply), repeat)
    rows.append((f"auto circuit (U) -> {f.method}", t, *accuracy(u, f)))
    stages = f.check.get("times", {})
    del f
    print(f"\nN = {n} (L = {L}): one product {t_prod:.3f} s, eigh(evr) {t_evr:.3f} s")
    print(
        f"  {'method':34s} {'time s':>8s} {'/evr':>6s} {'/prod':>6s} {'orthonorm':>10s} "
        f"{'residual':>10s}"
    )
    for name, t, o, r in rows:
        print(f"  {name:34s} {t:8.3f} {t / t_evr:6.2f} {t / t_prod:6.2f} {o:10.1e} {r:10.1e}")
    if stages:
        print("  fast stages (s): " + ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))
    print("  (eigh rows: orthonormality of V and residual max||H v - w v|| of the Hermitian H)")


def pipeline(L: int, repeat: int) -> None:
    n = 2**L
    model = FloquetModel(L=L, alpha=30.0)
    u = model.unitary(0)
    h = sp.rotated_hermitian_part(u, sp.DEFAULT_PHASE)
    h = np.tril(h) + np.tril(h, -1).conj().T
    del u
    t_evr, _ = best_of(lambda h=h: sla.eigh(h, driver="evr", check_finite=False), repeat)
    del h, _
    res = {}
    for method in ("schur", "auto"):
        t, r = best_of(lambda m=method: analyze_sample(model, 0, method=m), repeat)
        res[method] = (t, r)
    ts, rs = res["schur"]
    tf, rf = res["auto"]
    print(f"\nPipeline N = {n} (L = {L}): analyze_sample(model, 0), alpha = 30")
    for name, (t, r) in res.items():
        tm = ", ".join(f"{k} {v:.2f}" for k, v in r.timings.items())
        print(f"  {name:6s} -> {r.meta['method']:11s} {t:8.2f} s = {t / t_evr:5.2f} x evr   [{tm}]")
    print(
        f"  eigh(evr) {t_evr:.2f} s;  schur / auto = {ts / tf:.2f};  auto / evr = {tf / t_evr:.2f}"
    )
    print(
        f"  Gamma schur {rs.Gamma:.10e}  auto {rf.Gamma:.10e}  rel diff "
        f"{abs(rf.Gamma - rs.Gamma) / rs.Gamma:.1e};  R {rs.R:.8f} vs {rf.R:.8f};  "
        f"(mu,nu) {(rs.mu, rs.nu)} vs {(rf.mu, rf.nu)}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, nargs="*", default=[9, 10, 11, 12])
    p.add_argument("--pipeline-L", type=int, nargs="*", default=[11, 12])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    with threadpool_limits(args.threads):
        print(f"BLAS threads: {args.threads}; repeat {args.repeat}")
        for L in args.L:
            solvers(L, args.repeat)
        for L in args.pipeline_L:
            pipeline(L, args.repeat)


if __name__ == "__main__":
    main()
