"""Ensemble statistics on the per-sample table: regimes, bootstrap intervals, fits and modes.

Everything here is a pure function of numbers or of a :class:`pandas.DataFrame` whose columns are
those of the record schema (:mod:`mbl_avalanche.record`); every column a helper is asked for is
checked against that schema (:func:`mbl_avalanche.record.column`), so a renamed column fails
loudly instead of silently giving no data.  Missing
columns and NaN entries are tolerated: the helpers drop what they cannot use and say how many rows
they used.  Randomness (the bootstrap) always comes from an explicit seed or
:class:`numpy.random.Generator`; no global random state is touched.

Conventions
-----------
* **Regimes.**  A sample is *MBL* if its disorder parameter (the model's scan parameter:
  ``alpha`` of the Floquet model, ``W`` of the XXZ chain) is ``>= mbl_alpha_min`` (Floquet default
  10; the paper's MBL value is alpha = 30), *thermal* if ``<= thermal_alpha_max`` (Floquet default
  2; the paper's thermal value is alpha = 1), otherwise *intermediate*; each model has its
  defaults (:meth:`Regimes.for_model`; XXZ: W <= 1 thermal, W >= 8 MBL).  Explicit lists of values
  override the thresholds (:class:`Regimes`).
* **Bootstrap.**  Percentile intervals at confidence ``level`` (default 0.95) from ``n_boot``
  resamples with replacement.  With several strata (one per chain length ``L``) each stratum is
  resampled separately with its own size (a stratified bootstrap), so fits across ``L`` keep their
  design.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .models.protocol import check_integer, check_number
from .record import column

__all__ = [
    "LN4",
    "MAX_N_BOOT",
    "MBL_ALPHA_MIN",
    "THERMAL_ALPHA_MAX",
    "Estimate",
    "LineFit",
    "Regimes",
    "as_rng",
    "bootstrap",
    "case_of",
    "check_bootstrap",
    "discrete_mode",
    "finite",
    "fit_line",
    "flag_columns",
    "flagged",
    "group_values",
    "has_columns",
    "mean_slope",
    "median_log_slope",
    "missing_columns",
    "models_in",
    "near_zero_or_one",
    "numeric",
    "prepare",
    "primary_alpha",
    "select_model",
    "wilson_interval",
]

#: ``ln 4``: the avalanche criterion's slope -- MBL is stable to avalanches only if the typical
#: ``Gamma`` falls faster than ``4**-L`` (conventions, section 2b).
LN4 = math.log(4.0)

#: Default threshold: ``alpha >= MBL_ALPHA_MIN`` is the MBL regime (paper: alpha = 30).
MBL_ALPHA_MIN = 10.0
#: Default threshold: ``alpha <= THERMAL_ALPHA_MAX`` is the thermal regime (paper: alpha = 1).
THERMAL_ALPHA_MAX = 2.0

SeedLike = int | np.random.Generator | None


def as_rng(seed: SeedLike) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a seed (``None``: seed 0, for reproducibility)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(0 if seed is None else int(seed))


@dataclass(frozen=True)
class Regimes:
    """How samples are split into MBL, thermal and intermediate by their ``alpha``.

    Parameters
    ----------
    mbl_alpha_min : float
        ``alpha >= mbl_alpha_min`` is MBL (default 10).
    thermal_alpha_max : float
        ``alpha <= thermal_alpha_max`` is thermal (default 2).
    mbl, thermal : tuple of float, optional
        Explicit values of each regime; when given they override the thresholds for that regime
        (a value listed in neither tuple, with both given, is intermediate).
    parameter : str
        The column the regimes are decided by (default ``"alpha"``; ``"W"`` for the XXZ chain).
    """

    mbl_alpha_min: float = MBL_ALPHA_MIN
    thermal_alpha_max: float = THERMAL_ALPHA_MAX
    mbl: tuple[float, ...] | None = None
    thermal: tuple[float, ...] | None = None
    parameter: str = "alpha"

    def __post_init__(self) -> None:
        if not (self.thermal_alpha_max < self.mbl_alpha_min):
            raise InputError(
                f"thermal_alpha_max={self.thermal_alpha_max:g} is not allowed: it must be below "
                f"mbl_alpha_min={self.mbl_alpha_min:g} (thresholds of {self.parameter})"
            )
        if self.mbl is not None and self.thermal is not None:
            both = set(map(float, self.mbl)) & set(map(float, self.thermal))
            if both:
                raise InputError(
                    f"{self.parameter}={sorted(both)[0]:g} is listed as both MBL and thermal: "
                    f"give each {self.parameter} one regime"
                )

    def of(self, alpha: float) -> str:
        """``"MBL"``, ``"thermal"`` or ``"intermediate"`` for one ``alpha`` (NaN: intermediate)."""
        a = float(alpha)
        if not math.isfinite(a):
            return "intermediate"
        if self.mbl is not None and any(math.isclose(a, m) for m in self.mbl):
            return "MBL"
        if self.thermal is not None and any(math.isclose(a, t) for t in self.thermal):
            return "thermal"
        if self.mbl is None and a >= self.mbl_alpha_min:
            return "MBL"
        if self.thermal is None and a <= self.thermal_alpha_max:
            return "thermal"
        return "intermediate"

    def describe(self) -> str:
        """One line stating the rule."""
        p = self.parameter
        mbl = (
            f"{p} in {{" + ", ".join(f"{a:g}" for a in self.mbl) + "}"
            if self.mbl is not None
            else f"{p} >= {self.mbl_alpha_min:g}"
        )
        th = (
            f"{p} in {{" + ", ".join(f"{a:g}" for a in self.thermal) + "}"
            if self.thermal is not None
            else f"{p} <= {self.thermal_alpha_max:g}"
        )
        other = "alphas" if p == "alpha" else f"values of {p}"
        return f"MBL: {mbl}; thermal: {th}; other {other}: intermediate"

    @classmethod
    def for_model(
        cls,
        model: str,
        *,
        mbl_min: float | None = None,
        thermal_max: float | None = None,
        mbl: tuple[float, ...] | None = None,
        thermal: tuple[float, ...] | None = None,
    ) -> Regimes:
        """The regimes of a model family: its scan parameter and default thresholds
        (:attr:`mbl_avalanche.models.Model.regimes`), any of them overridden.

        A model without default thresholds (a user model) needs ``mbl_min`` and ``thermal_max``
        (or explicit ``mbl``/``thermal`` values); else :class:`InputError`.
        """
        from .models.registry import resolve

        m = resolve(model)
        th, mb = m.regimes if m.regimes is not None else (None, None)
        th = thermal_max if thermal_max is not None else th
        mb = mbl_min if mbl_min is not None else mb
        if (th is None and thermal is None) or (mb is None and mbl is None):
            raise InputError(
                f"model {m.family!r} has no default regimes: give the thresholds "
                f"(--mbl-min, --thermal-max) of its parameter {m.scan_parameter!r}"
            )
        return cls(
            mbl_alpha_min=float(mb if mb is not None else np.inf),
            thermal_alpha_max=float(th if th is not None else -np.inf),
            mbl=mbl,
            thermal=thermal,
            parameter=m.scan_parameter or "alpha",
        )


# ---------------------------------------------------------------------------------------------
# Table helpers
# ---------------------------------------------------------------------------------------------


def has_columns(df: pd.DataFrame, *cols: str) -> bool:
    """All ``cols`` present with at least one finite (or non-null) entry."""
    for c in map(column, cols):
        if c not in df.columns or df[c].notna().sum() == 0:
            return False
    return True


def missing_columns(df: pd.DataFrame, *cols: str) -> list[str]:
    """Those of ``cols`` that are absent or entirely null."""
    return [c for c in map(column, cols) if c not in df.columns or df[c].notna().sum() == 0]


def numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` as float64 (non-numbers become NaN); all-NaN if the column is absent."""
    if column(col) not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def finite(x: Any) -> np.ndarray:
    """The finite entries of ``x`` as a 1-d float array."""
    a = np.asarray(x, dtype=float).ravel()
    return a[np.isfinite(a)]


