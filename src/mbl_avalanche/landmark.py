"""The avalanche landmark: where the typical slowest rate falls exactly like ``4^-L``.

Refs. [16], [21] (conventions, sections 2 and 2b): a chain with a bath at one end is stable to
avalanches only if its typical slowest rate falls faster than ``4^-L``, i.e. the slope of
``ln Gamma_typ(L) = mean over samples of ln Gamma`` against ``L`` is below ``-ln 4``.  For a
disorder parameter ``p`` of the model (the Floquet circuit's ``alpha``, the XXZ chain's ``W``;
larger ``p`` = more disordered) the *landmark* ``p_c(L1, L2)`` is the value at which the
finite-difference slope between two consecutive chain lengths ``L1 < L2`` equals ``-ln 4``.  It
drifts with ``L`` (Sels: "drifts considerably with system size"), so it is reported per pair of
``L``, with bootstrap intervals, and for a joint fit over the largest ``L``.

:func:`landmark` is a pure function of a per-sample table (one row per disorder sample, the
columns of :mod:`mbl_avalanche.record`); it returns a :class:`Landmark`.

Conventions
-----------
* **Rows used.**  Rows with ``status`` ``"ok"`` (or missing, as
  :func:`mbl_avalanche.table.load_table` reads them) when the column exists, a finite ``L`` and
  parameter value, and ``0 < Gamma < inf``; the others are counted in ``Landmark.dropped``.
  Samples carrying an accuracy flag are kept (in the MBL regime they are the typical ones;
  conventions, section 4), except in cells whose ``Gamma`` is out of double precision's reach.
* **Cells below precision.**  A sample flagged ``gamma_below_precision`` (column
  ``cert_gamma_below_precision``) has a ``Gamma`` that is only an upper bound: the Rayleigh
  quotient of a vector orthogonal to the uniform one is never below the true gap, and when the
  slow modes crowd below the eigensolver's resolution the computed span misses the slowest
  one.  Deep in the MBL regime at the larger ``L`` most samples are flagged (the Floquet circuit
  at ``alpha = 60``, ``L = 10``: 64%), which biases ``mean ln Gamma`` upward and the slopes that
  end there toward the thermal side.  A cell in which more than ``max_below_precision`` (default
  5%) of the samples are flagged is left out, with a note on every pair and fit it would have
  entered (``Landmark.excluded`` lists them; ``dropped["below_precision"]`` counts the rows).
* **Model.**  A table with several models (column ``model``) needs ``model=``; a table without
  the column is a Floquet table (record version 1, :func:`mbl_avalanche.record.upgrade`).  The
  other parameters and convention knobs of the model (e.g. the XXZ chain's ``Delta``, the
  circuit's ``gue_scale``) must each take one value: the landmark is a scan of one parameter.
* **Typical rate.**  Per cell ``(p, L)``: ``n``, ``mean ln Gamma``, its standard error
  ``std(ddof=1)/sqrt(n)`` and the bootstrap percentile interval of the mean
  (:func:`mbl_avalanche.stats.bootstrap`, ``n_boot`` resamples at confidence ``level``).  Every
  cell is resampled independently, by a generator of its own,
  ``SeedSequence(seed, spawn_key=(L, float64 bits of p))``: a cell's resamples do not change when
  other cells are added to the table.
* **Pairs.**  The consecutive pairs ``(L1, L2)`` of the chain lengths present in the table.  At
  each ``p`` where both cells exist, ``slope = (m(L2) - m(L1)) / (L2 - L1)``; its interval and
  every derived interval come from the same per-cell resample means (resample ``b`` of every
  cell enters resample ``b`` of every slope and crossing).
* **Crossing.**  ``f(p) = slope(p) + ln 4``; the crossing ``p*`` is where ``f`` changes sign
  between neighbouring grid values (or vanishes on one), interpolated linearly in ``ln p`` (when
  every ``p > 0``; linearly in ``p`` otherwise).  Several sign changes (a slope not monotone in
  ``p``): the one at the smallest ``p``, with a note.  The grid does not bracket it: ``None``
  with the reason.  Its interval: the percentiles of the crossings of the resamples that bracket
  one; the others are counted (``unbracketed``), and when they are more than half the interval
  is ``None`` with the reason.
* **Joint fit.**  For the largest ``top`` chain lengths of the table, per ``p`` having all of
  them: the least-squares slope of ``m(L)`` against ``L`` weighted by the standard errors
  (:func:`mbl_avalanche.stats.fit_line`; with the weights of the data in every resample), and
  its crossing of ``-ln 4`` as above.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from ._repr import jsonable
from .errors import InputError
from .record import MODEL_KNOBS, MODEL_PARAMETERS, SchemaError, column
from .stats import LN4

__all__ = [
    "MAX_BELOW_PRECISION",
    "SCAN_PARAMETER",
    "Landmark",
    "find_crossing",
    "landmark",
]

#: The scan (disorder) parameter of each built-in model: larger = more disordered.
SCAN_PARAMETER = {"floquet": "alpha", "heisenberg": "W"}

#: Model of a table without a ``model`` column (record version 1 knew only the Floquet circuit).
_DEFAULT_MODEL = "floquet"


def _user_scan_parameter(model: str) -> str | None:
    """The ``scan_parameter`` a user model class declares (``None`` if it cannot be imported
    or declares none)."""
    from .models.registry import resolve

    try:
        return resolve(model).scan_parameter or None
    except InputError:
        return None


#: The record column of the flag ``gamma_below_precision`` (conventions, section 4).
_FLAG = "cert_gamma_below_precision"

#: Default largest fraction of below-precision samples in a cell that is used.
MAX_BELOW_PRECISION = 0.05

_TYPICAL_COLUMNS = ("L", "n", "mean_lnGamma", "low", "high", "sem")
_SLOPE_COLUMNS = ("L1", "L2", "slope", "low", "high", "sem", "n1", "n2")


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(repr=False)
class Landmark:
    """The avalanche landmark of one model scanned in one parameter (conventions, section 2b).

    Attributes
    ----------
    model : str or None
        Model family of the rows used (``None`` only if the caller named none and the table has
        a ``model`` column with no value).
    parameter : str
        The scanned column (``"alpha"``, ``"W"``, ...); larger = more disordered.
    typical : pandas.DataFrame
        One row per cell ``(p, L)``: columns ``parameter``, ``L``, ``n``, ``mean_lnGamma``
        (``ln Gamma_typ``), ``low``, ``high`` (bootstrap percentile interval of the mean) and
        ``sem`` (standard error, NaN for ``n = 1``); sorted by ``p`` then ``L``.
    slopes : pandas.DataFrame
        One row per ``p`` and consecutive pair: ``parameter``, ``L1``, ``L2``, ``slope`` of
        ``ln Gamma_typ`` per added site, ``low``, ``high`` (bootstrap), ``sem`` (from the two
        standard errors), ``n1``, ``n2``; sorted by pair then ``p``.
    pairs : list of dict
        One per consecutive pair, in increasing ``L``: ``L`` (``[L1, L2]``), ``crossing``
        (``p*`` or ``None``), ``low``, ``high`` (its bootstrap interval or ``None``),
        ``unbracketed`` (resamples without a crossing), ``reason`` (why ``crossing`` is
        ``None``, else ``None``) and ``note`` (interval left out, several crossings, or
        ``None``).
    fit : dict
        The joint fit over the largest ``top`` chain lengths: ``L`` (``[L_min, L_max]``),
        ``Ls``, ``top``, ``crossing``, ``low``, ``high``, ``unbracketed``, ``reason``, ``note``
        as for a pair, and ``slopes`` (per ``p``: the parameter, ``slope``, ``low``, ``high``,
        ``slope_err``).
    level : float
        Confidence level of every interval.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Root seed of the bootstrap.
    dropped : dict of str to int
        Rows left out, by reason (``status``, ``L``, the parameter, ``Gamma``,
        ``below_precision``).
    excluded : list of dict
        The cells left out because too many of their ``Gamma`` are below double precision:
        ``{parameter: p, "L": L, "n": n, "below_precision": fraction}``.
    """

    model: str | None
    parameter: str
    typical: pd.DataFrame
    slopes: pd.DataFrame
    pairs: list[dict[str, Any]]
    fit: dict[str, Any]
    level: float
    n_boot: int
    seed: int
    dropped: dict[str, int] = field(default_factory=dict)
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        Ls = sorted({int(v) for v in self.typical["L"]}) if len(self.typical) else []
        n_p = int(self.typical[self.parameter].nunique()) if len(self.typical) else 0
        span = f"{Ls[0]}..{Ls[-1]}" if Ls else "none"
        parts = [_fmt_pair(p["L"], p) for p in self.pairs]
        if self.fit.get("L"):
            parts.append(_fmt_pair(self.fit["L"], self.fit, prefix="fit "))
        return (
            f"Landmark(model={self.model!r}, parameter={self.parameter!r}, L={span}, "
            f"{n_p} values, {'; '.join(parts) or 'no pairs'})"
        )

    @property
    def values(self) -> list[float]:
        """The parameter values of the table (sorted)."""
        return sorted({float(v) for v in self.typical[self.parameter]})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (non-finite numbers as ``None``).

        ``{"model", "parameter", "pairs": [{"L": [L1, L2], "crossing", "low", "high", ...}],
        "fit": {...}, "slopes": [{"L": [L1, L2], <parameter>, "slope", "low", "high", "sem",
        "n": [n1, n2]}], "excluded": [...]}``.
        """
        slopes = [
            {
                "L": [int(r.L1), int(r.L2)],
                self.parameter: float(r.p),
                "slope": float(r.slope),
                "low": float(r.low),
                "high": float(r.high),
                "sem": float(r.sem),
                "n": [int(r.n1), int(r.n2)],
            }
            for r in self.slopes.rename(columns={self.parameter: "p"}).itertuples(index=False)
        ]
        return jsonable(
            {
                "model": self.model,
                "parameter": self.parameter,
                "pairs": self.pairs,
                "fit": self.fit,
                "slopes": slopes,
                "excluded": self.excluded,
            }
        )


