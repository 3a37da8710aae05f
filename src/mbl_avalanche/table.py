"""The per-sample table: read from run directories or table files, written as Parquet or CSV.

One row per sample, one column per record column (:mod:`mbl_avalanche.record`).  Figures, report
and reproduction read tables through :func:`load_table`; ``mbl-avalanche table`` writes one with
:func:`write_table`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import pandas as pd

from . import ensemble
from .errors import InputError, NotARunDirectory

__all__ = ["TABLE_FORMATS", "load_table", "write_table"]

#: File formats a table can be written in.
TABLE_FORMATS = ("parquet", "csv")


def load_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The per-sample table of a run directory, of a folder of run directories, or of a file.

    * a ``.parquet`` / ``.csv`` / ``.json`` file: read with pandas (as written by
      ``mbl-avalanche table``);
    * a run directory: :func:`mbl_avalanche.ensemble.load_run`;
    * a folder whose sub-folders are run directories (as ``reproduce --preset paper`` makes):
      their tables concatenated.

    Samples recorded as failed (a ``status`` column other than ``"ok"``) are left out.
    Raises :class:`InputError` if nothing is found.
    """
    df = _read_table(Path(path))
    if "status" in df.columns:
        st = df["status"]
        df = df[st.isna() | (st.astype(str) == "ok")].reset_index(drop=True)
    return df


def _read_table(p: Path) -> pd.DataFrame:
    if not p.exists():
        raise InputError(f"OUTDIR={str(p)!r} does not exist: give a run directory or a table file")
    if p.is_file():
        suf = p.suffix.lower()
        if suf == ".parquet":
            return pd.read_parquet(p)
        if suf == ".csv":
            return pd.read_csv(p)
        if suf == ".json":
            return pd.read_json(p)
        raise InputError(f"table file {str(p)!r} is not allowed: use .parquet, .csv or .json")
    df = _try_load_run(p)
    if df is not None and len(df):
        return df
    parts = [
        t
        for sub in sorted(q for q in p.iterdir() if q.is_dir())
        if (t := _try_load_run(sub)) is not None and len(t)
    ]
    if parts:
        return pd.concat(parts, ignore_index=True)
    raise InputError(
        f"OUTDIR={str(p)!r} holds no finished samples: give a run directory (mbl-avalanche run), "
        "a folder of run directories, or a .parquet/.csv table"
    )


def _try_load_run(p: Path) -> pd.DataFrame | None:
    """The table of run directory ``p``, or None if ``p`` is not one (other errors propagate)."""
    try:  # looked up at call time: ensemble.load_run is the one entry point to run directories
        return ensemble.load_run(p)
    except NotARunDirectory:
        return None


def write_table(df: pd.DataFrame, out: str | os.PathLike[str] | IO[str], fmt: str) -> None:
    """Write ``df`` as ``fmt`` (``"parquet"`` or ``"csv"``) to a path (or, for CSV, a stream)."""
    if fmt not in TABLE_FORMATS:
        raise InputError(f"format {fmt!r} is not allowed: use one of {', '.join(TABLE_FORMATS)}")
    if fmt == "parquet":
        if not isinstance(out, str | os.PathLike):
            raise InputError("--format parquet needs -o FILE (Parquet is not written to stdout)")
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