def models_in(df: pd.DataFrame) -> list[str]:
    """The model families of a table (a table without ``model`` holds Floquet samples)."""
    if "model" not in df.columns:
        return ["floquet"]
    return sorted({str(m) for m in df["model"].fillna("floquet")})


def select_model(df: pd.DataFrame, model: str | None = None) -> tuple[pd.DataFrame, str]:
    """The rows of one model: ``model``, or the table's only one (:class:`InputError` if the
    table holds several and none is chosen, or not the one chosen)."""
    present = models_in(df)
    if model is None:
        if len(present) > 1:
            raise InputError(
                f"the table holds several models ({', '.join(present)}): choose one with --model"
            )
        model = present[0]
    if model not in present:
        raise InputError(f"model={model!r} is not in the table: it holds {', '.join(present)}")
    if "model" not in df.columns:
        return df, model
    return df[df["model"].fillna("floquet").astype(str) == model], model


def prepare(df: pd.DataFrame, regimes: Regimes | None = None) -> pd.DataFrame:
    """A copy of ``df`` with a ``regime`` column and the derived columns used by figures/report.

    Adds ``disorder`` (the regimes' parameter: ``alpha``, ``W``, ...), ``regime`` (from it),
    ``lnGamma`` (``ln Gamma``; NaN where ``Gamma <= 0``),
    ``gap_ratio`` (``Gamma2 / Gamma``, else ``1 / cert_gamma_ratio``), ``flagged`` (any accuracy
    flag raised; NaN if no flag column exists) and ``x_over_L`` (from ``x / L`` if only ``x`` is
    present).  ``L`` becomes an integer-valued float column; rows without ``L`` are dropped.
    """
    regimes = regimes or Regimes()
    out = df.copy()
    out.columns = [str(c) for c in out.columns]
    if "L" not in out.columns:
        raise InputError(f"the table has no column 'L' (columns: {', '.join(out.columns[:12])})")
    out["L"] = numeric(out, "L")
    out = out[np.isfinite(out["L"].to_numpy())].copy()
    out["alpha"] = numeric(out, "alpha")
    if regimes.parameter not in out.columns:
        raise InputError(
            f"the table has no column {regimes.parameter!r} (the model's disorder parameter); "
            f"columns: {', '.join(out.columns[:12])}"
        )
    out["disorder"] = pd.to_numeric(out[regimes.parameter], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    out["regime"] = [regimes.of(a) for a in out["disorder"]]
    g = numeric(out, "Gamma")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["lnGamma"] = np.where(g > 0, np.log(np.where(g > 0, g, 1.0)), np.nan)
        g2 = numeric(out, "Gamma2")
        ratio = np.where(g > 0, g2 / np.where(g > 0, g, 1.0), np.nan)
        if not np.isfinite(ratio).any() and "cert_gamma_ratio" in out.columns:
            r = numeric(out, "cert_gamma_ratio")
            ratio = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.nan)
    out["gap_ratio"] = ratio
    out["flagged"] = flagged(out)
    if "x_over_L" not in out.columns and "x" in out.columns:
        out["x_over_L"] = numeric(out, "x") / out["L"].to_numpy()
    return out


