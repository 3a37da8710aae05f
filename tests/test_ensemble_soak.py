"""Soak (slow): eight ``mbl-avalanche run`` processes on one run directory, killed at random
for minutes, end with every sample stored exactly once and the uninterrupted run's table.

Knobs (environment): ``MBL_SOAK_SECONDS`` (default 180) how long processes are killed and
restarted; ``MBL_SOAK_REPORT`` a file that receives the figures as JSON (samples, processes
started, kills by signal, stale claims taken over, duplicates on disk, samples lost, samples
computed twice).  Run with ``python -m pytest -m slow -s tests/test_ensemble_soak.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble
from mbl_avalanche.ensemble.claims import read_claims
from mbl_avalanche.ensemble.store import scan

pytestmark = pytest.mark.slow

GRID = dict(L=[6, 7, 8], alpha=[30.0, 1.0], samples=400, chunk=2)
ARGS = ["--L", "6", "7", "8", "--alpha", "30", "1", "--samples", "400", "--chunk", "2"]
N = 3 * 2 * 400
PROCS = 8


def test_eight_processes_killed_at_random_store_every_sample_once(tmp_path):
    seconds = float(os.environ.get("MBL_SOAK_SECONDS", "180"))
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "mbl_avalanche", "run", str(out), *ARGS,
        "--claim-timeout", "5", "--no-progress",
    ]  # fmt: skip
    rng = np.random.default_rng(7)
    env = subprocess_env()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    files = []
    started = 0
    kills = {"SIGKILL": 0, "SIGTERM": 0, "SIGINT": 0}

    def start() -> subprocess.Popen:
        nonlocal started
        started += 1
        fh = open(logs / f"{started:04d}.err", "w")
        files.append(fh)
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=fh)

    t0 = time.monotonic()
    procs = [start() for _ in range(PROCS)]
    while time.monotonic() - t0 < seconds:
        time.sleep(rng.uniform(0.2, 1.5))
        alive = [p for p in procs if p.poll() is None]
        if alive:
            victim = alive[int(rng.integers(len(alive)))]
            sig = rng.choice(["SIGKILL", "SIGKILL", "SIGTERM", "SIGINT"])
            victim.send_signal(getattr(signal, sig))
            kills[sig] += 1
        for p in procs:
            if p.poll() is not None:
                p.wait()
        procs = [p for p in procs if p.poll() is None]
        if len(scan(out).best()) == N:
            break
        while len(procs) < PROCS:
            procs.append(start())
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    during = time.monotonic() - t0
    for fh in files:
        fh.close()
    # on disk now: never a corrupt shard, never a sample twice
    sc = scan(out)
    assert sc.corrupt == []
    keys = [(r["L"], r["alpha"], r["sample"]) for r in sc.records]
    dup_on_disk = len(keys) - len(set(keys))
    stored_during = len(set(keys))
    # one last run completes the grid
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert final.returncode == 0, final.stderr
    sc = scan(out)
    keys = [(r["L"], r["alpha"], r["sample"]) for r in sc.records]
    dup_on_disk += len(keys) - len(set(keys))
    taken = dropped = 0
    for f in logs.glob("*.err"):
        text = f.read_text()
        taken += sum(int(x) for x in re.findall(r"(\d+) stale claim\(s\) taken over", text))
        dropped += sum(int(x) for x in re.findall(r"duplicates dropped: (\d+)", text))
    ref = tmp_path / "ref"
    run_ensemble(ref, progress=False, **GRID)
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), drop_volatile(load_run(ref)))
    figures = {
        "samples": N,
        "processes_at_once": PROCS,
        "seconds_of_kills": round(during, 1),
        "processes_started": started,
        "kills": kills,
        "stored_while_killing": stored_during,
        "stale_claims_taken_over": taken,
        "duplicates_on_disk": dup_on_disk,
        "samples_lost": N - len(set(keys)),
        "samples_computed_twice_and_dropped": dropped,
        "claims_left": len(read_claims(out)),
    }
    print("soak:", json.dumps(figures))
    if os.environ.get("MBL_SOAK_REPORT"):
        with open(os.environ["MBL_SOAK_REPORT"], "w") as fh:
            json.dump(figures, fh, indent=2)
    assert dup_on_disk == 0 and len(set(keys)) == N == len(keys)
    assert figures["claims_left"] == 0
