"""Publication figures of an ensemble run (see :mod:`.paper`) in one style (see :mod:`.style`).

The figures are pure functions of the per-sample table (a :class:`pandas.DataFrame` whose columns
are the keys of :meth:`mbl_avalanche.analysis.SampleResult.scalars`); :func:`make_figures` writes
them all as PNG and PDF.
"""

from .paper import FIGURES, FigureRecord, Skip, make_figures

__all__ = ["FIGURES", "FigureRecord", "Skip", "make_figures"]