def flagged(df: pd.DataFrame) -> np.ndarray:
    """Per row: 1.0 if any accuracy flag is raised, 0.0 if none, NaN if the table has no flags.

    Reads the comma-joined ``flags`` string and every boolean ``cert_*`` flag column
    (``cert_degenerate_slow_mode``, ``cert_gamma_below_precision``, and any future ones).
    """
    n = len(df)
    any_info = np.zeros(n, dtype=bool)
    raised = np.zeros(n, dtype=bool)
    if "cert_flags" in df.columns:
        s = df["cert_flags"]
        known = s.notna().to_numpy()
        txt = s.fillna("").astype(str).str.strip()
        raised |= known & (txt != "").to_numpy() & (txt.str.lower() != "nan").to_numpy()
        any_info |= known
    for c in flag_columns(df):
        v = df[c]
        known = v.notna().to_numpy()
        raised |= known & v.fillna(False).astype(bool).to_numpy()
        any_info |= known
    return np.where(any_info, raised.astype(float), np.nan)


def flag_columns(df: pd.DataFrame) -> list[str]:
    """The boolean accuracy-flag columns (``cert_*`` of bool dtype, or the two known flags)."""
    known = {"cert_degenerate_slow_mode", "cert_gamma_below_precision"}
    return [
        c
        for c in df.columns
        if c.startswith("cert_") and (c in known or pd.api.types.is_bool_dtype(df[c]))
    ]


def case_of(df: pd.DataFrame) -> np.ndarray:
    """Per row ``"Z"``, ``"XY"`` or ``""``: the ``case`` column, else ``Z_jump(mu,nu) > 1/2``."""
    if "case" in df.columns and df["case"].notna().any():
        return df["case"].fillna("").astype(str).str.upper().to_numpy()
    z = numeric(df, "zjump_mu_nu")
    return np.where(np.isfinite(z), np.where(z > 0.5, "Z", "XY"), "")