def _fmt_pair(Ls: Sequence[int], d: dict[str, Any], prefix: str = "") -> str:
    head = f"{prefix}{Ls[0]}-{Ls[-1]}: "
    x = d.get("crossing")
    if x is None or not math.isfinite(x):
        return head + "not bracketed"
    lo, hi = d.get("low"), d.get("high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return head + f"{x:.4g}"
    return head + f"{x:.4g} [{lo:.4g}, {hi:.4g}]"


# ---------------------------------------------------------------------------------------------
# Crossings
# ---------------------------------------------------------------------------------------------


def find_crossing(
    values: Sequence[float] | np.ndarray,
    slopes: Sequence[float] | np.ndarray,
    *,
    target: float = -LN4,
    log: bool | None = None,
) -> tuple[float, int]:
    """Where ``slopes`` (given at the sorted grid ``values``) crosses ``target``.

    Parameters
    ----------
    values : array_like
        Increasing parameter values.
    slopes : array_like
        The slope at each value (NaN: no crossing next to it).
    target : float
        The level to cross (default ``-ln 4``).
    log : bool, optional
        Interpolate in ``ln p`` (default: when every value is positive) or in ``p``.

    Returns
    -------
    crossing : float
        The crossing at the smallest ``p`` (a grid value where ``slope == target`` exactly, else
        linearly interpolated between the two neighbours whose slopes bracket ``target``); NaN
        when none.
    count : int
        Number of crossings (more than 1: the slope is not monotone in ``p``).
    """
    v = np.asarray(values, dtype=float)
    s = np.asarray(slopes, dtype=float)
    if v.shape != s.shape or v.ndim != 1:
        raise InputError(f"values and slopes must be 1-d of one length (got {v.shape}, {s.shape})")
    if v.size > 1 and not np.all(np.diff(v) > 0):
        raise InputError("values must be strictly increasing")
    if log is None:
        log = bool(v.size and np.all(v > 0))
    u = np.log(v) if log else v
    x, count = _first_crossing(u, s[None, :] - target)
    x0 = float(x[0])
    return (math.exp(x0) if log and math.isfinite(x0) else x0), int(count[0])


def _first_crossing(u: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``f`` (shape ``(B, k)``, sampled at increasing ``u``): the first zero of ``f``
    (linear interpolation in ``u``) and the number of zeros; NaN where there is none."""
    B, k = f.shape
    out = np.full(B, np.nan)
    if k == 0:
        return out, np.zeros(B, dtype=int)
    on = f == 0.0
    between = np.zeros((B, k), dtype=bool)
    if k > 1:
        between[:, :-1] = (f[:, :-1] * f[:, 1:]) < 0.0
    hit = on | between
    count = hit.sum(axis=1)
    rows = np.flatnonzero(count > 0)
    if rows.size == 0:
        return out, count
    i = np.argmax(hit[rows], axis=1)
    exact = on[rows, i]
    j = np.minimum(i + 1, k - 1)
    fi, fj = f[rows, i], f[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(exact, 0.0, fi / (fi - fj))
    out[rows] = u[i] + t * (u[j] - u[i])
    return out, count


def _interval(boots: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the finite ``boots`` (the rule of :func:`stats.bootstrap`)."""
    b = boots[np.isfinite(boots)]
    if b.size == 0:
        return (math.nan, math.nan)
    q = (1.0 - level) / 2.0
    lo, hi = np.quantile(b, [q, 1.0 - q])
    return (float(lo), float(hi))


def _crossing_summary(
    values: np.ndarray,
    slope: np.ndarray,
    boots: np.ndarray,
    *,
    parameter: str,
    level: float,
) -> dict[str, Any]:
    """Crossing of ``-ln 4`` by ``slope`` (at ``values``) and by each row of ``boots``."""
    n_boot = boots.shape[0]
    out: dict[str, Any] = {
        "crossing": None,
        "low": None,
        "high": None,
        "unbracketed": n_boot,
        "reason": None,
        "note": None,
    }
    if values.size < 2:
        out["reason"] = (
            f"the slope is known at {values.size} value{'s' if values.size != 1 else ''} "
            f"of {parameter} (needs 2)"
        )
        return out
    log = bool(np.all(values > 0))
    u = np.log(values) if log else values
    x, count = _first_crossing(u, slope[None, :] + LN4)
    xb, _ = _first_crossing(u, boots + LN4)
    if log:
        x, xb = np.exp(x), np.exp(xb)
    unbracketed = int(np.count_nonzero(~np.isfinite(xb)))
    out["unbracketed"] = unbracketed
    notes = []
    if not math.isfinite(float(x[0])):
        if np.all(slope < -LN4):
            out["reason"] = (
                f"slope below -ln 4 at every {parameter}: MBL side only, the landmark lies "
                f"below {parameter}={values[0]:g}"
            )
        else:
            out["reason"] = (
                f"slope above -ln 4 at every {parameter}: thermal side only, the landmark lies "
                f"above {parameter}={values[-1]:g}"
            )
        return out
    out["crossing"] = float(x[0])
    if int(count[0]) > 1:
        notes.append(
            f"the slope crosses -ln 4 {int(count[0])} times (not monotone in {parameter}); "
            f"the crossing at the smallest {parameter} is reported"
        )
    if 2 * unbracketed > n_boot:
        notes.append(
            f"not bracketed in {unbracketed} of {n_boot} resamples (more than half): no interval"
        )
    else:
        lo, hi = _interval(xb, level)
        out["low"], out["high"] = lo, hi
        if unbracketed:
            notes.append(
                f"not bracketed in {unbracketed} of {n_boot} resamples: interval from the "
                f"other {n_boot - unbracketed}"
            )
    out["note"] = "; ".join(notes) or None
    return out


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


def _select(
    df: pd.DataFrame, parameter: str | None, model: str | None
) -> tuple[pd.DataFrame, str | None, str, dict[str, int]]:
    """The rows used, as columns ``p``, ``L``, ``lnGamma``; the model, parameter, drop counts."""
    d = df.copy()
    d.columns = [str(c) for c in d.columns]
    available = ", ".join(d.columns[:40]) + (", ..." if len(d.columns) > 40 else "")
    for need in ("L", "Gamma"):
        if need not in d.columns:
            raise InputError(f"the table has no column {need!r} (columns: {available})")
    if "model" in d.columns:
        present = sorted({str(m) for m in d["model"].dropna()})
        if model is None:
            if len(present) > 1:
                raise InputError(
                    f"the table holds several models ({', '.join(present)}): choose one with "
                    "model= (--model)"
                )
            model = present[0] if present else None
        else:
            if model not in present:
                raise InputError(
                    f"model={model!r} is not in the table (models: {', '.join(present) or 'none'})"
                )
            d = d[d["model"].astype(str) == model]
    elif model is None:
        model = _DEFAULT_MODEL
    if parameter is None:
        parameter = SCAN_PARAMETER.get(str(model)) if model is not None else None
        if parameter is None and model is not None:
            parameter = _user_scan_parameter(str(model))
        if parameter is None:
            raise InputError(
                f"model {model!r} has no known scan parameter: give parameter= (--parameter), "
                f"one of the columns ({available})"
            )
    if parameter not in d.columns:
        raise InputError(
            f"the parameter column {parameter!r} is not in the table (columns: {available})"
        )
    try:
        column(parameter)
    except SchemaError as exc:
        raise InputError(
            f"parameter {parameter!r} is not a column of the record schema "
            "(mbl_avalanche.record): name a model parameter"
        ) from exc
    if parameter in ("L", "Gamma", "sample", "seed"):
        raise InputError(f"parameter {parameter!r} is not allowed: name a model parameter")

    dropped: dict[str, int] = {}
    n0 = len(d)
    if "status" in d.columns:
        st = d["status"]
        d = d[st.isna() | (st.astype(str) == "ok")]
        dropped["status"] = n0 - len(d)
    L = stats.numeric(d, "L")
    p = stats.numeric(d, parameter)
    g = stats.numeric(d, "Gamma")
    okL = np.isfinite(L)
    okp = okL & np.isfinite(p)
    okg = okp & np.isfinite(g) & (g > 0)
    dropped["L"] = int(np.count_nonzero(~okL))
    dropped[parameter] = int(np.count_nonzero(okL & ~okp))
    dropped["Gamma"] = int(np.count_nonzero(okp & ~okg))
    used = d[okg]
    if model is not None:
        family = [*MODEL_PARAMETERS.get(model, ()), *MODEL_KNOBS.get(model, ())]
        for other in family:
            if other == parameter or other not in used.columns:
                continue
            vals = used[other].dropna().unique()
            if len(vals) > 1:
                shown = ", ".join(sorted(map(str, vals))[:6])
                raise InputError(
                    f"the table holds several values of {other} ({shown}): the landmark scans "
                    f"{parameter} at one value of every other parameter; select the rows first"
                )
    if np.any(L[okg] != np.round(L[okg])):
        raise InputError("column 'L' holds non-integer chain lengths")
    flag = np.zeros(int(np.count_nonzero(okg)), dtype=bool)
    if _FLAG in used.columns:
        f = used[_FLAG]
        flag = f.fillna(False).astype(str).str.lower().isin(("true", "1", "1.0")).to_numpy()
    out = pd.DataFrame(
        {"p": p[okg], "L": L[okg].astype(np.int64), "lnGamma": np.log(g[okg]), "flag": flag},
        index=used.index,
    )
    return out, model, parameter, {k: v for k, v in dropped.items() if v}


@dataclass
class _Cell:
    n: int
    mean: float
    low: float
    high: float
    sem: float
    boots: np.ndarray  # the n_boot resample means


def _cell(x: np.ndarray, rng: np.random.Generator, n_boot: int, level: float) -> _Cell:
    """Mean of ``x`` with its bootstrap interval (:func:`stats.bootstrap`) and resample means."""
    calls: list[float] = []

    def mean(a: np.ndarray) -> float:
        m = float(np.mean(a))
        calls.append(m)
        return m

    est = stats.bootstrap(mean, x, n_boot=n_boot, level=level, seed=rng)
    # stats.bootstrap evaluates the statistic once on the data and once per resample: keep the
    # resamples (the data's value is removed by value, so the order of the calls does not matter)
    if len(calls) != n_boot + 1:  # pragma: no cover - a change of stats.bootstrap
        raise RuntimeError("stats.bootstrap did not evaluate the statistic n_boot + 1 times")
    del calls[calls.index(est.value)]
    sem = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return _Cell(x.size, est.value, est.low, est.high, sem, np.asarray(calls))


def _float_bits(p: float) -> int:
    return int(np.array(p, dtype=np.float64).view(np.uint64))


# ---------------------------------------------------------------------------------------------
# The landmark
# ---------------------------------------------------------------------------------------------


def landmark(
    df: pd.DataFrame,
    parameter: str | None = None,
    *,
    model: str | None = None,
    top: int = 3,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    max_below_precision: float = MAX_BELOW_PRECISION,
) -> Landmark:
    """The avalanche landmark of a per-sample table (conventions, section 2b).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per disorder sample, with columns ``L``, ``Gamma`` and the parameter column
        (optionally ``model`` and ``status``; see the module's conventions for the rows used).
    parameter : str, optional
        The scanned column; default: the model's scan parameter (:data:`SCAN_PARAMETER`:
        ``floquet`` -> ``alpha``, ``heisenberg`` -> ``W``; a user model's ``scan_parameter``
        if its class can be imported).  Larger = more disordered.
    model : str, optional
        The model family to use (required when the table holds several).
    top : int
        The joint fit uses the largest ``top`` chain lengths (>= 2; all of them if the table has
        fewer).
    n_boot : int
        Bootstrap resamples (>= 1).
    level : float
        Confidence level of the intervals, in (0, 1).
    seed : int
        Root seed (>= 0) of the bootstrap: cell ``(p, L)`` is resampled by
        ``SeedSequence(seed, spawn_key=(L, float64 bits of p))``.
    max_below_precision : float
        Largest fraction, in ``[0, 1]``, of samples flagged ``gamma_below_precision`` in a cell
        ``(p, L)`` that is used (default 0.05); cells above it are left out (see the module's
        conventions; ``1`` keeps every cell).

    Returns
    -------
    Landmark
        Typical rates per cell, slopes per pair and ``p``, the crossing per pair and of the fit.

    Raises
    ------
    InputError
        Missing columns, several models without ``model=``, an unknown parameter, several values
        of another model parameter, bad ``top``, ``n_boot``, ``level`` or ``seed``.
    """
    if isinstance(top, bool) or int(top) != top or top < 2:
        raise InputError(f"top={top} is not allowed: use an integer >= 2")
    n_boot, level, seed = stats.check_bootstrap(n_boot, level, seed)
    if not 0.0 <= float(max_below_precision) <= 1.0:
        raise InputError(
            f"max_below_precision={max_below_precision} is not allowed: use a fraction in [0, 1]"
        )
    top, n_boot, level, seed = int(top), int(n_boot), float(level), int(seed)

    d, model, parameter, dropped = _select(df, parameter, model)
    cells: dict[tuple[float, int], _Cell] = {}
    excluded: list[dict[str, Any]] = []
    for (p, L), g in d.groupby(["p", "L"], sort=True):
        frac = float(g["flag"].mean())
        if frac > max_below_precision:
            excluded.append(
                {parameter: float(p), "L": int(L), "n": len(g), "below_precision": frac}
            )
            dropped["below_precision"] = dropped.get("below_precision", 0) + len(g)
            continue
        rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(int(L), _float_bits(float(p))))
        )
        cells[(float(p), int(L))] = _cell(g["lnGamma"].to_numpy(dtype=float), rng, n_boot, level)
    gone = {(e[parameter], e["L"]): e["below_precision"] for e in excluded}

    typical = pd.DataFrame(
        [
            {parameter: p, "L": L, "n": c.n, "mean_lnGamma": c.mean}
            | {"low": c.low, "high": c.high, "sem": c.sem}
            for (p, L), c in cells.items()
        ],
        columns=[parameter, *_TYPICAL_COLUMNS],
    )
    values = sorted({p for p, _ in cells})
    Ls = sorted({L for _, L in cells})

    slope_rows: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for L1, L2 in itertools.pairwise(Ls):
        ps, sl, bs = [], [], []
        for p in values:
            c1, c2 = cells.get((p, L1)), cells.get((p, L2))
            if c1 is None or c2 is None:
                continue
            dL = L2 - L1
            s = (c2.mean - c1.mean) / dL
            b = (c2.boots - c1.boots) / dL
            lo, hi = _interval(b, level)
            slope_rows.append(
                {parameter: p, "L1": L1, "L2": L2, "slope": s, "low": lo, "high": hi}
                | {"sem": math.hypot(c1.sem, c2.sem) / dL, "n1": c1.n, "n2": c2.n}
            )
            ps.append(p)
            sl.append(s)
            bs.append(b)
        boots = np.stack(bs, axis=1) if bs else np.empty((n_boot, 0))
        summary = _crossing_summary(
            np.array(ps), np.array(sl), boots, parameter=parameter, level=level
        )
        values_here = sorted(set(values) | {p for p, L in gone if L in (L1, L2)})
        absent = [p for p in values_here if p not in ps]
        below = [p for p in absent if (p, L1) in gone or (p, L2) in gone]
        missing = [p for p in absent if p not in below]
        gaps = []
        if missing:
            gaps.append(
                f"{parameter} = {', '.join(f'{p:g}' for p in missing)} left out: L = {L1} or "
                f"{L2} absent there"
            )
        if below:
            gaps.append(_below_note(parameter, below, (L1, L2), gone))
        if gaps:
            summary["note"] = "; ".join(n for n in (summary["note"], *gaps) if n)
        pairs.append({"L": [L1, L2], **summary})
    slopes = pd.DataFrame(slope_rows, columns=[parameter, *_SLOPE_COLUMNS])

    fit = _joint_fit(cells, values, Ls, top, parameter=parameter, n_boot=n_boot, level=level)
    if fit.get("Ls"):
        below = sorted({p for p, L in gone if L in fit["Ls"]})
        if below:
            note = _below_note(parameter, below, tuple(fit["Ls"]), gone)
            fit["note"] = "; ".join(n for n in (fit.get("note"), note) if n)
    return Landmark(
        model=model,
        parameter=parameter,
        typical=typical,
        slopes=slopes,
        pairs=pairs,
        fit=fit,
        level=level,
        n_boot=n_boot,
        seed=seed,
        dropped=dropped,
        excluded=excluded,
    )


