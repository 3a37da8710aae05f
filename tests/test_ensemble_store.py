"""Run-directory store: exact round trip, corrupt shards detected and redone, dedup, tables."""

from __future__ import annotations

import json
import math
import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import drop_volatile, load_arrays, load_run, run_ensemble
from mbl_avalanche.ensemble.store import (
    CorruptShard,
    read_shard,
    records_frame,
    remove_stale_temporaries,
    scan,
    shard_files,
    write_shard,
)

GRID = dict(L=[5, 6], alpha=[3.0], samples=6, chunk=2)


def _rec(sample, status="ok", **kw):
    r = dict(L=5, alpha=0.5, sample=sample, Gamma=0.1 + sample, status=status, error="")
    r.update(kw)
    return r


def test_shard_round_trip_is_exact(tmp_path):
    (tmp_path / "shards").mkdir()
    vals = [math.pi, 1e-310, float("nan"), float("inf"), -0.0, 2.0**-1074, 0.1 + 0.2]
    recs = [
        _rec(i, x=v, cert_degenerate_slow_mode=bool(i % 2), flip_sites="a,b", blas_threads=2**62)
        for i, v in enumerate(vals)
    ]
    p = write_shard(tmp_path, "L5_a0.5_s0-7", "RUN", 5, 0.5, recs)
    header, back = read_shard(p)
    assert header["samples"] == list(range(7)) and header["task"] == "L5_a0.5_s0-7"
    for a, b in zip(recs, back, strict=True):
        for k in a:
            if isinstance(a[k], float) and math.isnan(a[k]):
                assert math.isnan(b[k])
            else:
                assert b[k] == a[k] and type(b[k]) is type(a[k]), k
    assert math.copysign(1, back[4]["x"]) == -1.0
    assert list(tmp_path.joinpath("shards").glob(".tmp-*")) == []


@pytest.mark.parametrize(
    "damage",
    ["truncate_mid_line", "truncate_line", "flip_byte", "drop_footer", "empty", "garbage_footer"],
)
def test_damaged_shard_is_detected(tmp_path, damage):
    (tmp_path / "shards").mkdir()
    p = write_shard(tmp_path, "t", "RUN", 5, 0.5, [_rec(i) for i in range(4)])
    data = p.read_bytes()
    lines = data.splitlines(keepends=True)
    if damage == "truncate_mid_line":
        data = data[: len(data) // 2]
    elif damage == "truncate_line":
        data = b"".join(lines[:3])
    elif damage == "flip_byte":
        i = data.index(b'"Gamma":') + 9
        data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
    elif damage == "drop_footer":
        data = b"".join(lines[:-1])
    elif damage == "empty":
        data = b""
    else:
        data = b"".join(lines[:-1]) + b'{"end": true, "records": 4, "sha256": "00"}\n'
    p.write_bytes(data)
    with pytest.raises(CorruptShard):
        read_shard(p)
    assert scan(tmp_path).corrupt and scan(tmp_path).records == []


def test_truncated_and_corrupted_shards_are_redone(tmp_path):
    ref = tmp_path / "ref"
    run_ensemble(ref, progress=False, **GRID)
    reference = drop_volatile(load_run(ref))
    out = tmp_path / "run"
    run_ensemble(out, progress=False, **GRID)
    files = shard_files(out)
    assert len(files) == 6
    a, b = files[1], files[4]
    a.write_bytes(a.read_bytes()[:-40])  # truncated
    data = bytearray(b.read_bytes())  # corrupted in place, same length
    i = data.index(b'"R":') + 6
    data[i] = ord("7") if data[i] != ord("7") else ord("3")
    b.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="skipping corrupt shard"):
        partial = load_run(out)
    assert len(partial) == len(reference) - 4  # the damaged shards are never read
    s = run_ensemble(out, progress=False, **GRID)
    assert s.corrupt_redone == 2 and s.computed_ok == 4
    assert sorted(p.name for p in (out / "shards" / "corrupt").iterdir()) == sorted(
        [a.name, b.name]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)


def test_damaged_arrays_file_redoes_its_shard(tmp_path):
    run_ensemble(tmp_path, L=[5], alpha=[1.0], samples=4, chunk=2, save_arrays=True, progress=False)
    h5 = sorted((tmp_path / "shards").glob("*.h5"))
    assert len(h5) == 2
    h5[0].write_bytes(h5[0].read_bytes()[:-100])
    assert len(scan(tmp_path).corrupt) == 1
    s = run_ensemble(
        tmp_path, L=[5], alpha=[1.0], samples=4, chunk=2, save_arrays=True, progress=False
    )
    assert s.computed_ok == 2 and s.corrupt_redone == 1
    assert load_arrays(tmp_path, 5, 1.0, 0)["theta"].shape == (32,)


