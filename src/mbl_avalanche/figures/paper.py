"""The paper's figures from the per-sample table (one row per sample, the column contract).

Every figure is a pure function of a :class:`pandas.DataFrame` with the columns of
:meth:`mbl_avalanche.analysis.SampleResult.scalars`; :func:`make_figures` draws them all and
writes PNG and PDF.  A figure whose columns are absent (for instance the near-resonance columns of
a table made before that analysis existed) is skipped with a note; NaN entries are left out and
the legends count only the samples drawn.

Figures (file stems)
--------------------
``fig2_R``
    Paper Fig. 2: distributions of ``R = D_mu_nu / (2^L Gamma)`` per ``L`` for the MBL and the
    thermal alphas, on a logarithmic ``R`` axis, with the line ``R = 1/2``.
``fig4_resonant_set``
    Paper Fig. 4: (a) ``S_AB'/S_A'B`` with the ``Z_jump(AB')``, ``Z_jump(A'B)`` inset; (b) in the Z
    case ``S_AB/S_AB'`` and ``S_AB/S_A'B`` with the ``Z_jump(AB)`` inset; (c, d) the demixing
    angles of AB, A'B, AB', A'B' per sample (sorted by the AB angle) in the XY and Z cases.  One
    MBL alpha at one ``L`` (default: the most sampled MBL alpha at its largest ``L``).
``fig4cd_angle_distributions``
    Distributions of the four demixing angles, XY and Z cases (same selection as Fig. 4).
``x_over_L``
    Supplemental: distribution of the resonance location ``x/L`` per ``L`` (MBL alphas).
``zjump_mu_nu``
    Distribution of ``Z_jump(mu, nu)`` per ``L`` (MBL and thermal panels).
``lnGamma_vs_L``
    Sample mean of ``ln Gamma`` against ``L`` per alpha with standard errors, the weighted linear
    fit (slope in the legend) and the avalanche reference slope ``-ln 4``.
``gap_ratio``
    Distributions of ``Gamma_2 / Gamma`` per ``L`` (the paper assumes a gap: ratio > 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import stats
from ..stats import LN4, Regimes, finite, numeric
from . import style

__all__ = [
    "FIGURES",
    "FigureRecord",
    "Skip",
    "fig2_R",
    "fig4_resonant_set",
    "fig4cd_angle_distributions",
    "fig_gap_ratio",
    "fig_lnGamma",
    "fig_x_over_L",
    "fig_zjump",
    "make_figures",
]


class Skip(Exception):
    """A figure cannot be drawn from this table; the message says why."""


@dataclass
class FigureRecord:
    """What :func:`make_figures` did for one figure.

    Attributes
    ----------
    name : str
        File stem of the figure.
    paths : list of Path
        Files written (empty if skipped).
    note : str
        Why the figure was skipped, or remarks about the data drawn (empty if none).
    """

    name: str
    paths: list[Path] = field(default_factory=list)
    note: str = ""

    @property
    def skipped(self) -> bool:
        """No file was written."""
        return not self.paths


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _require(df: pd.DataFrame, *cols: str) -> None:
    miss = stats.missing_columns(df, *cols)
    if miss:
        raise Skip(f"columns missing or empty: {', '.join(miss)}")


def _sym(regimes: Regimes | None) -> str:
    """The symbol of the regimes' disorder parameter in labels (``alpha`` -> ``α``)."""
    p = (regimes or Regimes()).parameter
    return {"alpha": "α", "epsilon": "ε", "eta": "η"}.get(p, p)


def _fmt_alpha(a: float) -> str:
    return f"{a:g}"


def _counts_label(ns: Sequence[int]) -> str:
    ns = [int(n) for n in ns]
    if not ns:
        return "n = 0"
    lo, hi = min(ns), max(ns)
    return f"n = {lo}" if lo == hi else f"n = {lo}–{hi}"


def _log_edges(
    values: np.ndarray,
    *,
    nbins: int = 30,
    lo: float | None = None,
    hi: float | None = None,
    pad: float = 0.02,
) -> np.ndarray:
    """Edges in log10 space spanning the positive ``values`` (or ``[lo, hi]`` in log10)."""
    v = values[values > 0]
    a = np.log10(v.min()) if lo is None else lo
    b = np.log10(v.max()) if hi is None else hi
    if not b > a:
        a, b = a - 0.5, b + 0.5
    span = b - a
    return np.linspace(a - pad * span, b + pad * span, nbins + 1)