def _below_note(
    parameter: str, values: Sequence[float], Ls: Sequence[int], gone: dict[tuple[float, int], float]
) -> str:
    """``"alpha = 60 left out: Gamma below double precision in 64% of the samples at L = 10"``."""
    parts = []
    for p in values:
        where = ", ".join(f"{100 * gone[(p, L)]:.0f}% at L = {L}" for L in Ls if (p, L) in gone)
        parts.append(f"{p:g} ({where})")
    return (
        f"{parameter} = {'; '.join(parts)} left out: Gamma below double precision in more "
        "than the allowed share of the samples"
    )


def _joint_fit(
    cells: dict[tuple[float, int], _Cell],
    values: list[float],
    Ls: list[int],
    top: int,
    *,
    parameter: str,
    n_boot: int,
    level: float,
) -> dict[str, Any]:
    """Weighted slope of ``m(L)`` over the largest ``top`` L per ``p``, and its crossing."""
    fit_Ls = Ls[-top:]
    notes = []
    if 2 <= len(Ls) < top:
        notes.append(f"the table has only {len(Ls)} chain lengths: the fit uses all of them")
    rows, ps, sl, bs, missing = [], [], [], [], []
    x = np.array(fit_Ls, dtype=float)
    for p in values:
        cs = [cells.get((p, L)) for L in fit_Ls]
        if len(fit_Ls) < 2:
            break
        if any(c is None for c in cs):
            missing.append(p)
            continue
        have = [c for c in cs if c is not None]
        y = np.array([c.mean for c in have])
        sem = np.array([c.sem for c in have])
        yerr = sem if np.isfinite(sem).any() else None
        line = stats.fit_line(x, y, yerr)
        # the weighted least-squares slope is linear in y: its coefficients, with the data's
        # weights, give the slope of every resample
        coef = np.array([stats.fit_line(x, e, yerr).slope for e in np.eye(x.size)])
        b = np.stack([c.boots for c in have], axis=1) @ coef
        lo, hi = _interval(b, level)
        rows.append(
            {parameter: p, "slope": line.slope, "low": lo, "high": hi}
            | {"slope_err": line.slope_err}
        )
        ps.append(p)
        sl.append(line.slope)
        bs.append(b)
    if missing:
        notes.append(
            f"{parameter} = {', '.join(f'{p:g}' for p in missing)} left out: not every L of the "
            "fit is present there"
        )
    boots = np.stack(bs, axis=1) if bs else np.empty((n_boot, 0))
    summary = _crossing_summary(np.array(ps), np.array(sl), boots, parameter=parameter, level=level)
    if len(fit_Ls) < 2:
        summary["reason"] = f"the table has {len(Ls)} chain length(s): a fit needs 2"
    if summary["note"]:
        notes.append(summary["note"])
    summary["note"] = "; ".join(notes) or None
    return {
        "L": [fit_Ls[0], fit_Ls[-1]] if len(fit_Ls) >= 2 else [],
        "Ls": list(fit_Ls) if len(fit_Ls) >= 2 else [],
        "top": top,
        **summary,
        "slopes": rows,
    }
