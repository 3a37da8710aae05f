"""Run directories written by earlier versions stay readable (TeNPy-style round trips).

``tests/data/golden/`` holds small committed run directories (L = 4, 5; alpha = 30, 1; three
samples each; ``--chunk 2 --save-arrays``; sample 2 of ``(L = 4, alpha = 1)`` failed on purpose
with ``MBL_AVALANCHE_FAIL_SAMPLES=4:1.0:2``):

* ``v0-907bef7`` -- written by the package at commit 907bef7, before the record schema (its shards
  carry no record version: read as version 1);
* ``v1`` -- written by record version 1 (this schema).

A change that can no longer read them, resume them, or that changes what their samples are, fails
here.  A new record version adds its own directory (written by ``mbl-avalanche run`` with the
same arguments) and keeps the old ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import gamma_conditioning
from mbl_avalanche import FloquetModel, analyze_sample, record
from mbl_avalanche.ensemble import load_arrays, load_run, run_ensemble
from mbl_avalanche.ensemble.store import read_shard, shard_files
from mbl_avalanche.figures import make_figures
from mbl_avalanche.report import check_claims
from mbl_avalanche.table import load_table

GOLDEN = Path(__file__).parent / "data" / "golden"
RUNS = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
GRID = dict(L=[4, 5], alpha=[30.0, 1.0], samples=3, chunk=2, save_arrays=True)


def test_the_golden_runs_are_there():
    assert {"v0-907bef7", "v1"} <= set(RUNS)


@pytest.mark.parametrize("name", RUNS)
def test_golden_run_reads_as_a_table_of_the_schema(name):
    df = load_run(GOLDEN / name)
    assert len(df) == 12
    assert sorted(zip(df.L, df.alpha, df["sample"], strict=True)) == sorted(
        (L, a, k) for L in (4, 5) for a in (30.0, 1.0) for k in range(3)
    )
    failed = df[df.status == "failed"]
    assert list(zip(failed.L, failed.alpha, failed["sample"], strict=True)) == [(4, 1.0, 2)]
    assert failed.error.iloc[0].startswith("RuntimeError: injected failure")
    assert set(df.columns) <= set(record.COLUMNS)
    expected = record.table_dtypes(df.columns, {c: bool(df[c].isna().any()) for c in df.columns})
    assert {c: str(df[c].dtype) for c in expected} == expected
    ok = df[df.status == "ok"]
    assert (ok.Gamma > 0).all() and ((ok.R > 0) & (ok.R <= 1)).all()
    assert set(ok.case) <= {"Z", "XY"}


@pytest.mark.parametrize("name", RUNS)
def test_golden_shards_pass_their_checks_and_carry_their_version(name):
    versions = set()
    for p in shard_files(GOLDEN / name):
        header, records = read_shard(p)
        versions.add(header.get("record_version"))
        for r in records:
            record.validate(r)  # complete records of the runner
    assert versions == ({None} if name.startswith("v0") else {int(name[1:])})


@pytest.mark.parametrize("name", RUNS)
def test_golden_run_resumes_without_recomputing(tmp_path, name):
    run = tmp_path / name
    shutil.copytree(GOLDEN / name, run)
    before = load_run(run)
    s = run_ensemble(run, progress=False, **GRID)
    assert s.computed_ok == 0 and s.computed_failed == 0 and s.already_done == 12
    s = run_ensemble(run, progress=False, **{**GRID, "samples": 4})
    assert s.computed_ok == 4 and s.already_done == 12
    after = load_run(run)
    old = after[after["sample"] < 3].reset_index(drop=True)  # new samples may add columns
    cols = [c for c in before.columns if c != "shard"]
    pd.testing.assert_frame_equal(old[cols], before[cols])
    assert (after["model"] == "floquet").all()
    cfg = json.loads((run / "config.json").read_text())
    assert {t["samples"] for t in cfg["targets"]} == {4}


#: Certificate and solver figures: rounding-level numbers that differ between BLAS kernels; a
#: recomputed sample must keep them below these bounds, not equal them.
ROUNDING = {
    "cert_unitarity_error": 1e-12,
    "cert_orthonormality_error": 1e-12,
    "cert_eigen_residual": 1e-12,
    "cert_row_sum_error": 1e-12,
    "cert_gamma_rel_diff": 1e-6,
    "cert_gamma_resolution": 1e-13,
    "cert_gamma_residual": 1e-13,
    "cert_gamma_floor": 1e-13,
    "cert_mode_error": 1e-6,
    "fast_residual_fro": 1e-12,
    "fast_orthonormality_fro": 1e-12,
    "fast_residual_bound": 1e-12,
}


@pytest.mark.parametrize("name", RUNS)
def test_golden_samples_are_the_same_samples(name):
    """Recomputed today, every stored sample gives the same record (volatile columns aside).

    Discrete columns (indices, case, bit strings, flags) must be equal; physical floats equal to
    a relative ``1e-9 + 100 x`` the sample's first-order sensitivity to eigenvector rounding
    (:func:`conftest.gamma_conditioning`: ``eps / splitting`` over the matrix elements that carry
    the relaxation; up to 1.4e-9 here, the L = 5 samples having splittings down to 2.6e-4), or
    absolutely to 1e-13 for the O(1)-scale numbers that are tiny (``S``, ``D`` of weak pairs);
    rounding figures must stay below :data:`ROUNDING`.  On the machine that wrote them they are
    bit for bit equal.
    """
    df = load_run(GOLDEN / name)
    for row in df[df.status == "ok"].to_dict("records"):
        model = FloquetModel(L=int(row["L"]), alpha=float(row["alpha"]))
        r = analyze_sample(model, int(row["sample"]), keep_S=True)
        new = r.scalars()
        rtol = 1e-9 + 100 * gamma_conditioning(r)
        # fixed after 907bef7: an XY set whose top pair is its own bath flip (mu' = nu, thermal
        # samples) paired a state with itself (A = B); such a stored set is not compared
        fixed = row["A"] == row["B"]
        assert new["A"] != new["B"]
        for col, old in row.items():
            if record.is_volatile(col) or col in record.column_names("runner"):
                continue
            if fixed and record.COLUMNS[col].stage == "resonance":
                continue
            got = new[col]
            if col in ROUNDING:
                assert abs(got) <= ROUNDING[col] and abs(old) <= ROUNDING[col], (col, got, old)
            elif record.COLUMNS[col].dtype == "float" and not float(old).is_integer():
                assert np.isclose(got, old, rtol=rtol, atol=1e-13, equal_nan=True), (name, col)
            else:
                assert got == old, (name, row["L"], row["alpha"], row["sample"], col, got, old)
        arrays = load_arrays(GOLDEN / name, int(row["L"]), float(row["alpha"]), int(row["sample"]))
        np.testing.assert_allclose(arrays["theta"], r.theta, rtol=0, atol=1e-12)


def test_golden_run_feeds_table_figures_and_report(tmp_path):
    df = load_table(GOLDEN / "v1")
    assert len(df) == 11  # the failed sample is left out
    recs = make_figures(df, tmp_path, formats=("png",), only=["fig2_R", "lnGamma_vs_L"])
    assert all(r.paths for r in recs)
    claims = {c.key: c for c in check_claims(df, n_boot=20)}
    assert claims["R_le_half"].estimate.n == 6  # the alpha = 30 samples, 3 at each L