def group_values(df: pd.DataFrame, col: str, by: str = "L") -> dict[int, np.ndarray]:
    """Finite values of ``col`` per value of ``by`` (sorted keys, empty groups dropped)."""
    out: dict[int, np.ndarray] = {}
    if column(col) not in df.columns or column(by) not in df.columns or len(df) == 0:
        return out
    keys = numeric(df, by)
    vals = numeric(df, col)
    for k in np.unique(keys[np.isfinite(keys)]):
        v = finite(vals[keys == k])
        if v.size:
            out[int(k) if float(k).is_integer() else k] = v
    return out


def primary_alpha(df: pd.DataFrame, regime: str) -> float | None:
    """The disorder value (``disorder`` of :func:`prepare`, else ``alpha``) of ``regime`` with the
    most rows (ties: the most extreme value), or ``None``."""
    sub = df[df["regime"] == regime] if "regime" in df.columns else df.iloc[0:0]
    a = finite(numeric(sub, "disorder" if "disorder" in sub.columns else "alpha"))
    if a.size == 0:
        return None
    vals, counts = np.unique(a, return_counts=True)
    best = counts.max()
    cands = vals[counts == best]
    return float(cands.max() if regime == "MBL" else cands.min())


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """A statistic with its bootstrap percentile interval.

    Attributes
    ----------
    value : float
        The statistic on the data (NaN if it could not be computed).
    low, high : float
        Bootstrap percentile interval at confidence ``level`` (NaN without data).
    n : int
        Number of samples used (summed over strata).
    level : float
        Confidence level of ``[low, high]``.
    n_boot : int
        Number of bootstrap resamples.
    """

    value: float
    low: float
    high: float
    n: int
    level: float
    n_boot: int

    def covers(self, x: float) -> bool:
        """``low <= x <= high``."""
        return bool(self.low <= x <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (NaN kept as float)."""
        return asdict(self)

    def format(self, fmt: str = ".3g") -> str:
        """``value [low, high]``."""
        if not math.isfinite(self.value):
            return "n/a"
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


def bootstrap(
    statistic: Callable[..., float],
    strata: Sequence[np.ndarray] | np.ndarray,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: SeedLike = 0,
) -> Estimate:
    """Statistic of one or several samples with a (stratified) bootstrap percentile interval.

    Parameters
    ----------
    statistic : callable
        ``statistic(*strata) -> float`` (one positional array per stratum).  It may return NaN
        for a degenerate resample; such resamples are left out of the interval.
    strata : array or sequence of arrays
        One 1-d array (a single sample) or a sequence of them (strata resampled separately, each
        with replacement and its own size).
    n_boot : int
        Number of resamples (>= 1).
    level : float
        Confidence level in (0, 1).
    seed : int or Generator
        Source of randomness (explicit; default seed 0).
    """
    if isinstance(strata, np.ndarray) and strata.ndim == 1:
        strata = [strata]
    arrays = [np.asarray(s, dtype=float).ravel() for s in strata]
    n_boot = int(n_boot)
    if n_boot < 1:
        raise InputError(f"n_boot={n_boot} is not allowed: use an integer >= 1")
    if not 0.0 < float(level) < 1.0:
        raise InputError(f"level={level} is not allowed: use a number in (0, 1)")
    n = int(sum(a.size for a in arrays))
    if n == 0 or any(a.size == 0 for a in arrays):
        return Estimate(math.nan, math.nan, math.nan, n, float(level), n_boot)
    value = float(statistic(*arrays))
    rng = as_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = statistic(*[a[rng.integers(0, a.size, a.size)] for a in arrays])
    boots = boots[np.isfinite(boots)]
    if boots.size == 0 or not math.isfinite(value):
        return Estimate(value, math.nan, math.nan, n, float(level), n_boot)
    q = (1.0 - float(level)) / 2.0
    low, high = np.quantile(boots, [q, 1.0 - q])
    return Estimate(value, float(low), float(high), n, float(level), n_boot)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial fraction ``k / n`` (useful when ``k`` is 0 or ``n``,
    where a bootstrap interval collapses to a point)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = k / n
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


# ---------------------------------------------------------------------------------------------
# Fits and modes
# ---------------------------------------------------------------------------------------------


@dataclass
class LineFit:
    """Weighted least-squares line ``y = intercept + slope * x``.

    ``slope_err`` is the standard error from the given ``yerr`` (absolute weights) when given,
    else from the scatter of the residuals.
    """

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    n_points: int


def fit_line(x: Any, y: Any, yerr: Any | None = None) -> LineFit:
    """Fit a straight line by (weighted) least squares; NaN points are dropped.

    Parameters
    ----------
    x, y : array_like
        Abscissae and ordinates.
    yerr : array_like, optional
        One-sigma errors of ``y`` (weights ``1/yerr**2``; zero or non-finite errors are replaced
        by the smallest positive one).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    w = np.ones_like(x)
    if yerr is not None:
        e = np.asarray(yerr, dtype=float)
        good = np.isfinite(e) & (e > 0)
        floor = e[good & ok].min() if (good & ok).any() else 1.0
        w = 1.0 / np.where(good, e, floor) ** 2
    x, y, w = x[ok], y[ok], w[ok]
    n = x.size
    if n < 2 or np.ptp(x) == 0:
        return LineFit(math.nan, math.nan, math.nan, math.nan, n)
    a = np.stack([np.ones(n), x], axis=1)
    aw = a * w[:, None]
    cov = np.linalg.inv(a.T @ aw)
    coef = cov @ (aw.T @ y)
    if yerr is None:
        resid = y - a @ coef
        dof = n - 2
        s2 = float(resid @ resid) / dof if dof > 0 else math.nan
        cov = cov * s2
    return LineFit(
        float(coef[1]),
        float(coef[0]),
        float(math.sqrt(cov[1, 1])),
        float(math.sqrt(cov[0, 0])),
        n,
    )


def mean_slope(
    *strata: np.ndarray, xs: Sequence[float], weights: Sequence[float] | None = None
) -> float:
    """Slope of the stratum means against ``xs`` (weighted by ``weights`` if given)."""
    means = [float(np.mean(s)) if s.size else math.nan for s in strata]
    yerr = None if weights is None else 1.0 / np.sqrt(np.asarray(weights, dtype=float))
    return fit_line(xs, means, yerr).slope


def median_log_slope(*strata: np.ndarray, xs: Sequence[float]) -> float:
    """Slope of ``ln(median)`` of each stratum against ``xs`` (NaN if a median is <= 0)."""
    med = np.array([np.median(s) if s.size else math.nan for s in strata])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(med > 0, np.log(np.where(med > 0, med, 1.0)), np.nan)
    if not np.isfinite(y).all():
        return math.nan
    return fit_line(xs, y).slope


def discrete_mode(values: np.ndarray, decimals: int = 9) -> float:
    """Most frequent value (values rounded to ``decimals``; ties: the smallest)."""
    v = finite(values)
    if v.size == 0:
        return math.nan
    vals, counts = np.unique(np.round(v, decimals), return_counts=True)
    return float(vals[np.argmax(counts)])


def near_zero_or_one(z: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """1.0 where ``min(z, 1 - z) <= tol``, else 0.0."""
    z = np.asarray(z, dtype=float)
    return (np.minimum(z, 1.0 - z) <= tol).astype(float)


#: Most bootstrap resamples per interval (each is a Python-level resample of the samples: a
#: million resamples of the dozen claims take minutes already).
MAX_N_BOOT = 10**6


def check_bootstrap(
    n_boot: object,
    level: object,
    seed: object,
    names: tuple[str, str, str] = ("n_boot", "level", "seed"),
) -> tuple[int, float, int]:
    """Validate the bootstrap settings (``1 <= n_boot <= MAX_N_BOOT``, ``0 < level < 1``,
    ``seed >= 0``); ``names`` are what the messages call them (the command line: its flags)."""
    n = check_integer(names[0], n_boot, minimum=1, maximum=MAX_N_BOOT)
    lv = check_number(names[1], level, minimum=0.0, minimum_open=True)
    if lv >= 1.0:
        label = f"{names[1]} {level!r}" if names[1].startswith("-") else f"{names[1]}={level!r}"
        raise InputError(f"{label} is not allowed: use a number in (0, 1)")
    sd = check_integer(names[2], seed, minimum=0)
    return n, lv, sd
