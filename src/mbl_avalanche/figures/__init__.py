"""Figures: the paper's figures from a run (:mod:`.paper`) in one publication style
(:mod:`.style`), and the one-sample inspector (:mod:`.inspect`).

The paper's figures are pure functions of the per-sample table (a :class:`pandas.DataFrame` whose
columns are the keys of :meth:`mbl_avalanche.analysis.SampleResult.scalars`);
:func:`make_figures` writes them all as PNG and PDF.
"""

from .paper import FIGURES, FigureRecord, Skip, make_figures

__all__ = ["FIGURES", "FigureRecord", "Skip", "make_figures"]
