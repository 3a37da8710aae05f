"""Figures: the paper's figures from a run and the one-sample inspector (``inspect``)."""
