"""The paper's claims checked on an ensemble run: Markdown and JSON, with bootstrap error bars.

:func:`check_claims` is a pure function of the per-sample table (a :class:`pandas.DataFrame` with
the keys of :meth:`mbl_avalanche.analysis.SampleResult.scalars` as columns).  Each claim states
what the paper says, the number measured on the run with its sample count and a bootstrap
percentile interval (:func:`mbl_avalanche.stats.bootstrap`, explicit seed), a breakdown per
``(alpha, L)`` and a verdict against an explicit, documented criterion: *consistent* when the
measured value meets it, *inconsistent* when the whole interval misses it, *inconclusive* in
between or with fewer than :data:`MIN_SAMPLES` samples:

``R_le_half``
    Fraction of MBL samples with ``R <= 1/2`` (paper Fig. 2: "R never exceeds 0.5").
    Consistent if the fraction is at least :data:`R_HALF_MIN_FRACTION`.
``thermal_R_decay``
    Decay rate ``kappa = -d ln(median R) / dL`` of the thermal median ``R`` (paper: "decays
    exponentially with L"; MBL: "barely drifts").  Consistent if the interval of ``kappa`` is
    above 0 and ``kappa`` exceeds the MBL drift ``|kappa_MBL|`` (when MBL data exist).
``zjump_bimodal``
    Fraction of MBL samples with ``Z_jump(mu, nu)`` within :data:`ZJUMP_TOL` of 0 or 1 (paper:
    "extremely close to 0 or 1").  Consistent if at least :data:`ZJUMP_MIN_FRACTION`.
``median_SABp_SApB``
    Median of ``S_AB'/S_A'B`` (paper Fig. 4(a): "peaked near 1").  Consistent if within
    ``[1/RATIO_TOL, RATIO_TOL]`` of 1.
``median_SAB_SABp_Z``
    Median of ``S_AB/S_AB'`` in the Z case (paper Fig. 4(b): ``S_AB ~ 2 S_AB'``).  Consistent if
    within ``[2/RATIO_TOL, 2 RATIO_TOL]``.
``AB_largest_angle``
    Fraction of MBL samples whose AB demixing angle is the largest of AB, A'B, AB', A'B' (paper
    Fig. 4(c, d): "by far the largest").  Consistent if at least :data:`AB_MIN_FRACTION`.
``AB_largest_angle_XY``, ``AB_largest_angle_Z``
    The same fraction in each case separately, as the paper shows them (Fig. 4(c): XY case,
    the near-resonant pair does not flip the last site; Fig. 4(d): Z case, it does; the case
    from ``Z_jump(mu, nu) > 1/2``).  Same criterion; the Z case alone is markedly lower than
    the pooled fraction at small ``L``.
``x_over_L_mode``
    Most probable resonance location ``x/L`` (paper SM: "near 0.8" at the largest L).
    Consistent if within :data:`X_MODE_TOL` of 0.8.
``lnGamma_slope``
    Slope of the sample mean of ``ln Gamma`` against ``L`` (MBL; weighted fit over the largest
    :data:`LNGAMMA_TOP_L` values of ``L``, all-L fits in the breakdown), compared with
    ``-ln 4`` (the avalanche threshold; alpha = 30 is "near the avalanche instability").
    Consistent if
    ``|slope / ln 4 + 1| <= LNGAMMA_REL_TOL``; the text says whether the interval lies below
    ``-ln 4`` (Gamma falls faster than ``4^-L``: stable to avalanches), above it, or straddles it.
``avalanche_landmark``
    The avalanche landmark (:mod:`mbl_avalanche.landmark`): the disorder value where the slope of
    mean ``ln Gamma`` between consecutive ``L`` crosses ``-ln 4``, headlined for the largest pair
    of ``L`` that brackets it, every pair and the joint fit in the breakdown.  The paper's premise
    is that alpha = 30 is "MBL near the avalanche instability": for the Floquet model the claim
    is consistent if that crossing lies within a factor :data:`LANDMARK_FACTOR` of 30,
    inconsistent if its whole interval lies outside, inconclusive if the grid values that bracket
    it are more than a factor 2 apart (an interpolation over a wide gap, e.g. a run of alpha = 1
    and 30 only); for other models information only.
``flagged_fraction``
    Fraction of samples carrying an accuracy flag (``flags`` or ``cert_*`` booleans); information
    only.

The near-resonance claims (Z_jump, S ratios, angles, x/L) are headlined, as in the paper's Fig. 4,
at one MBL alpha (the most sampled) and its largest ``L``; the other ``L`` are in the breakdown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from ._repr import jsonable
from .errors import InputError
from .models.protocol import check_integer, check_number
from .record import PAIRS
from .stats import LN4, MAX_N_BOOT, Estimate, Regimes, check_bootstrap, finite, numeric

__all__ = [
    "AB_MIN_FRACTION",
    "CLAIMS",
    "LANDMARK_FACTOR",
    "LANDMARK_PREMISE",
    "LNGAMMA_REL_TOL",
    "LNGAMMA_TOP_L",
    "MAX_N_BOOT",
    "MIN_SAMPLES",
    "RATIO_TOL",
    "R_HALF_MIN_FRACTION",
    "X_MODE_TOL",
    "ZJUMP_MIN_FRACTION",
    "ZJUMP_TOL",
    "Claim",
    "check_bootstrap",
    "check_claims",
    "check_headline",
    "claim_AB_largest",
    "claim_AB_largest_XY",
    "claim_AB_largest_Z",
    "claim_R_le_half",
    "claim_flags",
    "claim_landmark",
    "claim_lnGamma_slope",
    "claim_median_SAB_SABp",
    "claim_median_SABp_SApB",
    "claim_thermal_decay",
    "claim_x_mode",
    "claim_zjump",
    "load_table",
    "report_dict",
    "summary",
    "to_markdown",
    "trend_with_L",
    "verdict_at_least",
    "verdict_within",
    "write_report",
]

#: ``R_le_half`` is consistent if at least this fraction of MBL samples has ``R <= 1/2``.
R_HALF_MIN_FRACTION = 0.95
#: Tolerance of "close to 0 or 1" for ``Z_jump(mu, nu)``.
ZJUMP_TOL = 0.05
#: ``zjump_bimodal`` is consistent at or above this fraction.
ZJUMP_MIN_FRACTION = 0.9
#: Multiplicative tolerance of the median S ratios (1 and 2).
RATIO_TOL = 1.25
#: ``AB_largest_angle`` is consistent at or above this fraction.
AB_MIN_FRACTION = 0.8
#: ``x_over_L_mode`` is consistent within this distance of 0.8.
X_MODE_TOL = 0.15
#: ``lnGamma_slope`` is consistent if ``|slope / ln 4 + 1|`` is at most this.
LNGAMMA_REL_TOL = 0.25
#: ``lnGamma_slope`` is headlined by the fit over the largest this-many ``L`` (the avalanche
#: criterion concerns the trend at large L); fits over all L are in the breakdown.
LNGAMMA_TOP_L = 3

#: ``avalanche_landmark`` (Floquet): consistent if the crossing is within this factor of 30.
LANDMARK_FACTOR = 1.5
#: The value of the premise ("alpha = 30 is near the avalanche instability").
LANDMARK_PREMISE = 30.0

#: Below this many samples a verdict is "inconclusive" whatever the numbers.
MIN_SAMPLES = 10


def verdict_at_least(est: Estimate, threshold: float) -> str:
    """``consistent`` if the value is at least ``threshold``; ``inconsistent`` if the whole
    interval is below it; otherwise (or with fewer than :data:`MIN_SAMPLES`) ``inconclusive``."""
    if est.n < MIN_SAMPLES or not math.isfinite(est.value):
        return "inconclusive"
    if est.value >= threshold:
        return "consistent"
    return "inconsistent" if est.high < threshold else "inconclusive"


def verdict_within(est: Estimate, lo: float, hi: float) -> str:
    """``consistent`` if the value lies in ``[lo, hi]``; ``inconsistent`` if the whole interval
    lies outside; otherwise (or with fewer than :data:`MIN_SAMPLES`) ``inconclusive``."""
    if est.n < MIN_SAMPLES or not math.isfinite(est.value):
        return "inconclusive"
    if lo <= est.value <= hi:
        return "consistent"
    return "inconsistent" if (est.high < lo or est.low > hi) else "inconclusive"


@dataclass
class Claim:
    """One claim of the paper checked on the run.

    Attributes
    ----------
    key : str
        Identifier (see the module docstring).
    title : str
        What is measured.
    paper : str
        What the paper says.
    criterion : str
        The rule of the verdict.
    selection : str
        Which samples the headline number uses.
    estimate : Estimate
        Headline value with bootstrap interval and sample count.
    verdict : str
        ``"consistent"``, ``"inconsistent"``, ``"inconclusive"``, ``"info"`` or ``"no data"``
        (see :func:`verdict_at_least` and :func:`verdict_within`).
    groups : list of dict
        Breakdown (per alpha and/or L, or per case): value, low, high, n and labels.
    note : str
        Further numbers or caveats.
    extra : dict
        Further named numbers (JSON only).
    """

    key: str
    title: str
    paper: str
    criterion: str
    selection: str
    estimate: Estimate
    verdict: str
    groups: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "key": self.key,
            "title": self.title,
            "paper": self.paper,
            "criterion": self.criterion,
            "selection": self.selection,
            **{k: v for k, v in self.estimate.to_dict().items()},
            "verdict": self.verdict,
            "note": self.note,
            "groups": self.groups,
            "extra": self.extra,
        }


def _nodata(
    key: str, title: str, paper: str, criterion: str, why: str, level: float, n_boot: int
) -> Claim:
    est = Estimate(math.nan, math.nan, math.nan, 0, level, n_boot)
    return Claim(key, title, paper, criterion, "", est, "no data", note=why)


def _group_row(est: Estimate, **labels: Any) -> dict[str, Any]:
    return {**labels, "value": est.value, "low": est.low, "high": est.high, "n": est.n}


class _Ctx:
    """Shared inputs of the claim functions."""

    def __init__(
        self,
        df: pd.DataFrame,
        regimes: Regimes,
        n_boot: int,
        level: float,
        seed: int,
        L: int | None,
        alpha: float | None,
    ) -> None:
        self.df = df
        self.regimes = regimes
        self.p = regimes.parameter
        self.n_boot = n_boot
        self.level = level
        self.seed = seed
        self.L = L
        self.alpha = alpha if alpha is not None else stats.primary_alpha(df, "MBL")
        self._count = 0

    def rng(self) -> np.random.Generator:
        """A fresh generator per bootstrap, from ``SeedSequence(seed, spawn_key=(k,))``."""
        self._count += 1
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self._count,)))

    def boot(self, statistic: Callable[..., float], strata: Any) -> Estimate:
        return stats.bootstrap(
            statistic, strata, n_boot=self.n_boot, level=self.level, seed=self.rng()
        )

    def mbl(self) -> pd.DataFrame:
        """Rows of the headline MBL alpha."""
        if self.alpha is None:
            return self.df.iloc[0:0]
        return self.df[np.isclose(self.df["disorder"].to_numpy(), self.alpha)]

    def headline_L(self, sub: pd.DataFrame, col: str) -> int | None:
        if self.L is not None:
            return int(self.L)
        ok = np.isfinite(numeric(sub, col)) if col in sub.columns else np.zeros(len(sub), bool)
        if not ok.any():
            return None
        return int(sub["L"].to_numpy()[ok].max())


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


# ---------------------------------------------------------------------------------------------
# The claims
# ---------------------------------------------------------------------------------------------


def claim_R_le_half(c: _Ctx) -> Claim:
    key, title = "R_le_half", "fraction of MBL samples with R <= 1/2"
    paper = "R never exceeds 1/2 (Fig. 2; minimal model: D_mu,nu <= half the total)"
    crit = f"fraction >= {R_HALF_MIN_FRACTION}"
    d = c.df[c.df["regime"] == "MBL"]
    r = numeric(d, "R")
    ok = np.isfinite(r)
    if not ok.any():
        return _nodata(key, title, paper, crit, "no MBL sample with a finite R", c.level, c.n_boot)
    ind = (r[ok] <= 0.5).astype(float)
    est = c.boot(_mean, ind)
    lo, hi = stats.wilson_interval(int(ind.sum()), ind.size, c.level)
    groups = []
    for (a, L), g in d[ok].groupby(["disorder", "L"]):
        gi = (numeric(g, "R") <= 0.5).astype(float)
        groups.append(_group_row(c.boot(_mean, gi), **{c.p: float(a)}, L=int(L)))
    verdict = verdict_at_least(est, R_HALF_MIN_FRACTION)
    rmax = float(np.max(r[ok]))
    return Claim(
        key,
        title,
        paper,
        crit,
        "all MBL samples (all L)",
        est,
        verdict,
        groups,
        note=f"max R = {rmax:.4g}; Wilson interval [{lo:.4g}, {hi:.4g}]",
        extra={"max_R": rmax, "wilson_low": lo, "wilson_high": hi},
    )


def _decay(c: _Ctx, sub: pd.DataFrame) -> tuple[Estimate, list[int], list[float]]:
    groups = {L: v for L, v in stats.group_values(sub, "R").items() if v.size}
    Ls = list(groups)
    meds = [float(np.median(v)) for v in groups.values()]
    if len(Ls) < 2:
        return Estimate(math.nan, math.nan, math.nan, 0, c.level, c.n_boot), Ls, meds

    def kappa(*s: np.ndarray) -> float:
        return -stats.median_log_slope(*s, xs=Ls)

    return c.boot(kappa, list(groups.values())), Ls, meds


def claim_thermal_decay(c: _Ctx) -> Claim:
    key = "thermal_R_decay"
    title = "decay rate kappa = -d ln(median R)/dL, thermal"
    paper = "thermal: R decays exponentially with L; MBL: R barely drifts (Fig. 2)"
    crit = "kappa interval > 0 and kappa_thermal > |kappa_MBL|"
    groups = []
    per_regime: dict[str, list[Estimate]] = {"thermal": [], "MBL": []}
    heads: dict[str, tuple[float, Estimate, list[int]]] = {}
    for reg in ("thermal", "MBL"):
        sub = c.df[c.df["regime"] == reg]
        prim = stats.primary_alpha(c.df, reg)
        for a in sorted(set(finite(numeric(sub, "disorder")))):
            est, Ls, meds = _decay(c, sub[np.isclose(sub["disorder"], a)])
            if not Ls:
                continue
            groups.append(
                _group_row(
                    est,
                    regime=reg,
                    **{c.p: float(a)},
                    L=f"{min(Ls)}-{max(Ls)}",
                    medians={str(L): m for L, m in zip(Ls, meds, strict=True)},
                )
            )
            per_regime[reg].append(est)
            if prim is not None and math.isclose(a, prim):
                heads[reg] = (a, est, Ls)
    if "thermal" not in heads or not math.isfinite(heads["thermal"][1].value):
        return _nodata(
            key, title, paper, crit, "needs thermal samples at >= 2 values of L", c.level, c.n_boot
        )
    a, est, Ls = heads["thermal"]
    verdict = "consistent" if est.low > 0 else "inconsistent" if est.high < 0 else "inconclusive"
    if est.n < MIN_SAMPLES:
        verdict = "inconclusive"
    note = ""
    if "MBL" in heads and math.isfinite(heads["MBL"][1].value):
        am, em, _ = heads["MBL"]
        note = f"MBL {c.p}={am:g}: kappa = {em.format('.3g')}"
        if verdict == "consistent" and not est.value > abs(em.value):
            verdict = "inconsistent" if est.high < abs(em.value) else "inconclusive"
    return Claim(
        key,
        title,
        paper,
        crit,
        f"thermal {c.p}={a:g}, L={min(Ls)}..{max(Ls)}",
        est,
        verdict,
        groups,
        note=note,
    )


def claim_zjump(c: _Ctx) -> Claim:
    key = "zjump_bimodal"
    title = f"fraction of MBL samples with Z_jump(mu,nu) within {ZJUMP_TOL} of 0 or 1"
    paper = "Z_jump(mu,nu) is extremely close to 0 or 1 in any one sample (Fig. 4 insets)"
    crit = f"fraction >= {ZJUMP_MIN_FRACTION}"
    return _fraction_claim(
        c,
        key,
        title,
        paper,
        crit,
        "zjump_mu_nu",
        lambda g: stats.near_zero_or_one(finite(numeric(g, "zjump_mu_nu")), ZJUMP_TOL),
        ZJUMP_MIN_FRACTION,
        note_fn=lambda g: (
            f"Z case (Z_jump > 1/2): {np.mean(finite(numeric(g, 'zjump_mu_nu')) > 0.5):.3g}"
        ),
    )


def _fraction_claim(
    c: _Ctx,
    key: str,
    title: str,
    paper: str,
    crit: str,
    col: str,
    indicator: Callable[[pd.DataFrame], np.ndarray],
    threshold: float,
    note_fn: Callable[[pd.DataFrame], str] | None = None,
    case: str | None = None,
) -> Claim:
    sub = c.mbl()
    if case is not None and len(sub):
        sub = sub[stats.case_of(sub) == case]
    L = c.headline_L(sub, col)
    if L is None:
        return _nodata(
            key, title, paper, crit, f"no MBL sample with column {col}", c.level, c.n_boot
        )
    groups = []
    for Lg, g in sub.groupby("L"):
        ind = indicator(g)
        if ind.size:
            groups.append(_group_row(c.boot(_mean, ind), **{c.p: c.alpha}, L=int(Lg)))
    head = sub[sub["L"] == L]
    ind = indicator(head)
    if ind.size == 0:
        return _nodata(key, title, paper, crit, f"no data at L={L}", c.level, c.n_boot)
    est = c.boot(_mean, ind)
    verdict = verdict_at_least(est, threshold)
    note = note_fn(head) if note_fn else ""
    selection = f"{c.p}={c.alpha:g}, L={L}" + (f", {case} case" if case else "")
    return Claim(key, title, paper, crit, selection, est, verdict, groups, note=note)


def _median_claim(
    c: _Ctx, key: str, title: str, paper: str, col: str, target: float, z_only: bool
) -> Claim:
    lo_t, hi_t = target / RATIO_TOL, target * RATIO_TOL
    crit = f"median in [{lo_t:.3g}, {hi_t:.3g}]"
    sub = c.mbl()
    if z_only:
        sub = sub[stats.case_of(sub) == "Z"] if len(sub) else sub
    L = c.headline_L(sub, col)
    if L is None:
        why = f"no {'Z-case ' if z_only else ''}MBL sample with column {col}"
        return _nodata(key, title, paper, crit, why, c.level, c.n_boot)
    groups = []
    for Lg, g in sub.groupby("L"):
        v = finite(numeric(g, col))
        if v.size:
            groups.append(_group_row(c.boot(_median, v), **{c.p: c.alpha}, L=int(Lg)))
    v = finite(numeric(sub[sub["L"] == L], col))
    est = c.boot(_median, v)
    verdict = verdict_within(est, lo_t, hi_t)
    return Claim(
        key,
        title,
        paper,
        crit,
        f"{c.p}={c.alpha:g}, L={L}" + (", Z case" * z_only),
        est,
        verdict,
        groups,
    )


def claim_median_SABp_SApB(c: _Ctx) -> Claim:
    return _median_claim(
        c,
        "median_SABp_SApB",
        "median of S_AB'/S_A'B (MBL)",
        "S_AB'/S_A'B is peaked near 1 (Fig. 4(a))",
        "ratio_SABp_SApB",
        1.0,
        False,
    )


def claim_median_SAB_SABp(c: _Ctx) -> Claim:
    cl = _median_claim(
        c,
        "median_SAB_SABp_Z",
        "median of S_AB/S_AB' in the Z case (MBL)",
        "Z case: S_AB ~ 2 S_AB' ~ 2 S_A'B (Fig. 4(b))",
        "ratio_SAB_SABp",
        2.0,
        True,
    )
    if cl.verdict != "no data":
        sub = c.mbl()
        sub = sub[stats.case_of(sub) == "Z"]
        sub = sub[sub["L"] == c.headline_L(sub, "ratio_SAB_SABp")]
        v = finite(numeric(sub, "ratio_SAB_SApB"))
        if v.size:
            e2 = c.boot(_median, v)
            cl.note = f"median S_AB/S_A'B = {e2.format('.3g')} (n={e2.n})"
            cl.extra["median_SAB_SApB"] = e2.to_dict()
    return cl


def _ab_largest(g: pd.DataFrame) -> np.ndarray:
    cols = [f"angle_{p}" for p in PAIRS if f"angle_{p}" in g.columns]
    if "angle_AB" not in cols or len(cols) < 2:
        return np.array([])
    ang = np.stack([numeric(g, col) for col in cols], axis=1)
    ok = np.isfinite(ang).all(axis=1)
    ang = ang[ok]
    return (ang[:, 0] >= ang[:, 1:].max(axis=1)).astype(float)


def claim_AB_largest(c: _Ctx) -> Claim:
    cl = _fraction_claim(
        c,
        "AB_largest_angle",
        "fraction of MBL samples whose AB demixing angle is the largest of the four pairs",
        "the AB demixing angle is by far the largest (Fig. 4(c, d))",
        f"fraction >= {AB_MIN_FRACTION}",
        "angle_AB",
        _ab_largest,
        AB_MIN_FRACTION,
    )
    if cl.verdict != "no data":
        sub = c.mbl()
        L = c.headline_L(sub, "angle_AB")
        assert L is not None  # the claim has data
        head = sub[sub["L"] == L]
        case = stats.case_of(head)
        parts = []
        for name in ("XY", "Z"):
            ind = _ab_largest(head[case == name])
            if ind.size:
                e = c.boot(_mean, ind)
                cl.groups.append(_group_row(e, **{c.p: c.alpha}, L=int(L), case=name))
                parts.append(f"{name} case {e.format('.3g')} (n={e.n})")
        trusted = [f"trusted_{p}" for p in PAIRS if f"trusted_{p}" in head.columns]
        if len(trusted) == len(PAIRS):
            ok = head[trusted].fillna(False).astype(bool).all(axis=1).to_numpy()
            ind = _ab_largest(head[ok])
            if ind.size:
                e = c.boot(_mean, ind)
                parts.append(
                    f"only samples whose four angles are trusted (splitting resolves "
                    f"the angle): {e.format('.3g')} (n={e.n} of {len(head)})"
                )
                cl.extra["trusted_only"] = e.to_dict()
        cl.note = "; ".join(parts)
    return cl


def _claim_AB_largest_case(c: _Ctx, case: str, panel: str) -> Claim:
    return _fraction_claim(
        c,
        f"AB_largest_angle_{case}",
        f"fraction of {case}-case MBL samples whose AB demixing angle is the largest of the four",
        f"{case} case: the AB demixing angle is the largest (Fig. 4({panel}))",
        f"fraction >= {AB_MIN_FRACTION}",
        "angle_AB",
        _ab_largest,
        AB_MIN_FRACTION,
        case=case,
    )


def claim_AB_largest_XY(c: _Ctx) -> Claim:
    """Fig. 4(c): the demixing angles of the XY case (the resonance away from the last site)."""
    return _claim_AB_largest_case(c, "XY", "c")


def claim_AB_largest_Z(c: _Ctx) -> Claim:
    """Fig. 4(d): the demixing angles of the Z case (the resonance flips the last site)."""
    return _claim_AB_largest_case(c, "Z", "d")


def claim_x_mode(c: _Ctx) -> Claim:
    key = "x_over_L_mode"
    title = "most probable resonance location x/L (MBL)"
    paper = "the most probable x/L is near 0.8 at the largest L (SM)"
    crit = f"|mode - 0.8| <= {X_MODE_TOL}"
    sub = c.mbl()
    col = "x_over_L"
    L = c.headline_L(sub, col)
    if L is None:
        return _nodata(key, title, paper, crit, "no MBL sample with x/L", c.level, c.n_boot)
    groups = []
    for Lg, g in sub.groupby("L"):
        v = finite(numeric(g, col))
        if v.size:
            groups.append(
                _group_row(
                    c.boot(stats.discrete_mode, v),
                    **{c.p: c.alpha},
                    L=int(Lg),
                    mean=float(v.mean()),
                )
            )
    v = finite(numeric(sub[sub["L"] == L], col))
    est = c.boot(stats.discrete_mode, v)
    verdict = verdict_within(est, 0.8 - X_MODE_TOL, 0.8 + X_MODE_TOL)
    n_none = int(np.sum(~np.isfinite(numeric(sub[sub["L"] == L], col))))
    note = f"mean x/L = {_mean(v):.3g}" + (f"; {n_none} samples without x" if n_none else "")
    return Claim(
        key, title, paper, crit, f"{c.p}={c.alpha:g}, L={L}", est, verdict, groups, note=note
    )


def _slope_est(c: _Ctx, sub: pd.DataFrame, top: int | None = None) -> tuple[Estimate, list[int]]:
    groups = stats.group_values(sub, "lnGamma")
    if top is not None:
        groups = dict(list(groups.items())[-top:])
    Ls = list(groups)
    if len(Ls) < 2:
        return Estimate(math.nan, math.nan, math.nan, 0, c.level, c.n_boot), Ls
    vals = list(groups.values())
    w = [v.size / max(v.var(ddof=1), 1e-300) if v.size > 1 else 1.0 for v in vals]

    def slope(*s: np.ndarray) -> float:
        return stats.mean_slope(*s, xs=Ls, weights=w)

    return c.boot(slope, vals), Ls


def claim_lnGamma_slope(c: _Ctx) -> Claim:
    key = "lnGamma_slope"
    title = f"slope of mean ln Gamma against L (MBL, largest {LNGAMMA_TOP_L} L), vs -ln 4"
    paper = (
        "alpha = 30 is near the avalanche instability: mean ln Gamma falls by about ln 4 "
        "per site (MBL stable only if faster than 4^-L)"
    )
    crit = f"|slope/ln4 + 1| <= {LNGAMMA_REL_TOL}"
    groups = []
    head = None
    for a in sorted(set(finite(numeric(c.df, "disorder"))), reverse=True):
        sub = c.df[np.isclose(c.df["disorder"], a)]
        reg = str(sub["regime"].iloc[0])
        for top in (None, LNGAMMA_TOP_L):
            est, Ls = _slope_est(c, sub, top)
            if len(Ls) < 2:
                continue
            groups.append(
                _group_row(
                    est,
                    **{c.p: float(a)},
                    regime=reg,
                    L=f"{min(Ls)}-{max(Ls)}",
                    slope_over_ln4=est.value / LN4,
                )
            )
            if top is not None and c.alpha is not None and math.isclose(a, c.alpha):
                head = (est, Ls)
    if head is None or not math.isfinite(head[0].value):
        return _nodata(
            key, title, paper, crit, "needs MBL samples with Gamma > 0 at >= 2 L", c.level, c.n_boot
        )
    est, Ls = head
    verdict = verdict_within(est, -LN4 * (1 + LNGAMMA_REL_TOL), -LN4 * (1 - LNGAMMA_REL_TOL))
    if est.high < -LN4:
        where = "Gamma falls faster than 4^-L (interval below -ln 4): stable to avalanches"
    elif est.low > -LN4:
        where = "Gamma falls slower than 4^-L (interval above -ln 4): unstable to avalanches"
    else:
        where = "interval contains -ln 4: at the avalanche instability within errors"
    return Claim(
        key,
        title,
        paper,
        crit,
        f"{c.p}={c.alpha:g}, L={min(Ls)}..{max(Ls)}",
        est,
        verdict,
        groups,
        note=f"slope/ln4 = {est.value / LN4:.3f}; {where}",
        extra={"slope_over_ln4": est.value / LN4, "ln4": LN4},
    )


def claim_landmark(c: _Ctx) -> Claim:
    key = "avalanche_landmark"
    title = f"avalanche landmark {c.p}_c: the slope of mean ln Gamma crosses -ln 4"
    paper = (
        "alpha = 30 is MBL near the avalanche instability (Ref. [16]): the slope of mean "
        "ln Gamma per site is about -ln 4 there"
    )
    floquet = c.p == "alpha"
    lo_t, hi_t = LANDMARK_PREMISE / LANDMARK_FACTOR, LANDMARK_PREMISE * LANDMARK_FACTOR
    crit = (
        f"{c.p}_c (largest bracketing pair of L) in [{lo_t:g}, {hi_t:g}]"
        if floquet
        else "information only (the premise concerns the Floquet model's alpha)"
    )
    from .landmark import landmark

    try:
        lm = landmark(c.df, c.p, n_boot=c.n_boot, level=c.level, seed=c.seed)
    except InputError as exc:
        return _nodata(key, title, paper, crit, str(exc), c.level, c.n_boot)

    def count(Ls: Sequence[int]) -> int:
        return int(lm.typical[lm.typical["L"].isin(list(Ls))]["n"].sum())

    groups = [
        {
            "L": f"{p['L'][0]}-{p['L'][1]}",
            "value": p["crossing"],
            "low": p["low"],
            "high": p["high"],
            "n": count(p["L"]),
            "reason": p["reason"] or "",
        }
        for p in lm.pairs
    ]
    fit = lm.fit
    if fit.get("L"):
        groups.append(
            {
                "L": f"fit {fit['L'][0]}-{fit['L'][1]}",
                "value": fit["crossing"],
                "low": fit["low"],
                "high": fit["high"],
                "n": count(fit.get("Ls", [])),
                "reason": fit.get("reason") or "",
            }
        )
    for g in groups:
        for k in ("value", "low", "high"):
            g[k] = math.nan if g[k] is None else float(g[k])
    bracketed = [p for p in lm.pairs if p["crossing"] is not None]
    if not bracketed:
        why = "; ".join(f"L={p['L'][0]}-{p['L'][1]}: {p['reason']}" for p in lm.pairs)
        return _nodata(
            key, title, paper, crit, why or "needs >= 2 L and >= 2 values", c.level, c.n_boot
        )
    head = bracketed[-1]
    n = count(head["L"])
    low = math.nan if head["low"] is None else float(head["low"])
    high = math.nan if head["high"] is None else float(head["high"])
    est = Estimate(float(head["crossing"]), low, high, n, c.level, c.n_boot)
    values = np.array(lm.values)
    below, above = values[values <= est.value], values[values >= est.value]
    gap = float(above.min() / below.max()) if below.size and above.size and below.max() > 0 else 1
    if not floquet:
        verdict = "info"
    elif gap > 2.0:
        verdict = "inconclusive"
    else:
        verdict = verdict_within(est, lo_t, hi_t)
    note = f"pair L={head['L'][0]}-{head['L'][1]}; grid values around it a factor {gap:.3g} apart"
    if gap > 2.0:
        note += " (more than 2: an interpolation over a wide gap)"
    if head.get("note"):
        note += f"; {head['note']}"
    return Claim(
        key,
        title,
        paper,
        crit,
        f"pairs of consecutive L, all {c.p}",
        est,
        verdict,
        groups,
        note=note,
        extra={"landmark": lm.to_dict()},
    )


def claim_flags(c: _Ctx) -> Claim:
    key = "flagged_fraction"
    title = "fraction of samples carrying an accuracy flag"
    paper = "(numerical quality, not a claim of the paper)"
    crit = "information only"
    f = c.df["flagged"].to_numpy(dtype=float)
    ok = np.isfinite(f)
    if not ok.any():
        return _nodata(key, title, paper, crit, "the table has no flag columns", c.level, c.n_boot)
    est = c.boot(_mean, f[ok])
    groups = []
    d = c.df[ok]
    for (a, L), g in d.groupby(["disorder", "L"]):
        groups.append(
            _group_row(
                c.boot(_mean, g["flagged"].to_numpy(dtype=float)), **{c.p: float(a)}, L=int(L)
            )
        )
    per_flag = {}
    for col in stats.flag_columns(c.df):
        v = c.df[col].dropna()
        if len(v):
            per_flag[col.removeprefix("cert_")] = float(v.astype(bool).mean())
    note = "; ".join(f"{k}: {v:.3g}" for k, v in per_flag.items())
    return Claim(
        key,
        title,
        paper,
        crit,
        "all samples",
        est,
        "info",
        groups,
        note=note,
        extra={"per_flag": per_flag},
    )


#: The claim functions, in report order.
CLAIMS: tuple[Callable[[_Ctx], Claim], ...] = (
    claim_R_le_half,
    claim_thermal_decay,
    claim_zjump,
    claim_median_SABp_SApB,
    claim_median_SAB_SABp,
    claim_AB_largest,
    claim_x_mode,
    claim_lnGamma_slope,
    claim_landmark,
    claim_flags,
    # appended (not beside AB_largest_angle) so that the bootstrap streams, and so the numbers,
    # of the claims above stay those of earlier reports
    claim_AB_largest_XY,
    claim_AB_largest_Z,
)


def check_headline(table: pd.DataFrame, L: object, alpha: object, parameter: str = "alpha") -> None:
    """The headline ``L`` and disorder value (``--fig4-L``, ``--fig4-alpha``) must be present in
    the table (prepared by :func:`mbl_avalanche.stats.prepare`): a selection that matches no
    sample is a one-line :class:`~mbl_avalanche.errors.InputError` naming it and the values
    present, not a report of ``n = 0`` claims."""

    d = table["disorder"].to_numpy(dtype=float) if "disorder" in table.columns else np.array([])
    Ls = table["L"].to_numpy(dtype=float) if "L" in table.columns else np.array([])
    rows = np.ones(len(table), dtype=bool)
    if alpha is not None:
        a = check_number("fig4_alpha", alpha)
        rows = np.isclose(d, a)
        if not rows.any():
            present = ", ".join(f"{v:g}" for v in sorted(set(d[np.isfinite(d)].tolist())))
            raise InputError(
                f"{parameter}={alpha!r} (--fig4-alpha) is not in the table: the {parameter} "
                f"values present are {present or 'none'}"
            )
    if L is not None:
        Lv = check_integer("fig4_L", L, minimum=2)
        if not np.any(Ls[rows] == Lv):
            at = f" at {parameter}={float(alpha):g}" if alpha is not None else ""  # type: ignore[arg-type]
            present = ", ".join(str(int(v)) for v in sorted(set(Ls[rows].tolist())))
            raise InputError(
                f"L={L!r} (--fig4-L) is not in the table{at}: the L values present are "
                f"{present or 'none'}"
            )


def check_claims(
    df: pd.DataFrame,
    *,
    regimes: Regimes | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    L: int | None = None,
    alpha: float | None = None,
    model: str | None = None,
) -> list[Claim]:
    """Check the paper's claims on a per-sample table.

    Parameters
    ----------
    df : DataFrame
        One row per sample, column-contract columns; missing columns give ``"no data"`` claims.
    regimes : Regimes, optional
        MBL/thermal split by the model's disorder parameter (default: the model's regimes,
        :meth:`~mbl_avalanche.stats.Regimes.for_model`; Floquet: alpha >= 10 MBL, alpha <= 2
        thermal).
    n_boot : int
        Bootstrap resamples per interval.
    level : float
        Confidence level of the intervals (default 0.95).
    seed : int
        Root seed of the bootstrap: each interval uses ``SeedSequence(seed, spawn_key=(k,))``.
    L, alpha : optional
        Headline ``L`` and MBL disorder value (alpha, W) of the near-resonance claims (default:
        the most sampled MBL value and its largest L with data).
    model : str, optional
        The model whose samples are checked (default: the table's only model).
    """
    df, model = stats.select_model(df, model)
    regimes = regimes or Regimes.for_model(model)
    table = stats.prepare(df, regimes)
    check_headline(table, L, alpha, regimes.parameter)
    check_bootstrap(n_boot, level, seed)
    ctx = _Ctx(table, regimes, int(n_boot), float(level), int(seed), L, alpha)
    claims = [f(ctx) for f in CLAIMS]
    for cl in claims:
        trend = trend_with_L(cl, regimes.parameter, float(level))
        if trend is not None:
            cl.extra["trend_with_L"] = trend
    return claims


def trend_with_L(claim: Claim, parameter: str, level: float) -> dict[str, Any] | None:
    """The drift of a claim's value with ``L``, from its per-``L`` breakdown.

    The rows of ``claim.groups`` labelled by one disorder value and an integer ``L`` only (other
    rows, e.g. per case, are not used) give ``(L_i, v_i)``; with at least two ``L`` the
    weighted least-squares slope ``dv/dL`` per added site is returned with the interval
    ``slope +- z se`` at ``level`` (``z`` the normal quantile; the weights ``1/sigma_i**2``
    from the bootstrap intervals, ``sigma_i = (high_i - low_i) / (2 z)``; a zero-width interval,
    e.g. a fraction of exactly 1, counts as the smallest nonzero one, and when every interval
    has zero width the slope is exact, its interval a point).  ``None`` when there is no
    such breakdown.  A slope whose interval excludes 0 is a finite-size drift of the claim.
    """
    rows = [
        g
        for g in claim.groups
        if set(g) - {"value", "low", "high", "n"} == {parameter, "L"}
        and isinstance(g["L"], int | np.integer)
        and all(math.isfinite(float(g[k])) for k in ("value", "low", "high"))
    ]
    if len({float(g[parameter]) for g in rows}) != 1 or len({int(g["L"]) for g in rows}) < 2:
        return None
    rows = sorted(rows, key=lambda g: int(g["L"]))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    x = np.array([float(g["L"]) for g in rows])
    y = np.array([float(g["value"]) for g in rows])
    sig = np.array([(float(g["high"]) - float(g["low"])) / (2 * z) for g in rows])
    positive = sig[sig > 0]
    exact = positive.size == 0  # every interval of zero width (e.g. a fraction 1 at every L)
    floor = float(positive.min()) if positive.size else 1.0
    w = 1.0 / np.maximum(sig, floor) ** 2
    xm = float(np.sum(w * x) / np.sum(w))
    sxx = float(np.sum(w * (x - xm) ** 2))
    slope = float(np.sum(w * (x - xm) * y) / sxx)
    se = 0.0 if exact else float(np.sqrt(1.0 / sxx))
    return {
        "L": [int(v) for v in x],
        "values": [float(v) for v in y],
        "per_site": slope,
        "low": slope - z * se,
        "high": slope + z * se,
        "drifts": bool(slope - z * se > 0 or slope + z * se < 0),
    }


def summary(df: pd.DataFrame, regimes: Regimes | None = None) -> dict[str, Any]:
    """Counts of the table: rows, and samples per (disorder value, L)."""
    regimes = regimes or Regimes()
    t = stats.prepare(df, regimes)
    counts = [
        {regimes.parameter: float(a), "L": int(L), "regime": str(g["regime"].iloc[0]), "n": len(g)}
        for (a, L), g in t.groupby(["disorder", "L"])
    ]
    return {"rows": len(t), "parameter": regimes.parameter, "counts": counts}


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def report_dict(
    claims: list[Claim],
    df: pd.DataFrame,
    *,
    regimes: Regimes | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    source: str = "",
    model: str | None = None,
) -> dict[str, Any]:
    """Everything of the report as a JSON-ready dict (non-finite numbers become ``None``)."""
    from ._version import __version__

    df, model = stats.select_model(df, model)
    regimes = regimes or Regimes.for_model(model)
    return jsonable(
        {
            "source": source,
            "model": model,
            "package_version": __version__,
            "regimes": regimes.describe(),
            "bootstrap": {
                "n_boot": n_boot,
                "level": level,
                "seed": seed,
                "method": "percentile; stratified by L for fits across L",
            },
            "table": summary(df, regimes),
            "claims": [cl.to_dict() for cl in claims],
        }
    )


def _fmt(x: Any, fmt: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, float):
        return f"{x:{fmt}}"
    return str(x)


def to_markdown(rep: dict[str, Any]) -> str:
    """The report (as made by :func:`report_dict`) as Markdown."""
    lvl = rep["bootstrap"]["level"]
    lines = [
        "# Claims of Ha, Morningstar & Huse, PRL 130, 250405 (2023), checked on this run",
        "",
        f"Source: `{rep['source']}` ({rep['table']['rows']} samples); package "
        f"{rep['package_version']}.  Regimes: {rep['regimes']}.  Intervals: "
        f"{100 * lvl:.0f}% bootstrap percentile, {rep['bootstrap']['n_boot']} resamples, "
        f"seed {rep['bootstrap']['seed']}.",
        "",
        "| # | claim | paper | measured [interval] | n | selection | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, cl in enumerate(rep["claims"], 1):
        val = (
            f"{_fmt(cl['value'])} [{_fmt(cl['low'])}, {_fmt(cl['high'])}]"
            if cl["value"] is not None
            else "n/a"
        )
        lines.append(
            f"| {i} | {cl['title']} | {cl['paper']} | {val} | {cl['n']} | {cl['selection']} | "
            f"**{cl['verdict']}** |"
        )
    lines += ["", "## Details", ""]
    for i, cl in enumerate(rep["claims"], 1):
        lines.append(f"### {i}. {cl['key']}: {cl['title']}")
        lines.append("")
        lines.append(f"- paper: {cl['paper']}")
        lines.append(f"- criterion: {cl['criterion']} -> **{cl['verdict']}**")
        if cl["note"]:
            lines.append(f"- {cl['note']}")
        trend = (cl.get("extra") or {}).get("trend_with_L")
        if trend:
            Ls = trend["L"]
            lines.append(
                f"- trend with L (weighted fit of the per-L values, L = {Ls[0]}..{Ls[-1]}): "
                f"{_fmt(trend['per_site'])} [{_fmt(trend['low'])}, {_fmt(trend['high'])}] per "
                "site" + (": drifts with L" if trend["drifts"] else ": no drift resolved")
            )
        if cl["groups"]:
            keys = []
            for g in cl["groups"]:
                keys += [
                    k
                    for k in g
                    if k not in ("value", "low", "high", "n", "medians") and k not in keys
                ]
            lines += [
                "",
                "| " + " | ".join([*keys, "value", "interval", "n"]) + " |",
                "|" + "---|" * (len(keys) + 3),
            ]
            for g in cl["groups"]:
                cells = [_fmt(g.get(k)) for k in keys]
                cells += [_fmt(g["value"]), f"[{_fmt(g['low'])}, {_fmt(g['high'])}]", str(g["n"])]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    p = rep["table"].get("parameter", "alpha")
    lines += [f"## Samples per ({p}, L)", "", f"| {p} | L | regime | n |", "|---|---|---|---|"]
    for row in rep["table"]["counts"]:
        lines.append(f"| {row[p]:g} | {row['L']} | {row['regime']} | {row['n']} |")
    return "\n".join(lines) + "\n"


def write_report(
    df: pd.DataFrame,
    outdir: str | Path,
    *,
    regimes: Regimes | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    L: int | None = None,
    alpha: float | None = None,
    source: str = "",
    stem: str = "report",
    model: str | None = None,
) -> tuple[Path, Path, list[Claim]]:
    """Check the claims and write ``outdir/report.md`` and ``outdir/report.json``."""
    df, model = stats.select_model(df, model)
    regimes = regimes or Regimes.for_model(model)
    claims = check_claims(
        df, regimes=regimes, n_boot=n_boot, level=level, seed=seed, L=L, alpha=alpha, model=model
    )
    rep = report_dict(
        claims,
        df,
        regimes=regimes,
        n_boot=n_boot,
        level=level,
        seed=seed,
        source=source,
        model=model,
    )
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    md, js = outdir / f"{stem}.md", outdir / f"{stem}.json"
    md.write_text(to_markdown(rep))
    js.write_text(json.dumps(rep, indent=2, allow_nan=False) + "\n")
    return md, js, claims


def load_table(path: str | Path) -> pd.DataFrame:
    """Deprecated: use :func:`mbl_avalanche.table.load_table`."""
    import warnings

    from .table import load_table as _load_table

    warnings.warn(
        "report.load_table is deprecated: use mbl_avalanche.table.load_table",
        DeprecationWarning,
        stacklevel=2,
    )
    return _load_table(path)
