"""Publish a finished run (or a folder of runs) as a data set under ``docs/results/``.

    python tools/publish_results.py runs/paper-L10 docs/results/paper-L10 \
        --fig4-L 10 --fig4-alpha 30

writes into the destination, through the package's own commands:

* ``samples.parquet``: the per-sample table (:func:`mbl_avalanche.table.load_table` of the run
  or of every run of the folder: one row per finished sample, the record schema's columns;
  ``pandas.read_parquet`` opens it);
* ``figures/``: the paper's figures (``mbl-avalanche figures --format png``);
* ``report.md``, ``report.json``: the claims checked (``mbl-avalanche report``);
* ``provenance.json``: what made it: package version and git commit, Python, NumPy, SciPy and
  BLAS versions, the machine, each run's ``config.json`` and the provenance of every process
  that wrote into it (``provenance/*.json``: git revision, versions, workers), the samples
  per ``(L, disorder)`` and the mean seconds per sample.

The raw shards stay in the run directory (they are not published).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "mbl_avalanche", *args]
    print("+ mbl-avalanche " + " ".join(args), flush=True)
    rc = subprocess.run(cmd).returncode
    if rc:
        sys.exit(rc)  # the command printed its one-line error


def _runs(root: Path) -> list[Path]:
    if (root / "config.json").exists():
        return [root]
    return sorted(p.parent for p in root.glob("*/config.json"))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run directory or a folder of run directories")
    ap.add_argument("dest", type=Path, help="destination folder (created)")
    ap.add_argument("--fig4-L", help="headline L of Fig. 4 and of the resonance claims")
    ap.add_argument("--fig4-alpha", help="headline disorder value")
    args = ap.parse_args()
    runs = _runs(args.run)
    if not runs:
        ap.error(f"{args.run} holds no run directory (no config.json)")
    dest = args.dest
    dest.mkdir(parents=True, exist_ok=True)
    headline = []
    if args.fig4_L:
        headline += ["--fig4-L", args.fig4_L]
    if args.fig4_alpha:
        headline += ["--fig4-alpha", args.fig4_alpha]
    from mbl_avalanche.table import load_table

    # the table of the run, or of every run of the folder, a sample held twice counted once
    # (what ``mbl-avalanche table`` writes for one run directory); failed samples left out
    table = dest / "samples.parquet"
    load_table(args.run).to_parquet(table, index=False)
    print(f"+ wrote {table}", flush=True)
    _cli("figures", str(table), "--out", str(dest / "figures"), "--format", "png", *headline)
    _cli("report", str(table), "--out", str(dest), *headline)

    from threadpoolctl import threadpool_info

    import mbl_avalanche

    df = pd.read_parquet(table)
    parameter = "alpha" if "alpha" in df.columns else "W"
    cells = []
    for (L, p), g in df.groupby(["L", parameter]):
        wall = pd.to_numeric(g.get("wall_time"), errors="coerce")
        cells.append(
            {
                "L": int(L),
                parameter: float(p),
                "samples": len(g),
                "ok": int((g["status"] == "ok").sum()) if "status" in g else len(g),
                "mean_seconds_per_sample": float(wall.mean()) if wall is not None else None,
            }
        )
    provenance = {
        "published": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "package_version": mbl_avalanche.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": [
            {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info()
        ],
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "system": platform.platform()},
        "source": str(args.run),
        "runs": [
            {
                "path": str(r),
                "config": json.loads((r / "config.json").read_text()),
                # one file per process that wrote into the run (run id, host, pid, threads)
                "processes": [
                    json.loads(f.read_text()) for f in sorted((r / "provenance").glob("*.json"))
                ],
            }
            for r in runs
        ],
        "cells": cells,
        "rows": len(df),
    }
    (dest / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"published {len(df)} samples of {len(runs)} run(s) into {dest}")


if __name__ == "__main__":
    main()