def test_stale_leftovers_of_killed_writers_are_removed(tmp_path):
    sdir = tmp_path / "shards"
    sdir.mkdir()
    keep = write_shard(
        tmp_path, "a", "R", 5, 0.5, [_rec(0)], arrays={0: {"theta": np.zeros(2), "c": np.ones(2)}}
    )
    old_tmp, new_tmp, orphan = sdir / ".tmp-x-a.jsonl", sdir / ".tmp-y-b.jsonl", sdir / "b.h5"
    for p in (old_tmp, new_tmp, orphan):
        p.write_bytes(b"partial")
    for p in (old_tmp, orphan, keep, keep.with_suffix(".h5")):
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in sdir.iterdir()) == sorted(
        [keep.name, keep.with_suffix(".h5").name, new_tmp.name]
    )
    assert load_run(tmp_path)["sample"].tolist() == [0]


def test_duplicates_keep_one_record_ok_preferred(tmp_path):
    (tmp_path / "shards").mkdir()
    write_shard(tmp_path, "a", "R1", 5, 0.5, [_rec(0), _rec(1, "failed", Gamma=None)])
    write_shard(tmp_path, "b", "R2", 5, 0.5, [_rec(1), _rec(2)])
    write_shard(tmp_path, "c", "R3", 5, 0.5, [_rec(2, "failed", Gamma=None), _rec(0)])
    df = load_run(tmp_path)
    assert df["sample"].tolist() == [0, 1, 2] and (df.status == "ok").all()
    assert df.shard.tolist() == ["a__R1.jsonl", "b__R2.jsonl", "b__R2.jsonl"]


def test_table_sorted_with_bookkeeping_last():
    recs = [
        dict(L=7, alpha=1.0, sample=1, Gamma=1.0, status="ok", error="", host="h"),
        dict(alpha=0.5, sample=3, L=6, Gamma=2.0, status="ok", error="", host="h"),
        dict(alpha=1.0, sample=0, L=7, status="failed", error="E: x", host="h"),
    ]
    df = records_frame(recs)
    assert list(df.columns) == ["L", "alpha", "sample", "Gamma", "status", "error", "host"]
    assert list(zip(df.L, df["sample"], strict=True)) == [(6, 3), (7, 0), (7, 1)]
    assert np.isnan(df.Gamma.iloc[1])


def test_table_cli_parquet_and_csv(tmp_path, capsys):
    run_ensemble(tmp_path / "r", progress=False, **GRID)
    df = load_run(tmp_path / "r")
    pq, csv = tmp_path / "t.parquet", tmp_path / "t.csv"
    assert main(["table", str(tmp_path / "r"), "--format", "parquet", "-o", str(pq)]) == 0
    assert main(["table", str(tmp_path / "r"), "-o", str(csv)]) == 0
    back = pd.read_parquet(pq)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    back = pd.read_csv(csv, keep_default_na=False)
    assert back.Gamma.tolist() == df.Gamma.tolist() and back.R.tolist() == df.R.tolist()
    assert main(["table", str(tmp_path / "nothing"), "-o", str(csv)]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["table", str(tmp_path / "r"), "--format", "parquet"]) == 2


def test_status_cli(tmp_path, capsys):
    run_ensemble(tmp_path, shard=(0, 2), progress=False, **GRID)
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[1:3]]
    # shard 0 of 2 over tasks [L5: 0-2, 2-4, 4-6, L6: 0-2, 2-4, 4-6] takes positions 0, 2, 4
    assert [r[:5] for r in rows] == [["5", "3", "4", "6", "0"], ["6", "3", "2", "6", "0"]]
    assert out[3].startswith("all: 6/12 done, 0 failed, time left")
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["identity"]["seed"] == 20230623
    prov = json.loads((tmp_path / "provenance.json").read_text())
    for key in ("version", "git", "numpy", "scipy", "blas", "host", "python", "argv"):
        assert key in prov
    assert main(["status", str(tmp_path / "none")]) == 2


def test_status_time_left_extrapolates_to_unstarted_L(tmp_path):
    from mbl_avalanche.ensemble import make_config, run_status
    from mbl_avalanche.ensemble.store import init_run
    from mbl_avalanche.resources import sample_seconds

    run_ensemble(tmp_path, L=[5], alpha=[1.0], samples=3, progress=False)
    init_run(tmp_path, make_config(L=[5, 7], alpha=[1.0], samples=4))
    st = run_status(tmp_path).set_index("L")
    s5 = st.loc[5, "s_per_sample"]
    assert st.loc[5, "left"] == 1 and st.loc[5, "time_left_s"] == pytest.approx(s5)
    assert np.isnan(st.loc[7, "s_per_sample"]) and st.loc[7, "left"] == 4
    ratio = sample_seconds(7) / sample_seconds(5)  # the cost model (measured: 2.9)
    assert st.loc[7, "time_left_s"] == pytest.approx(4 * s5 * ratio)
