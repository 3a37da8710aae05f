"""The one-sample inspector: why does this sample relax?

Four panels for one analysed sample (:class:`~mbl_avalanche.analysis.SampleResult` with its
resonance analysis):

(a) the quasienergy spectrum with ``A, B, A', B'`` marked;
(b) the slowest mode ``c_n`` against ``theta_n``;
(c) the strongest probability currents ``D_mn`` drawn as arcs between ``theta_m`` and ``theta_n``
    (line width and opacity proportional to ``D_mn / D_max``), labelled with their share of
    ``2^L Gamma``;
(d) the ``<Z_i>`` profiles of the demixed states ``|a>`` and ``|b>`` with the resonance location
    ``x`` and the bath site ``L`` marked.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Arc

from .. import bath
from ..resonance import z_profile
from .style import style_context

__all__ = [
    "COLORS",
    "LABELS",
    "inspect_figure",
    "save_inspector",
]

COLORS = {"A": "#c0392b", "B": "#2471a3", "Ap": "#e67e22", "Bp": "#17a589"}
LABELS = {"A": "A", "B": "B", "Ap": "A'", "Bp": "B'"}


def inspect_figure(result: Any, n_currents: int = 20) -> Figure:
    """Draw the four-panel inspector of one sample; returns the figure.

    The figure is built without :mod:`matplotlib.pyplot` (no global backend change), so it can be
    shown in a notebook (``display(fig)``) or saved with :func:`save_inspector`.
    """
    with style_context():
        return _draw(result, n_currents)


def _draw(result: Any, n_currents: int) -> Figure:
    res = result.resonance
    if res is None:
        raise ValueError("the result carries no resonance analysis (analyze(..., resonances=True))")
    theta, c, L = result.theta, result.c, result.L
    s = result.rate_matrix()
    top = bath.top_contributions(s, c, n_currents)
    nrm = result.N * result.Gamma
    xlabel = r"quasienergy $\theta_n$" if result.kind == "unitary" else r"energy $E_n$"

    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    ax.vlines(theta, 0, 1, color="0.6", lw=0.5)
    for k, idx in res.states.items():
        ax.vlines(theta[idx], 0, 1.15, color=COLORS[k], lw=2)
        ax.annotate(LABELS[k], (theta[idx], 1.18), ha="center", color=COLORS[k], fontsize=11)
    ax.set_title(rf"(a) spectrum, $2^L={result.N}$; $\delta_{{AB}}$ = {res.splittings['AB']:.2e}")
    ax.set_xlabel(xlabel)
    ax.set_yticks([])
    ax.set_ylim(0, 1.35)

    ax = axes[0, 1]
    ax.scatter(theta, c, s=6, color="0.5", lw=0)
    for k, idx in res.states.items():
        ax.scatter([theta[idx]], [c[idx]], s=50, color=COLORS[k], label=LABELS[k], zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"slowest mode $c_n$")
    ax.set_title(rf"(b) slowest mode, $\Gamma$ = {result.Gamma:.3e}, $R$ = {result.R:.3f}")
    ax.legend(loc="best", fontsize=9)

    ax = axes[1, 0]
    dmax = top[0][2] if top else 1.0
    span = float(np.ptp(theta)) or 1.0
    hmax = 0.0
    for m, n, d in reversed(top):
        x0, x1 = sorted((theta[m], theta[n]))
        w = max(x1 - x0, 1e-3 * span)
        h = w
        hmax = max(hmax, h / 2)
        frac = d / dmax
        is_set = {m, n} <= set(res.states.values())
        ax.add_patch(
            Arc(
                ((x0 + x1) / 2, 0),
                w,
                h,
                theta1=0,
                theta2=180,
                lw=0.5 + 3.5 * frac,
                alpha=0.25 + 0.75 * frac,
                color="#c0392b" if is_set else "0.3",
            )
        )
    ax.vlines(theta, -0.02 * span, 0, color="0.6", lw=0.4)
    ax.set_xlim(theta.min() - 0.02 * span, theta.max() + 0.02 * span)
    ax.set_ylim(-0.03 * span, max(hmax * 1.1, 0.05 * span))
    ax.set_yticks([])
    ax.set_xlabel(xlabel)
    share = sum(t[2] for t in top) / nrm if nrm > 0 else float("nan")
    ax.set_title(
        f"(c) {len(top)} strongest currents $D_{{mn}}$ (red: within {{A,B,A',B'}}),"
        f" {100 * share:.1f}% of $2^L\\Gamma$",
        fontsize=10,
    )

    ax = axes[1, 1]
    dem = res.demixings["AB"]
    sites = np.arange(1, L + 1)
    ax.plot(sites, z_profile(dem.a, L), "o-", color=COLORS["A"], label=r"$|a\rangle$ " + res.bits_a)
    ax.plot(
        sites, z_profile(dem.b, L), "s--", color=COLORS["B"], label=r"$|b\rangle$ " + res.bits_b
    )
    if np.isfinite(res.x):
        ax.axvline(res.x, color="k", ls=":", lw=1.5, label=f"resonance location x = {res.x:g}")
    ax.axvspan(L - 0.5, L + 0.5, color="#f5b041", alpha=0.25, label="bath site L")
    ax.set_xlabel("site $i$")
    ax.set_ylabel(r"$\langle Z_i \rangle$")
    ax.set_ylim(-1.1, 1.1)
    ax.set_xticks(sites)
    ax.set_title(f"(d) demixed pair ({res.case} case), angle = {dem.angle:.3e}")
    ax.legend(loc="lower left", fontsize=8)
    head = result.meta
    title = (
        f"L = {L}, alpha = {head['alpha']:g}, sample {head['sample']} (seed {head['seed']})"
        if "alpha" in head
        else f"L = {L}, {result.kind} from {head.get('source', 'array')}"
    )
    fig.suptitle(title)
    return fig


def save_inspector(result: Any, path: str | os.PathLike[str], n_currents: int = 20) -> None:
    """Draw :func:`inspect_figure` and save it (format from the file name)."""
    fig = inspect_figure(result, n_currents)
    with style_context():
        fig.savefig(path, dpi=130)
