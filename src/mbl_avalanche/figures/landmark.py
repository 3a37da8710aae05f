"""Figures of the avalanche landmark (:mod:`mbl_avalanche.landmark`; conventions, section 2b).

Three figures of one :class:`~mbl_avalanche.landmark.Landmark`, built as
:class:`matplotlib.figure.Figure` objects without pyplot, in the package style
(:mod:`.style`):

``landmark_flatness``
    ``ln Gamma_typ + L ln 4`` against ``L``, one line per parameter value, with the bootstrap
    intervals of the mean as error bars.  A line that falls is on the MBL side (``Gamma_typ``
    falls faster than ``4^-L``), one that rises on the thermal side; a flat line sits at the
    landmark.
``landmark_slopes``
    The finite-difference slope of ``ln Gamma_typ`` per added site against the parameter (a
    logarithmic axis when every value is positive), one line per consecutive pair of ``L``, with
    the line ``-ln 4`` and each pair's crossing (with its interval) marked on it.
``landmark_drift``
    Each pair's crossing with its interval against ``1 / L_mean`` (``L_mean = (L1 + L2) / 2``),
    and the joint fit's at ``1 / mean(L)`` of its range (the horizontal bar spans the range):
    how the landmark drifts with ``L``.  Pairs whose crossing the grid does not bracket are
    listed in the panel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..landmark import Landmark
from ..stats import LN4
from . import style

__all__ = [
    "FIGURES",
    "landmark_drift",
    "landmark_figures",
    "landmark_flatness",
    "landmark_slopes",
    "symbol",
    "write_landmark_figures",
]

#: Mathtext symbol of a parameter column (others: the column name in italics).
_SYMBOLS = {"alpha": r"\alpha", "W": "W", "Delta": r"\Delta", "epsilon": r"\epsilon"}
_MINUS = "\u2212"


def symbol(parameter: str) -> str:
    """The mathtext symbol of ``parameter``: ``alpha`` -> ``$\\alpha$``, ``W`` -> ``$W$``."""
    return "$" + _SYMBOLS.get(parameter, r"\mathit{" + parameter.replace("_", r"\_") + "}") + "$"


def _fmt(x: float) -> str:
    return f"{x:.3g}".replace("-", _MINUS)


def _counts(ns: Sequence[int]) -> str:
    ns = [int(n) for n in ns]
    if not ns:
        return "n = 0"
    lo, hi = min(ns), max(ns)
    return f"n = {lo}" if lo == hi else f"n = {lo}–{hi}"


def _int_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _errors(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars ``[value - low, high - value]`` (0 where unknown)."""
    return np.nan_to_num(np.stack([value - low, high - value]), nan=0.0).clip(min=0.0)


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.axes[0] if fig.axes else fig.add_subplot()
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=7)
    return fig


def landmark_flatness(result: Landmark) -> Figure:
    """``ln Gamma_typ + L ln 4`` against ``L``, one line per parameter value (flat = landmark).

    Error bars are the bootstrap percentile intervals of the mean of ``ln Gamma`` (shifted by
    the same ``L ln 4``); the legend gives the value and the samples per ``L``.  Colours run from
    the smallest (thermal side) to the largest (MBL side) value.
    """
    par = result.parameter
    fig = style.new_figure(style.COLUMN_WIDTH, 2.4)
    ax = fig.add_subplot()
    typ = result.typical
    values = result.values
    if not values:
        return _empty(fig, "no sample with Gamma > 0")
    colors = style.sequential_colors(len(values), "plasma")
    markers = ["o", "s", "^", "D", "v", "P", "X", "<", ">"]
    for i, p in enumerate(values):
        t = typ[np.isclose(typ[par].to_numpy(dtype=float), p)].sort_values("L")
        L = t["L"].to_numpy(dtype=float)
        y = t["mean_lnGamma"].to_numpy(dtype=float) + L * LN4
        lo = t["low"].to_numpy(dtype=float) + L * LN4
        hi = t["high"].to_numpy(dtype=float) + L * LN4
        ax.errorbar(
            L,
            y,
            yerr=_errors(y, lo, hi),
            fmt=markers[i % len(markers)] + "-",
            color=colors[i],
            ms=3.2,
            lw=0.9,
            label=f"{symbol(par)} = {p:g} ({_counts(t['n'])})",
        )
    ax.set_xlabel(r"chain length $L$")
    ax.set_ylabel(r"$\ln\Gamma_\mathrm{typ} + L \ln 4$")
    ax.xaxis.set_major_locator(_int_locator())
    ax.set_title("flat: at the landmark; falling: MBL side", fontsize=7)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=5.8)
    return fig


