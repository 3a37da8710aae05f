"""One publication style for every figure of the package (matplotlib, no LaTeX).

Figures are built as :class:`matplotlib.figure.Figure` objects without :mod:`matplotlib.pyplot`,
so no GUI backend and no global figure state are involved: PNG is rendered by Agg and PDF by
matplotlib's PDF backend.  Mathematical symbols use matplotlib's built-in mathtext (no TeX
installation is needed).  Sizes follow PRL: one column is 3.4 in wide, two columns 7.0 in.

Colours: the MBL regime in blues and the thermal regime from dark red to yellow (as in the
paper's Fig. 2), darker for larger ``L``; the four eigenstate pairs of Fig. 4(c, d) as in the
paper: AB red, A'B grey crosses, AB' grey dots, A'B' blue.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "COLUMN_WIDTH",
    "PAGE_WIDTH",
    "PAIR_LABEL",
    "PAIR_STYLE",
    "RC",
    "REFERENCE_COLOR",
    "new_figure",
    "panel_label",
    "regime_colors",
    "save",
    "sequential_colors",
    "style_context",
]

#: Width of one PRL column, inches.
COLUMN_WIDTH = 3.4
#: Width of two PRL columns, inches.
PAGE_WIDTH = 7.0

#: matplotlib rc settings of the style (applied only inside :func:`style_context`).
RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "mathtext.fontset": "dejavusans",
    "text.usetex": False,
    "font.size": 8.5,
    "axes.titlesize": 8.5,
    "axes.labelsize": 9,
    "legend.fontsize": 6.8,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.borderaxespad": 0.3,
    "legend.labelspacing": 0.3,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": False,
    "axes.linewidth": 0.7,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "xtick.minor.width": 0.5,
    "ytick.minor.width": 0.5,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.size": 1.7,
    "ytick.minor.size": 1.7,
    "lines.linewidth": 1.2,
    "lines.markersize": 4.0,
    "errorbar.capsize": 2.0,
    "axes.grid": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "pdf.fonttype": 42,
    "axes.prop_cycle": cycler(
        color=["#1f4e9c", "#b2182b", "#4d9221", "#7b3294", "#e08214", "#333333"]
    ),
}

#: Colour of the reference lines (R = 1/2, the -L ln 4 slope, ...).
REFERENCE_COLOR = "0.45"
#: Colours and markers of the four pairs of the near-resonant set (paper's Fig. 4(c, d)).
PAIR_STYLE: dict[str, dict[str, object]] = {
    "AB": {"color": "#c0152f", "marker": "o", "label": "AB", "ms": 3.2, "mfc": "#c0152f"},
    "ApB": {"color": "0.35", "marker": "x", "label": "A'B", "ms": 3.4, "mfc": "0.35"},
    "ABp": {"color": "0.6", "marker": ".", "label": "AB'", "ms": 3.6, "mfc": "0.6"},
    "ApBp": {"color": "#1f4e9c", "marker": "s", "label": "A'B'", "ms": 2.4, "mfc": "none"},
}
#: Pretty labels of the four pairs.
PAIR_LABEL = {"AB": "AB", "ApB": "A'B", "ABp": "AB'", "ApBp": "A'B'"}


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply :data:`RC` for the duration of a ``with`` block (global settings are restored)."""
    with mpl.rc_context(RC):  # type: ignore[arg-type]  # RC keys are rcParams names
        yield


def new_figure(width: float = COLUMN_WIDTH, height: float = 2.5, **kwargs: Any) -> Figure:
    """A new :class:`~matplotlib.figure.Figure` (no pyplot) of ``width x height`` inches."""
    return Figure(figsize=(width, height), **kwargs)


def regime_colors(regime: str, n: int) -> list[tuple[float, ...]]:
    """``n`` colours for increasing ``L``: blues for MBL, dark red to yellow for thermal.

    For the thermal regime the largest ``L`` is the lightest (yellow), as in the paper; for MBL
    the largest ``L`` is the darkest blue.  Other regimes use greens.
    """
    if n <= 0:
        return []
    if regime == "thermal":
        cmap, lo, hi = mpl.colormaps["YlOrRd_r"], 0.05, 0.72
    elif regime == "MBL":
        cmap, lo, hi = mpl.colormaps["Blues"], 0.4, 0.98
    else:
        cmap, lo, hi = mpl.colormaps["Greens"], 0.4, 0.95
    ts = np.linspace(lo, hi, n) if n > 1 else np.array([hi])
    return [tuple(float(v) for v in cmap(t)) for t in ts]


def sequential_colors(n: int, name: str = "viridis") -> list[tuple[float, ...]]:
    """``n`` colours of a sequential colormap, avoiding its palest end."""
    cmap = mpl.colormaps[name]
    ts = np.linspace(0.0, 0.85, n) if n > 1 else np.array([0.3])
    return [tuple(float(v) for v in cmap(t)) for t in ts]


def panel_label(ax: Axes, text: str, *, x: float = 0.02, y: float = 0.97) -> None:
    """Write a panel label such as ``(a)`` in the top-left corner of ``ax``."""
    ax.text(x, y, text, transform=ax.transAxes, ha="left", va="top", fontsize=9, fontweight="bold")


def save(
    fig: Figure, outdir: str | Path, stem: str, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Write ``fig`` as ``outdir/stem.<fmt>`` for each format; return the paths.

    PDFs carry no creation date, so the same data give byte-identical PDF files.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    # fontTools warns about DejaVu's font timestamps when embedding them in PDF: noise
    ft_log = logging.getLogger("fontTools")
    level = ft_log.level
    ft_log.setLevel(logging.ERROR)
    try:
        for fmt in formats:
            path = outdir / f"{stem}.{fmt}"
            meta = {"CreationDate": None} if fmt == "pdf" else {}
            fig.savefig(path, format=fmt, metadata=meta)
            paths.append(path)
    finally:
        ft_log.setLevel(level)
    return paths