def _log_density(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Probability density of ``log10(values)`` on ``edges`` (values <= 0 are left out)."""
    v = values[values > 0]
    h, _ = np.histogram(np.log10(v), bins=edges)
    width = np.diff(edges)
    total = v.size
    return h / (total * width) if total else h.astype(float)


def _select_fig4(
    df: pd.DataFrame, L: int | None, alpha: float | None
) -> tuple[pd.DataFrame, int, float]:
    """Rows of one MBL alpha at one L (the most sampled MBL alpha at its largest L)."""
    mbl = df[df["regime"] == "MBL"]
    if alpha is None:
        alpha = stats.primary_alpha(df, "MBL")
        if alpha is None:
            raise Skip("no MBL samples (alpha >= the MBL threshold) in the table")
    sub = mbl[np.isclose(mbl["disorder"].to_numpy(), alpha)] if len(mbl) else mbl
    if len(sub) == 0:
        sub = df[np.isclose(df["disorder"].to_numpy(), alpha)]
    if len(sub) == 0:
        raise Skip(f"no samples at alpha = {alpha:g}")
    res_cols = [c for c in ("ratio_SABp_SApB", "angle_AB", "zjump_mu_nu") if c in sub.columns]
    if not res_cols:
        raise Skip("no near-resonance columns (ratio_SABp_SApB, angle_AB, zjump_mu_nu)")
    have = sub[sub[res_cols].notna().any(axis=1)]
    if len(have) == 0:
        raise Skip("the near-resonance columns are empty")
    if L is None:
        L = int(have["L"].max())
    sub = have[have["L"] == L]
    if len(sub) == 0:
        raise Skip(f"no near-resonance data at L = {L}, alpha = {alpha:g}")
    return sub, int(L), float(alpha)


def _no_data(ax: Any, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7,
        color="0.4",
        wrap=True,
    )
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------------------------------------
# Fig. 2
# ---------------------------------------------------------------------------------------------


def fig2_R(df: pd.DataFrame, regimes: Regimes | None = None, *, nbins: int = 36) -> Figure:
    """Paper Fig. 2: distributions of ``R`` per ``L``, MBL (blues) and thermal (red to yellow).

    The histogram is of ``log10 R`` (density), drawn against ``R`` on a logarithmic axis; the
    grey dashed line is ``R = 1/2``.  Intermediate alphas are not drawn.
    """
    _require(df, "R", "L", "disorder")
    d = df[df["regime"].isin(["MBL", "thermal"])]
    r_all = numeric(d, "R")
    if not (np.isfinite(r_all) & (r_all > 0)).any():
        raise Skip("no MBL or thermal sample with a finite R > 0")
    edges = _log_edges(finite(r_all), nbins=nbins, hi=0.0)
    fig = style.new_figure(style.COLUMN_WIDTH, 2.7)
    ax = fig.add_subplot()
    legends = []
    dashes = ["-", "--", ":", "-."]
    peak = 0.0
    for regime in ("thermal", "MBL"):
        sub = d[d["regime"] == regime]
        alphas = sorted(set(finite(numeric(sub, "disorder"))), reverse=(regime == "MBL"))
        for ia, a in enumerate(alphas):
            groups = stats.group_values(sub[np.isclose(sub["disorder"], a)], "R")
            groups = {L: v[v > 0] for L, v in groups.items() if (v > 0).any()}
            colors = style.regime_colors(regime, len(groups))
            handles = []
            for (L, v), col in zip(groups.items(), colors, strict=True):
                dens = _log_density(v, edges)
                peak = max(peak, float(dens.max()))
                handles.append(
                    ax.stairs(
                        dens,
                        10**edges,
                        color=col,
                        ls=dashes[ia % 4],
                        lw=1.1,
                        label=f"L = {L} (n = {v.size})",
                    )
                )
            if handles:
                legends.append((f"{regime}, {_sym(regimes)} = {_fmt_alpha(a)}", handles))
    ax.axvline(0.5, color=style.REFERENCE_COLOR, ls="--", lw=0.9)
    ax.text(
        0.47,
        0.97,
        "R = 1/2",
        transform=ax.get_xaxis_transform(),
        ha="right",
        va="top",
        rotation=90,
        fontsize=6.5,
        color=style.REFERENCE_COLOR,
    )
    ax.set_xscale("log")
    ax.set_xlim(10 ** edges[0], 10 ** edges[-1])
    ax.set_ylim(0, 1.55 * peak if peak > 0 else 1)
    ax.set_xlabel(r"$R = D_{\mu\nu}\,/\,(2^L\,\Gamma)$")
    ax.set_ylabel(r"$P(\log_{10} R)$")
    for i, (title, handles) in enumerate(legends):
        leg = ax.legend(
            handles=handles,
            title=title,
            loc="upper left",
            bbox_to_anchor=(0.01 + 0.34 * i, 1.0),
            fontsize=5.6,
            title_fontsize=6.0,
            handlelength=1.3,
            labelspacing=0.15,
            alignment="left",
        )
        if i < len(legends) - 1:
            ax.add_artist(leg)
    return fig


# ---------------------------------------------------------------------------------------------
# Fig. 4
# ---------------------------------------------------------------------------------------------


def _ratio_panel(
    ax: Any, series: list[tuple[str, np.ndarray, Any]], ref: float, xlabel: str
) -> None:
    vals = np.concatenate([v for _, v, _ in series]) if series else np.array([])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size == 0:
        _no_data(ax, "no data")
        return
    lo, hi = float(np.log10(vals.min())), float(np.log10(vals.max()))
    lo, hi = min(lo, math.log10(ref) - 0.31), max(hi, math.log10(ref) + 0.31)
    edges = np.linspace(lo - 0.01, hi + 0.01, 51)
    peak = 0.0
    for label, v, kw in series:
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            dens = _log_density(v, edges)
            peak = max(peak, float(dens.max()))
            ax.stairs(dens, 10**edges, label=f"{label} (n={v.size}, med. {np.median(v):.4g})", **kw)
    ax.axvline(ref, color=style.REFERENCE_COLOR, ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(10 ** edges[0], 10 ** edges[-1])
    _nice_log_ticks(ax.xaxis, edges[0], edges[-1])
    ax.set_ylim(0, 1.7 * peak if peak > 0 else 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$P(\log_{10}\,\mathrm{ratio})$")


def _nice_log_ticks(axis: Any, lo: float, hi: float) -> None:
    """Major ticks at 1, 2, 5 x 10^k inside ``[10^lo, 10^hi]`` labelled as plain numbers when
    the range spans less than three decades (matplotlib's default puts crowded labels there)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if hi - lo >= 3:
        return
    ticks = [m * 10.0**k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if 10**lo <= t <= 10**hi]
    if len(ticks) > 6:
        ticks = [t for t in ticks if math.log10(t).is_integer() or str(t)[0] in "15"]
    if len(ticks) < 2:
        return
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _zjump_inset(ax: Any, series: list[tuple[str, np.ndarray, Any]], loc: Sequence[float]) -> None:
    ins = ax.inset_axes(loc)
    edges = np.linspace(0.0, 1.0, 21)
    for label, v, kw in series:
        v = finite(v)
        if v.size:
            h, _ = np.histogram(np.clip(v, 0, 1), bins=edges)
            ins.stairs(h / v.size, edges, label=label, **kw)
    ins.set_xlim(0, 1)
    ins.set_ylim(0, 1.05)
    ins.set_xticks([0, 0.5, 1])
    ins.set_yticks([0, 0.5, 1])
    ins.tick_params(labelsize=5.5, length=2, pad=1.5)
    ins.set_xlabel(r"$Z_\mathrm{jump}$", fontsize=6, labelpad=0.5)
    ins.set_ylabel("fraction", fontsize=5.5, labelpad=0.5)
    ins.legend(fontsize=5, loc="upper center", handlelength=1.0)


def _angle_panel(ax: Any, sub: pd.DataFrame, title: str) -> str:
    cols = {p: f"angle_{p}" for p in style.PAIR_STYLE}
    present = [p for p, c in cols.items() if stats.has_columns(sub, c)]
    if "AB" not in present or len(sub) == 0:
        _no_data(ax, f"{title}: no demixing angles")
        return ""
    ab = numeric(sub, "angle_AB")
    order = np.argsort(-np.nan_to_num(ab, nan=-1.0), kind="stable")
    rank = np.arange(1, len(order) + 1)
    allv = np.concatenate([numeric(sub, cols[p]) for p in present])
    pos = allv[np.isfinite(allv) & (allv > 0)]
    floor = float(pos.min()) / 3 if pos.size else 1e-12
    n_floor = 0
    for p in ("ApBp", "ABp", "ApB", "AB"):
        if p not in present:
            continue
        v = numeric(sub, cols[p])[order]
        ok = np.isfinite(v)
        n_floor += int((ok & (v <= 0)).sum())
        kw = dict(style.PAIR_STYLE[p])
        label = kw.pop("label")
        ms = kw.pop("ms")
        mfc = kw.pop("mfc")
        ax.plot(
            rank[ok],
            np.maximum(v[ok], floor),
            ls="none",
            ms=ms,
            mfc=mfc,
            label=f"{label}",
            zorder=3 if p == "AB" else 2,
            **kw,
        )
    ax.set_yscale("log")
    ax.set_ylim(floor / 40, 6.0)
    ax.axhline(math.pi / 2, color=style.REFERENCE_COLOR, ls=":", lw=0.7)
    if n_floor:
        ax.axhline(floor, color=style.REFERENCE_COLOR, ls="-", lw=0.4, zorder=1)
        ax.text(
            0.99,
            floor * 1.3,
            "angle 0",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=5.5,
            color=style.REFERENCE_COLOR,
        )
    ax.set_xlabel("sample rank (by AB angle)")
    ax.xaxis.set_major_locator(_int_locator())
    ax.set_ylabel(r"demixing angle $\phi$ (rad)")
    ax.set_xlim(0, len(order) + 1)
    # fraction where AB is largest
    ang = np.stack([numeric(sub, cols[p]) for p in present], axis=1)
    ok = np.isfinite(ang).all(axis=1)
    frac = float(np.mean(np.argmax(ang[ok], axis=1) == present.index("AB"))) if ok.any() else 0
    ax.set_title(f"{title} (n = {len(sub)}): AB angle largest in {100 * frac:.0f}%", fontsize=7.5)
    handles, labels = ax.get_legend_handles_labels()
    legend_order = [
        labels.index(style.PAIR_LABEL[p]) for p in style.PAIR_STYLE if style.PAIR_LABEL[p] in labels
    ]
    ax.legend(
        [handles[i] for i in legend_order],
        [labels[i] for i in legend_order],
        loc="lower left",
        ncol=4,
        fontsize=6,
        handlelength=0.8,
        columnspacing=0.8,
        handletextpad=0.3,
    )
    return f"{n_floor} angles <= 0 drawn at the floor" if n_floor else ""


def fig4_resonant_set(
    df: pd.DataFrame,
    regimes: Regimes | None = None,
    *,
    L: int | None = None,
    alpha: float | None = None,
) -> Figure:
    """Paper Fig. 4 (four panels) for one MBL alpha at one ``L``; see the module docstring."""
    sub, L, alpha = _select_fig4(df, L, alpha)
    case = stats.case_of(sub)
    fig = style.new_figure(style.PAGE_WIDTH, 4.6)
    axs = fig.subplots(2, 2, gridspec_kw={"hspace": 0.42, "wspace": 0.24})
    fig.subplots_adjust(top=0.92)
    fig.suptitle(
        f"{_sym(regimes)} = {_fmt_alpha(alpha)}, L = {L}: near-resonant set "
        f"(n = {len(sub)} samples)",
        fontsize=8.5,
        y=0.985,
    )

    # (a) S_AB'/S_A'B, all samples
    ax = axs[0, 0]
    ratio = numeric(sub, "ratio_SABp_SApB")
    if np.isfinite(ratio).any():
        _ratio_panel(
            ax,
            [("all samples", ratio, {"color": "#1f4e9c", "lw": 1.2})],
            1.0,
            r"$S_{AB'}\,/\,S_{A'B}$",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=6)
        if stats.has_columns(sub, "zjump_ABp") or stats.has_columns(sub, "zjump_ApB"):
            _zjump_inset(
                ax,
                [
                    ("AB'", numeric(sub, "zjump_ABp"), {"color": "0.55", "lw": 1.0}),
                    ("A'B", numeric(sub, "zjump_ApB"), {"color": "0.15", "lw": 1.0, "ls": "--"}),
                ],
                [0.7, 0.52, 0.27, 0.4],
            )
    else:
        _no_data(ax, "S_AB'/S_A'B: no data")
    style.panel_label(ax, "(a)")

    # (b) Z case: S_AB/S_AB' and S_AB/S_A'B
    ax = axs[0, 1]
    z = sub[case == "Z"]
    r1, r2 = numeric(z, "ratio_SAB_SABp"), numeric(z, "ratio_SAB_SApB")
    if len(z) and (np.isfinite(r1).any() or np.isfinite(r2).any()):
        _ratio_panel(
            ax,
            [
                (r"$S_{AB}/S_{AB'}$", r1, {"color": "#c0152f", "lw": 1.2}),
                (r"$S_{AB}/S_{A'B}$", r2, {"color": "0.3", "lw": 1.0, "ls": "--"}),
            ],
            2.0,
            r"$S_{AB}\,/\,S_{AB'}$,  $S_{AB}\,/\,S_{A'B}$  (Z case)",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=6)
        if stats.has_columns(z, "zjump_AB"):
            _zjump_inset(
                ax,
                [("AB", numeric(z, "zjump_AB"), {"color": "#c0152f", "lw": 1.0})],
                [0.7, 0.52, 0.27, 0.4],
            )
    else:
        _no_data(ax, "no Z-case samples with S ratios")
    style.panel_label(ax, "(b)")

    notes = []
    for ax, name, label in ((axs[1, 0], "XY", "(c)"), (axs[1, 1], "Z", "(d)")):
        note = _angle_panel(ax, sub[case == name], f"{name} case")
        if note:
            notes.append(f"{name}: {note}")
        style.panel_label(ax, label)
    fig._mbl_notes = notes  # type: ignore[attr-defined]
    return fig


def fig4cd_angle_distributions(
    df: pd.DataFrame,
    regimes: Regimes | None = None,
    *,
    L: int | None = None,
    alpha: float | None = None,
) -> Figure:
    """Distributions of ``log10`` of the four demixing angles, XY and Z cases."""
    sub, L, alpha = _select_fig4(df, L, alpha)
    _require(sub, "angle_AB")
    case = stats.case_of(sub)
    allv = np.concatenate([numeric(sub, f"angle_{p}") for p in style.PAIR_STYLE])
    allv = allv[np.isfinite(allv) & (allv > 0)]
    edges = _log_edges(allv, nbins=30, hi=math.log10(math.pi / 2))
    fig = style.new_figure(style.PAGE_WIDTH, 2.3)
    axs = fig.subplots(1, 2, sharey=True, gridspec_kw={"wspace": 0.08})
    peak = 0.0
    for ax, name, label in ((axs[0], "XY", "(c)"), (axs[1], "Z", "(d)")):
        s = sub[case == name]
        for p, kw in style.PAIR_STYLE.items():
            v = finite(numeric(s, f"angle_{p}"))
            v = v[v > 0]
            if v.size:
                dens = _log_density(v, edges)
                peak = max(peak, float(dens.max()))
                ax.stairs(
                    dens,
                    10**edges,
                    color=kw["color"],
                    lw=1.3 if p == "AB" else 1.0,
                    ls="-" if p in ("AB", "ApBp") else "--",
                    label=str(kw["label"]),
                )
        ax.set_xscale("log")
        ax.set_xlim(10 ** edges[0], 10 ** edges[-1])
        ax.set_xlabel(r"demixing angle $\phi$ (rad)")
        ax.set_title(
            f"{name} case, {_sym(regimes)} = {_fmt_alpha(alpha)}, L = {L} (n = {len(s)})",
            fontsize=7.5,
        )
        style.panel_label(ax, label)
        if len(s):
            ax.legend(loc="upper left", bbox_to_anchor=(0.08, 1.0), ncol=2, columnspacing=1.0)
        else:
            _no_data(ax, f"no {name}-case samples")
    axs[0].set_ylim(0, 1.35 * peak if peak > 0 else 1)
    axs[0].set_ylabel(r"$P(\log_{10}\phi)$")
    return fig


# ---------------------------------------------------------------------------------------------
# Supplemental and scaling figures
# ---------------------------------------------------------------------------------------------


def fig_x_over_L(df: pd.DataFrame, regimes: Regimes | None = None) -> Figure:
    """Distribution of the resonance location ``x/L`` per ``L`` (one panel per MBL alpha)."""
    _require(df, "x_over_L")
    d = df[(df["regime"] == "MBL") & np.isfinite(numeric(df, "x_over_L"))]
    if len(d) == 0:
        raise Skip("no MBL sample with a finite x/L")
    alphas = sorted(set(finite(numeric(d, "disorder"))), reverse=True)[:3]
    fig = style.new_figure(style.COLUMN_WIDTH * len(alphas), 2.4)
    axs = np.atleast_1d(fig.subplots(1, len(alphas), squeeze=False)[0])
    for ax, a in zip(axs, alphas, strict=True):
        s = d[np.isclose(d["disorder"], a)]
        groups = stats.group_values(s, "x_over_L")
        colors = style.regime_colors("MBL", len(groups))
        for (L, v), col in zip(groups.items(), colors, strict=True):
            k = np.rint(v * L).astype(int)
            k = k[(k >= 1) & (k <= L)]
            counts = np.bincount(k, minlength=L + 1)[1 : L + 1]
            ax.plot(
                np.arange(1, L + 1) / L,
                counts / v.size,
                "-o",
                color=col,
                ms=2.8,
                lw=1.0,
                label=f"L = {L} (n = {v.size})",
            )
        ax.axvline(0.8, color=style.REFERENCE_COLOR, ls=":", lw=0.8, label="x/L = 0.8 (paper SM)")
        ax.set_xlim(0, 1.04)
        ax.set_ylim(0, 1.3 * ax.get_ylim()[1])
        ax.set_xlabel(r"resonance location $x/L$")
        ax.set_ylabel(r"$P(x/L)$")
        ax.set_title(f"MBL, {_sym(regimes)} = {_fmt_alpha(a)}", fontsize=7.5)
        ax.legend(loc="upper left")
    return fig


def fig_zjump(df: pd.DataFrame, regimes: Regimes | None = None) -> Figure:
    """Distribution of ``Z_jump(mu, nu)`` per ``L``; one panel per regime present."""
    _require(df, "zjump_mu_nu")
    regs = [
        r
        for r in ("MBL", "thermal")
        if np.isfinite(numeric(df[df["regime"] == r], "zjump_mu_nu")).any()
    ]
    if not regs:
        raise Skip("no MBL or thermal sample with a finite Z_jump(mu, nu)")
    fig = style.new_figure(style.COLUMN_WIDTH * len(regs), 2.3)
    axs = fig.subplots(1, len(regs), squeeze=False, gridspec_kw={"wspace": 0.3})[0]
    edges = np.linspace(0.0, 1.0, 26)
    for ax, reg in zip(axs, regs, strict=True):
        s = df[df["regime"] == reg]
        a = stats.primary_alpha(df, reg)
        assert a is not None  # regs holds only regimes with data
        s = s[np.isclose(s["disorder"], a)]
        groups = stats.group_values(s, "zjump_mu_nu")
        colors = style.regime_colors(reg, len(groups))
        nmax = 1
        for (L, v), col in zip(groups.items(), colors, strict=True):
            h, _ = np.histogram(np.clip(v, 0, 1), bins=edges)
            nmax = max(nmax, v.size)
            ax.stairs(h / v.size, edges, color=col, lw=1.1, label=f"L = {L} (n = {v.size})")
        ax.set_yscale("log")
        ax.set_ylim(0.5 / nmax, 4)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(r"$Z_\mathrm{jump}(\mu,\nu)$")
        ax.set_ylabel("fraction of samples")
        ax.set_title(f"{reg}, {_sym(regimes)} = {_fmt_alpha(a)}", fontsize=7.5)
        ax.legend(loc="upper center", ncol=2, columnspacing=1.0)
    return fig


def fig_lnGamma(df: pd.DataFrame, regimes: Regimes | None = None) -> Figure:
    """Mean ``ln Gamma`` against ``L`` per alpha with standard errors, fits and ``-ln 4``.

    Error bars are standard errors of the mean; the line per alpha is the least-squares fit
    weighted by them (slope and its standard error in the legend).  The grey dashed line has the
    avalanche reference slope ``-ln 4`` and passes through the MBL fit at its mean ``L``.
    ``Gamma`` is the dimensionless slowest-mode rate (``r_S = 3 gamma Gamma`` per period).
    """
    _require(df, "lnGamma", "L", "disorder")
    alphas = sorted(set(finite(numeric(df[np.isfinite(df["lnGamma"])], "disorder"))), reverse=True)
    if not alphas:
        raise Skip("no sample with Gamma > 0")
    fig = style.new_figure(style.COLUMN_WIDTH, 2.6)
    ax = fig.add_subplot()
    regime_of = {a: stats.Regimes.of(regimes or Regimes(), a) for a in alphas}
    base = {"MBL": "#1f4e9c", "thermal": "#c0152f", "intermediate": "#4d9221"}
    markers = ["o", "s", "^", "D", "v", "P"]
    anchor = None
    all_L: list[float] = []
    for i, a in enumerate(alphas):
        s = df[np.isclose(df["disorder"], a)]
        reg = regime_of[a]
        groups = stats.group_values(s, "lnGamma")
        Ls = np.array(list(groups), dtype=float)
        means = np.array([v.mean() for v in groups.values()])
        ns = [v.size for v in groups.values()]
        sems = np.array(
            [v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else np.nan for v in groups.values()]
        )
        all_L += list(Ls)
        unique_regime = sum(r == reg for r in regime_of.values()) == 1
        col = base.get(reg) if unique_regime else style.sequential_colors(len(alphas))[i]
        fit = stats.fit_line(Ls, means, sems if np.isfinite(sems).any() else None)
        slope = (
            f": slope {fit.slope:.2f} ± {fit.slope_err:.2f}".replace("-", "\u2212")
            if math.isfinite(fit.slope)
            else ""
        )
        ax.errorbar(
            Ls,
            means,
            yerr=np.nan_to_num(sems),
            fmt=markers[i % len(markers)],
            color=col,
            ms=3.5,
            lw=0.9,
            zorder=3,
            label=f"{_sym(regimes)} = {_fmt_alpha(a)}{slope}\n   ({_counts_label(ns)} per L)",
        )
        if math.isfinite(fit.slope):
            xx = np.array([Ls.min() - 0.3, Ls.max() + 0.3])
            ax.plot(xx, fit.intercept + fit.slope * xx, color=col, lw=0.9)
            if anchor is None and reg == "MBL":
                xm = float(np.mean(Ls))
                anchor = (xm, fit.intercept + fit.slope * xm)
    if anchor is None:
        s = df[np.isfinite(df["lnGamma"])]
        anchor = (float(np.mean(all_L)), float(np.nanmean(s["lnGamma"])))
    xx = np.array([min(all_L) - 0.3, max(all_L) + 0.3])
    ax.plot(
        xx,
        anchor[1] - LN4 * (xx - anchor[0]),
        color=style.REFERENCE_COLOR,
        ls="--",
        lw=0.9,
        label=r"slope $-\ln 4 = -1.386$",
    )
    ax.set_xlabel(r"chain length $L$")
    ax.set_ylabel(r"$\overline{\ln \Gamma}$")
    ax.xaxis.set_major_locator(_int_locator())
    ax.legend(loc="center left", fontsize=6)
    return fig


def _int_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def fig_gap_ratio(df: pd.DataFrame, regimes: Regimes | None = None, *, nbins: int = 40) -> Figure:
    """Distributions of the relative gap ``Gamma_2/Gamma - 1`` per ``L``, MBL and thermal.

    The paper assumes the slowest mode is separated from the next one (``Gamma_2/Gamma > 1``);
    the logarithmic axis of ``Gamma_2/Gamma - 1`` shows both the thermal regime (small relative
    gaps) and the MBL regime (gaps of many decades).  Samples with ``Gamma_2 = Gamma`` exactly
    are left out and counted in the note.
    """
    _require(df, "gap_ratio")
    d = df[df["regime"].isin(["MBL", "thermal"])]
    rel = numeric(d, "gap_ratio") - 1.0
    if not (rel > 0).any():
        raise Skip("no MBL or thermal sample with a finite Gamma_2/Gamma > 1")
    edges = _log_edges(rel[np.isfinite(rel) & (rel > 0)], nbins=nbins)
    fig = style.new_figure(style.COLUMN_WIDTH, 2.6)
    ax = fig.add_subplot()
    legends = []
    peak = 0.0
    n_zero = 0
    for regime in ("thermal", "MBL"):
        sub = d[d["regime"] == regime]
        for a in sorted(set(finite(numeric(sub, "disorder"))), reverse=(regime == "MBL"))[:1]:
            groups = stats.group_values(sub[np.isclose(sub["disorder"], a)], "gap_ratio")
            colors = style.regime_colors(regime, len(groups))
            handles, ns = [], []
            for (L, v), col in zip(groups.items(), colors, strict=True):
                r = v - 1.0
                n_zero += int((r <= 0).sum())
                r = r[r > 0]
                if not r.size:
                    continue
                dens = _log_density(r, edges)
                peak = max(peak, float(dens.max()))
                ns.append(r.size)
                # the median of the axis quantity, Gamma_2/Gamma - 1
                label = f"L = {L}, median {np.median(r):.2g}"
                handles.append(ax.stairs(dens, 10**edges, color=col, lw=1.1, label=label))
            if handles:
                title = f"{regime}, {_sym(regimes)} = {_fmt_alpha(a)} ({_counts_label(ns)} per L)"
                legends.append((title, handles))
    ax.axvline(1.0, color=style.REFERENCE_COLOR, ls="--", lw=0.8)
    ax.text(
        1.15,
        0.5,
        r"$\Gamma_2 = 2\Gamma$",
        transform=ax.get_xaxis_transform(),
        ha="left",
        va="center",
        rotation=90,
        fontsize=6.2,
        color=style.REFERENCE_COLOR,
    )
    ax.set_xscale("log")
    ax.set_xlim(10 ** edges[0], 10 ** edges[-1])
    ax.set_ylim(0, 1.6 * peak if peak > 0 else 1)
    ax.set_xlabel(r"relative gap  $\Gamma_2/\Gamma - 1$")
    ax.set_ylabel(r"$P(\log_{10}(\Gamma_2/\Gamma - 1))$")
    for i, (title, handles) in enumerate(legends):
        leg = ax.legend(
            handles=handles,
            title=title,
            loc="upper left" if i == 0 else "upper right",
            fontsize=5.4,
            title_fontsize=5.8,
            handlelength=1.2,
            labelspacing=0.15,
        )
        if i < len(legends) - 1:
            ax.add_artist(leg)
    if n_zero:
        fig._mbl_notes = [f"{n_zero} samples with Gamma_2 = Gamma left out"]  # type: ignore
    return fig


# ---------------------------------------------------------------------------------------------
# All figures
# ---------------------------------------------------------------------------------------------

#: ``(file stem, function)`` of every figure, in the order they are drawn.
FIGURES: tuple[tuple[str, Callable[..., Figure]], ...] = (
    ("fig2_R", fig2_R),
    ("fig4_resonant_set", fig4_resonant_set),
    ("fig4cd_angle_distributions", fig4cd_angle_distributions),
    ("x_over_L", fig_x_over_L),
    ("zjump_mu_nu", fig_zjump),
    ("lnGamma_vs_L", fig_lnGamma),
    ("gap_ratio", fig_gap_ratio),
)


def make_figures(
    df: pd.DataFrame,
    outdir: str | Path,
    *,
    regimes: Regimes | None = None,
    fig4_L: int | None = None,
    fig4_alpha: float | None = None,
    formats: Sequence[str] = ("png", "pdf"),
    only: Sequence[str] | None = None,
    model: str | None = None,
) -> list[FigureRecord]:
    """Draw every figure of the paper that the table allows and write it to ``outdir``.

    Parameters
    ----------
    df : DataFrame
        One row per sample with the column-contract columns (extra columns are ignored).
    outdir : path
        Folder for ``<stem>.png`` and ``<stem>.pdf`` (created).
    regimes : Regimes, optional
        MBL/thermal split by the model's disorder parameter (default: the model's regimes,
        :meth:`~mbl_avalanche.stats.Regimes.for_model`; Floquet: alpha >= 10 MBL, alpha <= 2
        thermal).
    fig4_L, fig4_alpha : optional
        The ``L`` and MBL disorder value (alpha, W) of Fig. 4 (default: the most sampled MBL
        value at its largest L with near-resonance data).
    formats : sequence of str
        File formats (default PNG and PDF).
    only : sequence of str, optional
        Draw only these stems.
    model : str, optional
        The model whose samples are drawn (default: the table's only model).

    Returns
    -------
    list of FigureRecord
        One per figure: the files written, or the note saying why it was skipped.
    """
    from ..report import check_headline

    df, model = stats.select_model(df, model)
    regimes = regimes or Regimes.for_model(model)
    table = stats.prepare(df, regimes)
    check_headline(table, fig4_L, fig4_alpha, regimes.parameter)  # before any file is written
    records = []
    with style.style_context():
        for stem, func in FIGURES:
            if only is not None and stem not in only:
                continue
            kwargs: dict[str, Any] = {}
            if func in (fig4_resonant_set, fig4cd_angle_distributions):
                kwargs = {"L": fig4_L, "alpha": fig4_alpha}
            try:
                fig = func(table, regimes, **kwargs)
            except Skip as exc:
                records.append(FigureRecord(stem, [], f"skipped: {exc}"))
                continue
            notes = getattr(fig, "_mbl_notes", [])
            paths = style.save(fig, outdir, stem, formats)
            records.append(FigureRecord(stem, paths, "; ".join(notes)))
    return records
