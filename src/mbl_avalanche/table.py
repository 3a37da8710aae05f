"""The per-sample table: read from run directories or table files, written as Parquet or CSV.

One row per sample, one column per record column (:mod:`mbl_avalanche.record`).  Figures, report
and reproduction read tables through :func:`load_table`; ``mbl-avalanche table`` writes one with
:func:`write_table`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import IO

import pandas as pd

from . import ensemble
from .errors import InputError, NotARunDirectory

__all__ = [
    "SAMPLE_IDENTITY",
    "TABLE_FORMATS",
    "DuplicateSamples",
    "deduplicate",
    "load_table",
    "write_table",
]

#: File formats a table can be written in.
TABLE_FORMATS = ("parquet", "csv")


def load_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The per-sample table of a run directory, of a folder of run directories, or of a file.

    * a ``.parquet`` / ``.csv`` / ``.json`` file: read with pandas (as written by
      ``mbl-avalanche table``);
    * a run directory: :func:`mbl_avalanche.ensemble.load_run`;
    * a folder whose sub-folders are run directories (as ``reproduce --preset paper`` makes):
      their tables concatenated, a sample held by several of them counted once
      (:func:`deduplicate`, with a :class:`DuplicateSamples` warning).

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
        readers = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".json": pd.read_json}
        if suf not in readers:
            raise InputError(f"table file {str(p)!r} is not allowed: use .parquet, .csv or .json")
        try:
            df = readers[suf](p)
        except Exception as exc:  # pandas and pyarrow raise many kinds for a file they cannot read
            msg = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise InputError(
                f"table file {str(p)!r} is not allowed: it cannot be read as a {suf[1:]} table "
                f"({msg})"
            ) from None
        if not isinstance(df, pd.DataFrame) or df.empty:
            raise InputError(f"table file {str(p)!r} is not allowed: it holds no samples")
        return df
    df = _try_load_run(p)
    if df is not None and len(df):
        return df
    if df is not None:
        raise InputError(
            f"OUTDIR={str(p)!r} holds no finished samples yet: run mbl-avalanche run on it first"
        )
    parts = [
        t
        for sub in sorted(q for q in p.iterdir() if q.is_dir())
        if (t := _try_load_run(sub)) is not None and len(t)
    ]
    if parts:
        return deduplicate(pd.concat(parts, ignore_index=True), str(p))
    raise InputError(
        f"OUTDIR={str(p)!r} is not allowed: it is not a run directory and holds none (no "
        "config.json or shards/ in it or its sub-folders): give a run directory (mbl-avalanche "
        "run), a folder of run directories, or a .parquet/.csv table"
    )


class DuplicateSamples(UserWarning):
    """Several run directories read together held the same sample (counted once)."""


#: What identifies one sample across run directories (besides the model's parameters).
SAMPLE_IDENTITY = ("model", "seed", "gue_scale", "layer_order", "L", "sample")


def deduplicate(df: pd.DataFrame, where: str = "") -> pd.DataFrame:
    """``df`` with one row per sample: rows equal in (model, parameters, seed, knobs, L,
    sample) are counted once (the first kept), with a :class:`DuplicateSamples` warning that
    says how many were dropped.  Rows of several run directories that overlap (two runs of the
    same seed, say) would otherwise count a sample twice."""
    from . import record

    params = sorted({p for m in df.get("model", pd.Series(["floquet"])).dropna().unique()
                     for p in record.MODEL_PARAMETERS.get(str(m), ())})  # fmt: skip
    cols = [c for c in (*SAMPLE_IDENTITY, *params) if c in df.columns]
    dup = df.duplicated(cols, keep="first")
    n = int(dup.sum())
    if n:
        warnings.warn(
            f"{where or 'the table'}: {n} duplicate sample(s) (same model, parameters, seed, L "
            "and sample in more than one run directory) counted once",
            DuplicateSamples,
            stacklevel=3,
        )
        df = df[~dup].reset_index(drop=True)
    return df


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