def landmark_slopes(result: Landmark) -> Figure:
    """Slope of ``ln Gamma_typ`` per added site against the parameter, per consecutive pair.

    The dashed line is ``-ln 4``; each pair's crossing is marked on it with its bootstrap
    interval (a horizontal bar), and the joint fit's slopes are drawn in black.  The parameter
    axis is logarithmic when every value is positive (the crossing is interpolated in ``ln p``).
    """
    par = result.parameter
    fig = style.new_figure(style.COLUMN_WIDTH, 2.7)
    ax = fig.add_subplot()
    sl = result.slopes
    if not len(sl):
        return _empty(fig, "no consecutive pair of L at one parameter value")
    n_pairs = len(result.pairs)
    colors = style.regime_colors("MBL", n_pairs)
    for i, pair in enumerate(result.pairs):
        L1, L2 = pair["L"]
        s = sl[(sl["L1"] == L1) & (sl["L2"] == L2)].sort_values(par)
        if not len(s):
            continue
        p = s[par].to_numpy(dtype=float)
        y = s["slope"].to_numpy(dtype=float)
        err = _errors(y, s["low"].to_numpy(dtype=float), s["high"].to_numpy(dtype=float))
        ns = [*s["n1"], *s["n2"]]
        ax.errorbar(
            p,
            y,
            yerr=err,
            fmt="o-",
            color=colors[i],
            ms=3.0,
            lw=0.9,
            label=f"$L$ = {L1}–{L2} ({_counts(ns)})",
        )
        x = pair["crossing"]
        if x is not None:
            lo, hi = pair["low"], pair["high"]
            xerr = None if lo is None or hi is None else [[x - lo], [hi - x]]
            ax.errorbar(
                [x], [-LN4], xerr=xerr, fmt="D", color=colors[i], ms=3.6, mfc="white", zorder=4
            )
    fit = result.fit
    if fit.get("slopes"):
        fp = np.array([r[par] for r in fit["slopes"]], dtype=float)
        fy = np.array([r["slope"] for r in fit["slopes"]], dtype=float)
        flo = np.array([r["low"] for r in fit["slopes"]], dtype=float)
        fhi = np.array([r["high"] for r in fit["slopes"]], dtype=float)
        L0, L1 = fit["L"]
        ax.errorbar(
            fp,
            fy,
            yerr=_errors(fy, flo, fhi),
            fmt="s--",
            color="black",
            ms=2.6,
            lw=0.8,
            mfc="none",
            label=f"fit $L$ = {L0}–{L1}",
        )
    ax.axhline(-LN4, color=style.REFERENCE_COLOR, ls="--", lw=0.9, label=r"$-\ln 4$")
    values = np.asarray(result.values, dtype=float)
    if values.size and np.all(values > 0):
        ax.set_xscale("log")
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ticks = values if values.size <= 8 else values[:: math.ceil(values.size / 8)]
        ax.xaxis.set_major_locator(FixedLocator([float(v) for v in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"{symbol(par)} (larger: more disordered)")
    ax.set_ylabel(r"$\Delta \ln\Gamma_\mathrm{typ} / \Delta L$")
    ax.legend(loc="best", fontsize=5.8)
    return fig


def landmark_drift(result: Landmark) -> Figure:
    """The crossing of each pair (and of the joint fit) against ``1 / L``: the landmark's drift.

    A pair ``(L1, L2)`` sits at ``1 / L_mean``, ``L_mean = (L1 + L2) / 2``, with its bootstrap
    interval; the joint fit at ``1 / mean(L)`` of its chain lengths, its horizontal bar spanning
    ``1 / L_max .. 1 / L_min``.  Pairs the grid does not bracket are listed in the panel.
    """
    par = result.parameter
    fig = style.new_figure(style.COLUMN_WIDTH, 2.5)
    ax = fig.add_subplot()
    xs, ys, lo, hi, names, missing = [], [], [], [], [], []
    for pair in result.pairs:
        L1, L2 = pair["L"]
        x = pair["crossing"]
        if x is None:
            missing.append(f"{L1}–{L2}: not bracketed")
            continue
        xs.append(2.0 / (L1 + L2))
        names.append(f"{L1}–{L2}")
        ys.append(x)
        lo.append(math.nan if pair["low"] is None else pair["low"])
        hi.append(math.nan if pair["high"] is None else pair["high"])
    if xs:
        y = np.array(ys)
        ax.errorbar(
            xs,
            y,
            yerr=_errors(y, np.array(lo), np.array(hi)),
            fmt="o-",
            color="#1f4e9c",
            ms=3.4,
            lw=0.9,
            label="consecutive pairs $L_1, L_2$",
        )
        for xi, yi, name in zip(xs, ys, names, strict=True):
            ax.annotate(
                name,
                (xi, yi),
                textcoords="offset points",
                xytext=(3, 4),
                fontsize=5.5,
            )
    fit = result.fit
    if fit.get("crossing") is not None and fit.get("Ls"):
        Ls = np.asarray(fit["Ls"], dtype=float)
        xf = 1.0 / float(Ls.mean())
        yf = float(fit["crossing"])
        flo = math.nan if fit["low"] is None else fit["low"]
        fhi = math.nan if fit["high"] is None else fit["high"]
        ax.errorbar(
            [xf],
            [yf],
            xerr=[[xf - 1.0 / Ls.max()], [1.0 / Ls.min() - xf]],
            yerr=_errors(np.array([yf]), np.array([flo]), np.array([fhi])),
            fmt="s",
            color="black",
            mfc="none",
            ms=3.6,
            lw=0.8,
            label=f"fit $L$ = {fit['L'][0]}–{fit['L'][1]}",
        )
    elif fit.get("L"):
        missing.append(f"fit {fit['L'][0]}–{fit['L'][1]}: not bracketed")
    if missing:
        ax.text(
            0.98,
            0.03,
            "\n".join(missing),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=5.5,
            color="0.3",
        )
    if not xs and fit.get("crossing") is None:
        _empty(fig, "no crossing of −ln 4 bracketed by the grid")
    ax.margins(x=0.15)
    ax.set_xlabel(r"$1 / L$")
    ax.set_ylabel(f"landmark {symbol(par)}" + r"$_c$")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=5.8)
    return fig


#: The landmark figures: (file stem, function), in order.
FIGURES = (
    ("landmark_flatness", landmark_flatness),
    ("landmark_slopes", landmark_slopes),
    ("landmark_drift", landmark_drift),
)


def landmark_figures(result: Landmark) -> dict[str, Figure]:
    """The three landmark figures of ``result`` by file stem (drawn in the package style)."""
    with style.style_context():
        return {stem: func(result) for stem, func in FIGURES}


def write_landmark_figures(
    result: Landmark,
    outdir: str | os.PathLike[str],
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Draw the landmark figures and write them as ``outdir/<stem>.<fmt>``; return the paths."""
    paths: list[Path] = []
    with style.style_context():
        for stem, func in FIGURES:
            fig = func(result)
            paths += style.save(fig, Path(outdir), stem, formats)
    return paths
