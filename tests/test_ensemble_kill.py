"""kill -9 at random moments never loses or corrupts finished samples; resuming completes."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble
from mbl_avalanche.ensemble.store import scan, shard_files

FLOQUET = (
    ["--L", "6", "7", "--alpha", "30", "1", "--samples", "16", "--chunk", "2"],
    dict(L=[6, 7], alpha=[30.0, 1.0], samples=16, chunk=2),
    ["L", "alpha", "sample"],
)
HEISENBERG = (
    ["--model", "heisenberg", "--L", "8", "9", "--W", "2", "20", "--samples", "16", "--chunk", "2"],
    dict(model="heisenberg", params={"W": [2.0, 20.0]}, L=[8, 9], samples=16, chunk=2),
    ["L", "W", "sample"],
)


@pytest.mark.parametrize("case", [FLOQUET, HEISENBERG], ids=["floquet", "heisenberg"])
def test_kill9_at_random_moments_then_resume_equals_uninterrupted(tmp_path, case):
    ARGS, GRID, key = case
    ref = tmp_path / "ref"
    run_ensemble(ref, progress=False, **GRID)
    reference = drop_volatile(load_run(ref))
    assert len(reference) == 64

    out = tmp_path / "run"
    rng = np.random.default_rng(20230623)  # the kill moments
    kills = 0
    counts = []
    for attempt in range(40):
        workers = "2" if attempt % 2 else "1"  # kill the driver of a pool too
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mbl_avalanche",
                "run",
                str(out),
                *ARGS,
                "--workers",
                workers,
                "--no-progress",
            ],
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        n0 = len(shard_files(out))
        deadline = time.monotonic() + 60
        # wait until this run has saved 1-3 tasks, then kill it a random moment later (within
        # about one task's time), so every kill lands while work is going on, whatever the speed
        wanted = n0 + int(rng.integers(1, 4))
        while len(shard_files(out)) < wanted and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))
        if p.poll() is not None:
            break  # finished before the kill moment
        p.kill()
        p.wait(timeout=30)
        kills += 1
        sc = scan(out)
        assert sc.corrupt == []  # nothing half-written is ever visible
        df = load_run(out)
        assert df[key].duplicated().sum() == 0
        # every saved record is exactly the uninterrupted run's record
        merged = drop_volatile(df).merge(reference, how="left", indicator=True)
        assert (merged["_merge"] == "both").all()
        counts.append(len(df))
        if kills >= 5:
            break
    assert kills >= 5, f"only {kills} kills landed before the run finished"
    assert counts == sorted(counts) and counts[0] < 64  # progress kept across kills

    done = subprocess.run(
        [sys.executable, "-m", "mbl_avalanche", "run", str(out), *ARGS, "--no-progress"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)
