"""Figures of the exact open-system dynamics (:mod:`mbl_avalanche.dynamics`).

:func:`trajectory_figure` draws ``<Z_i>(t)`` per site, the distance from equilibrium against
``exp(-r_1 t)`` and, with a gamma sweep, the approach to the weak-coupling limit;
:func:`plot_trajectory` writes it to a file.  The same figure serves a Floquet unitary (``t`` in
periods; predicted relative error ``-gamma``) and a Hamiltonian's Lindblad evolution (``t`` in
``1/J``; predicted relative error ``kappa gamma**2``).  Object-oriented Figure API only.
"""

from __future__ import annotations

import os

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from ..dynamics import DynamicsResult, Sweep

__all__ = ["plot_trajectory", "trajectory_figure"]


def trajectory_figure(res: DynamicsResult, sweep: Sweep | None = None) -> Figure:
    """``<Z_i>(t)`` per site (log time) and the distance from equilibrium against ``exp(-r_1 t)``;
    with a sweep, a third panel of ``|r_1/(3 gamma) - Gamma| / Gamma`` against ``gamma`` and the
    perturbative prediction (``gamma`` for a unitary, ``|kappa| gamma**2`` for a Hamiltonian).

    Built without :mod:`matplotlib.pyplot` (no backend switch, no global figure state)."""
    tr, r1 = res.trajectory, res.modes.r1
    sw = sweep if sweep is not None else res.sweep
    ncol = 3 if sw is not None else 2
    fig = Figure(figsize=(5.0 * ncol, 4.0))
    ax = fig.subplots(1, ncol)
    t = tr.times
    cmap = mpl.colormaps["viridis"]
    L = tr.z.shape[1]
    t_low = 0.5 * float(np.min(t[t > 0])) if np.any(t > 0) else 0.5  # t = 0 on a log axis
    for i in range(L):
        ax[0].semilogx(
            np.maximum(t, t_low),
            tr.z[:, i],
            color=cmap(i / max(L - 1, 1)),
            label=f"site {i + 1}" + (" (bath)" if i == L - 1 else ""),
        )
    ax[0].axvline(1 / res.channel.gamma, color="gray", ls=":", lw=1, label="1/gamma")
    ax[0].axvline(1 / r1, color="k", ls="--", lw=1, label="1/r_1")
    ax[0].set_xlabel(f"t ({res.channel.time_unit})")
    ax[0].set_ylabel("<Z_i>(t)")
    ax[0].set_title(f"L={res.channel.L}, gamma={res.channel.gamma:g}, initial {tr.initial}")
    ax[0].legend(fontsize=7)
    d = tr.distance
    ax[1].semilogy(t * r1, d, label="||rho(t) - 1/2^L||_F")
    j = np.searchsorted(t, t[-1] / 2)
    ax[1].semilogy(t * r1, d[j] * np.exp(-r1 * (t - t[j])), "k--", lw=1, label="exp(-r_1 t)")
    ax[1].set_xlabel("r_1 t")
    ax[1].set_title(f"late rate / r_1 = {tr.late_rate() / r1:.5f}")
    ax[1].legend(fontsize=8)
    if sw is not None:
        g = np.array([r.gamma for r in sw.rows])
        e = np.abs([r.rel_error for r in sw.rows])
        ax[2].loglog(g, e, "o-", label="|r_1/(3 gamma) - Gamma| / Gamma")
        if sw.order == 1:
            ax[2].loglog(g, g, "k--", lw=1, label="gamma (second-order prediction)")
        else:
            pred = abs(sw.coefficient) * g**sw.order
            label = f"|kappa| gamma^{sw.order} (third-order prediction)"
            ax[2].loglog(g, pred, "k--", lw=1, label=label)
        ax[2].set_xlabel("gamma")
        ax[2].set_title(f"weak-coupling limit, Gamma = {sw.Gamma:.4g}")
        ax[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_trajectory(
    res: DynamicsResult, path: str | os.PathLike[str], sweep: Sweep | None = None
) -> None:
    """Draw :func:`trajectory_figure` and save it (format from the file name, 120 dpi)."""
    trajectory_figure(res, sweep).savefig(path, dpi=120)
