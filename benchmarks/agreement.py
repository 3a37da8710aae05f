"""Fast (auto) vs Schur on many model samples: Gamma, R, (mu, nu), certificates.

    PYTHONPATH=src python benchmarks/agreement.py --L 8 --samples 200

For each sample: ``analyze_sample`` with ``method="schur"`` and ``method="auto"``, plus Schur of
``e^{0.37 i} U`` (same eigenvectors, different rounding) to show how precisely ``Gamma`` is fixed
at all.  Prints the distribution of the relative differences and the agreement counts
(the pair ``(mu, nu)`` and the four-state set of :mod:`mbl_avalanche.resonance`).
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from mbl_avalanche import spectrum as sp
from mbl_avalanche.analysis import analyze, analyze_sample
from mbl_avalanche.models.floquet import FloquetModel


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, default=8)
    p.add_argument("--alpha", type=float, default=30.0)
    p.add_argument("--samples", type=int, default=200)
    args = p.parse_args()
    model = FloquetModel(L=args.L, alpha=args.alpha)
    rows, sets = [], []
    with threadpool_limits(1):
        for k in range(args.samples):
            s = analyze_sample(model, k, method="schur", exact_certificate=True)
            f = analyze_sample(model, k, method="auto", exact_certificate=True)
            s2 = analyze(model.unitary(k) * np.exp(0.37j), method="schur", check=False)
            cert = s.certificate.ok and f.certificate.ok
            fs, ss = f.resonance.scalars(), s.resonance.scalars()
            sets.append(all(fs[key] == ss[key] for key in ("A", "B", "Ap", "Bp", "case")))
            rows.append(
                (
                    cert,
                    f.meta["method"],
                    abs(f.Gamma - s.Gamma) / s.Gamma,
                    abs(s2.Gamma - s.Gamma) / s.Gamma,
                    abs(f.R - s.R) / abs(s.R),
                    (f.mu, f.nu) == (s.mu, s.nu),
                    f.certificate.orthonormality_error,
                    f.certificate.eigen_residual,
                    s.certificate.orthonormality_error,
                    s.certificate.eigen_residual,
                    float(np.max(sp.phase_distance(f.theta, s.theta))),
                )
            )
    a = np.array([r[2:5] + r[6:] for r in rows], dtype=float)
    cert = np.array([r[0] for r in rows])
    same = np.array([r[5] for r in rows])
    methods = [r[1] for r in rows]
    c = cert
    print(
        f"L = {args.L}, alpha = {args.alpha:g}, {len(rows)} samples, {c.sum()} certified "
        f"(no flag on either path); fast method used: {methods.count('fast')}, "
        f"fallbacks: {methods.count('fast->schur')}"
    )
    print(f"(mu, nu) equal: {same[c].sum()}/{c.sum()} certified, {same.sum()}/{len(rows)} all")
    sets = np.array(sets)
    print(
        f"four-state set (A, B, A', B', case) equal: {sets[c].sum()}/{c.sum()} certified, "
        f"{sets.sum()}/{len(rows)} all"
    )

    def q(x: np.ndarray) -> str:
        return " ".join(f"{v:8.1e}" for v in np.quantile(x, [0.5, 0.9, 0.99, 1.0]))

    head = "quantity (certified samples)"
    print(f"{head:40s} {'median':>8s} {'90%':>8s} {'99%':>8s} {'max':>8s}")
    print(f"{'|dGamma|/Gamma fast vs schur':40s} {q(a[c, 0])}")
    print(f"{'|dGamma|/Gamma schur vs schur(e^ia U)':40s} {q(a[c, 1])}")
    print(f"{'|dR|/R fast vs schur':40s} {q(a[c, 2])}")
    print(f"{'max |dtheta| fast vs schur (all)':40s} {q(a[:, 7])}")
    print(f"{'orthonormality fast (exact, all)':40s} {q(a[:, 3])}")
    print(f"{'residual fast (exact, all)':40s} {q(a[:, 4])}")
    print(f"{'orthonormality schur (exact, all)':40s} {q(a[:, 5])}")
    print(f"{'residual schur (exact, all)':40s} {q(a[:, 6])}")
    print(
        f"Gamma within 1e-8 relative: fast {np.mean(a[c, 0] <= 1e-8):.1%}, "
        f"schur(e^ia U) {np.mean(a[c, 1] <= 1e-8):.1%} of certified samples"
    )


if __name__ == "__main__":
    main()
