"""Synthetic per-sample tables with known answers (column contract), for figures/report tests.

:func:`synthetic_table` draws, for alpha = 30 (MBL) and alpha = 1 (thermal) and each ``L``,
``n`` rows whose statistics are fixed by construction:

* MBL: exactly ``n_R_over`` rows per ``L`` have ``R > 1/2``;
* thermal: ``R = exp(-KAPPA L) * lognormal(0, 0.3)`` (median decays at rate ``KAPPA``); MBL ``R``
  does not depend on ``L``;
* MBL: ``ln Gamma = -2 + SLOPE * L + N(0, 1)``; thermal: ``ln Gamma = -0.2 + N(0, 0.1)``;
* exactly ``n_zmid`` rows per ``L`` have ``Z_jump(mu, nu)`` in (0.2, 0.8), the others lie within
  0.04 of 0 (XY case) or 1 (Z case, a fraction ``Z_FRACTION``);
* ``S_AB'/S_A'B = lognormal(ln MED_RATIO, 0.3)``; in the Z case
  ``S_AB/S_AB' = lognormal(ln 2, 0.2)``;
* exactly ``n_ab_not_largest`` rows per ``L`` have an A'B' angle larger than the AB angle;
* exactly half the rows (rounded down) have ``x = round(0.8 L)``, the rest cycle over the other
  sites, so the mode of ``x/L`` is ``round(0.8 L) / L``;
* exactly ``n_flag`` rows per ``(alpha, L)`` carry the ``gamma_below_precision`` flag;
* plus ``n_broken`` rows per ``(alpha, L)`` with ``R`` and all near-resonance columns NaN,
  ``Gamma = 0`` and the ``degenerate_slow_mode`` flag (robustness to NaN).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

KAPPA = 0.7
SLOPE = -1.5
MED_RATIO = 1.1
Z_FRACTION = 0.3


def synthetic_table(
    seed: int = 1,
    n: int = 400,
    Ls: tuple[int, ...] = (6, 7, 8, 9, 10),
    n_R_over: int = 12,
    n_zmid: int = 20,
    n_ab_not_largest: int = 40,
    n_flag: int = 20,
    n_broken: int = 3,
) -> tuple[pd.DataFrame, dict]:
    """The table and the known answers (see the module docstring)."""
    rng = np.random.default_rng(seed)
    rows = []
    for alpha in (30.0, 1.0):
        for L in Ls:
            mbl = alpha > 10
            ln_gamma = (
                -2.0 + SLOPE * L + rng.normal(0, 1.0, n) if mbl else -0.2 + rng.normal(0, 0.1, n)
            )
            gamma = np.exp(ln_gamma)
            if mbl:
                r = rng.uniform(0.01, 0.5, n)
                r[rng.choice(n, n_R_over, replace=False)] = rng.uniform(0.5001, 0.6, n_R_over)
            else:
                r = np.minimum(np.exp(-KAPPA * L) * rng.lognormal(0.0, 0.3, n), 1.0)
            is_z = rng.uniform(size=n) < Z_FRACTION
            z = np.where(is_z, 1.0 - rng.uniform(0, 0.04, n), rng.uniform(0, 0.04, n))
            z[rng.choice(n, n_zmid, replace=False)] = rng.uniform(0.2, 0.8, n_zmid)
            case = np.where(z > 0.5, "Z", "XY")
            ang_ab = 10 ** rng.uniform(-4, -1, n)
            others = ang_ab[:, None] * 10 ** rng.uniform(-3, -0.3, (n, 3))
            bad = rng.choice(n, n_ab_not_largest, replace=False)
            others[bad, 2] = np.minimum(2 * ang_ab[bad], math.pi / 2)
            m = round(0.8 * L)
            other_sites = [s for s in range(1, L + 1) if s != m]
            x = np.array(
                [m if i < n // 2 else other_sites[i % len(other_sites)] for i in range(n)],
                dtype=float,
            )
            rng.shuffle(x)
            flag = np.zeros(n, bool)
            flag[rng.choice(n, n_flag, replace=False)] = True
            for i in range(n):
                rows.append(
                    {
                        "L": L,
                        "kind": "unitary",
                        "alpha": alpha,
                        "sample": i,
                        "seed": 1,
                        "Gamma": gamma[i],
                        "Gamma2": gamma[i] * (1 + 10 ** rng.uniform(-1, 4)),
                        "R": r[i],
                        "case": case[i],
                        "zjump_mu_nu": z[i],
                        "ratio_SABp_SApB": rng.lognormal(math.log(MED_RATIO), 0.3),
                        "ratio_SAB_SABp": rng.lognormal(math.log(2.0), 0.2)
                        if case[i] == "Z"
                        else np.nan,
                        "ratio_SAB_SApB": rng.lognormal(math.log(2.0), 0.2)
                        if case[i] == "Z"
                        else np.nan,
                        "zjump_AB": (1 - rng.uniform(0, 0.03))
                        if case[i] == "Z"
                        else rng.uniform(0, 1),
                        "zjump_ABp": rng.uniform(0, 0.03),
                        "zjump_ApB": rng.uniform(0, 0.03),
                        "angle_AB": ang_ab[i],
                        "angle_ApB": others[i, 0],
                        "angle_ABp": others[i, 1],
                        "angle_ApBp": others[i, 2],
                        "x": x[i],
                        "x_over_L": x[i] / L,
                        "cert_flags": "gamma_below_precision" if flag[i] else "",
                        "cert_gamma_below_precision": bool(flag[i]),
                        "cert_degenerate_slow_mode": False,
                    }
                )
            for i in range(n_broken):
                rows.append(
                    {
                        "L": L,
                        "kind": "unitary",
                        "alpha": alpha,
                        "sample": n + i,
                        "seed": 1,
                        "Gamma": 0.0,
                        "Gamma2": 0.0,
                        "R": np.nan,
                        "case": None,
                        "cert_flags": "degenerate_slow_mode",
                        "cert_gamma_below_precision": False,
                        "cert_degenerate_slow_mode": True,
                    }
                )
    df = pd.DataFrame(rows)
    n_groups = 2 * len(Ls)
    truth = {
        "frac_R_le_half": 1 - n_R_over / n,
        "kappa": KAPPA,
        "slope": SLOPE,
        "frac_zjump": 1 - n_zmid / n,
        "median_SABp_SApB": MED_RATIO,
        "median_SAB_SABp": 2.0,
        "frac_AB_largest": 1 - n_ab_not_largest / n,
        "x_mode": {L: round(0.8 * L) / L for L in Ls},
        "frac_flagged": (n_flag + n_broken) * n_groups / ((n + n_broken) * n_groups),
        "L_max": max(Ls),
    }
    return df, truth
