"""Shared run directories: claims, takeover of stale claims, no task computed twice, no sample
stored twice, and settings that never mix (module ``mbl_avalanche.ensemble.claims`` and the
runner's use of it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble, store
from mbl_avalanche.ensemble import runner as runner_mod
from mbl_avalanche.ensemble.claims import ClaimBook, _read, read_claims
from mbl_avalanche.ensemble.tasks import task_list
from mbl_avalanche.errors import InputError
from mbl_avalanche.table import DuplicateSamples, load_table

GRID = dict(L=[5, 6], alpha=[30.0, 1.0], samples=8, chunk=2)
ARGS = ["--L", "5", "6", "--alpha", "30", "1", "--samples", "8", "--chunk", "2"]
N = 2 * 2 * 8


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ref")
    run_ensemble(out, progress=False, **GRID)
    return drop_volatile(load_run(out))


def _tasks():
    return task_list((5, 6), (30.0, 1.0), 8, 2)


def _fake_claim(outdir, task, host, pid, age=0.0):
    """A claim file as another driver would leave it, its heartbeat ``age`` seconds old."""
    cdir = outdir / "claims"
    cdir.mkdir(parents=True, exist_ok=True)
    p = cdir / f"{task}.claim"
    p.write_text(
        json.dumps({"task": task, "run_id": "other", "host": host, "pid": pid, "token": "t" * 32})
    )
    t = time.time() - age
    os.utime(p, (t, t))
    return p


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_claim_is_exclusive_and_released(tmp_path):
    a = ClaimBook(tmp_path, "run-a")
    b = ClaimBook(tmp_path, "run-b")
    try:
        assert a.try_claim("T1")
        assert not b.try_claim("T1")  # live: a's process exists and beats
        assert b.holder("T1") == f"{a.host}:{a.pid}"
        a.release("T1")
        assert b.try_claim("T1")
        assert [c.run_id for c in read_claims(tmp_path)] == ["run-b"]
    finally:
        a.close()
        b.close()
    assert read_claims(tmp_path) == []  # close releases everything


def test_claim_of_a_dead_process_of_this_host_is_taken_over_at_once(tmp_path):
    import socket

    pid = _dead_pid()
    _fake_claim(tmp_path, "T1", socket.gethostname(), pid)
    with ClaimBook(tmp_path, "run-b") as b:
        assert b.try_claim("T1")
        assert b.taken_over == [("T1", f"{socket.gethostname()}:{pid}")]
        assert read_claims(tmp_path)[0].run_id == "run-b"


def test_claim_of_another_host_goes_stale_when_its_heartbeat_stops(tmp_path):
    _fake_claim(tmp_path, "T1", "node-elsewhere", 1)
    with ClaimBook(tmp_path, "run-b", stale_after=0.4) as b:
        assert not b.try_claim("T1")  # first sight: its heartbeat may still move
        time.sleep(0.5)
        assert b.try_claim("T1")  # it did not move for stale_after seconds of our clock
    # a claim whose heartbeat is far in the past (3 x stale_after) is stale at first sight
    _fake_claim(tmp_path, "T2", "node-elsewhere", 1, age=10.0)
    with ClaimBook(tmp_path, "run-c", stale_after=2.0) as c:
        assert c.try_claim("T2")


def test_a_moving_heartbeat_keeps_a_claim_live(tmp_path):
    with ClaimBook(tmp_path, "run-a", stale_after=0.4, heartbeat=0.05) as a:
        assert a.try_claim("T1")
        with ClaimBook(tmp_path, "run-b", stale_after=0.4) as b:
            for _ in range(8):
                assert not b.try_claim("T1")
                time.sleep(0.1)


def test_takeover_that_finds_a_fresh_claim_puts_it_back(tmp_path):
    # b judged the claim of a dead driver stale, but before b renamed it, c took it over:
    # b must move c's fresh claim back and give up
    with ClaimBook(tmp_path, "run-c") as c, ClaimBook(tmp_path, "run-b") as b:
        dead = _fake_claim(tmp_path, "T1", "node-elsewhere", 1, age=1e4)
        stale = _read(dead)
        assert c.try_claim("T1") and c.taken_over  # c took it over first
        assert not b._take_over("T1", stale)
        assert _read(dead).run_id == "run-c"  # c's claim is in place again
        c.beat()
        assert not c.lost("T1")


def test_a_holder_finds_out_when_its_claim_was_taken(tmp_path):
    with ClaimBook(tmp_path, "run-a") as a:
        assert a.try_claim("T1")
        p = a.path("T1")
        p.unlink()
        _fake_claim(tmp_path, "T1", "node-elsewhere", 1)
        a.beat()
        assert a.lost("T1")
        a.release("T1")  # never deletes the other's claim
        assert p.exists()


def test_run_leaves_tasks_held_by_live_claims_and_takes_over_stale_ones(tmp_path, reference):
    import socket

    tasks = _tasks()
    _fake_claim(tmp_path, tasks[0].name, "node-elsewhere", 1)  # live (fresh heartbeat)
    _fake_claim(tmp_path, tasks[1].name, socket.gethostname(), _dead_pid())  # its driver died
    s = run_ensemble(tmp_path, progress=False, wait_for_others=False, **GRID)
    assert s.held_by_others == 2 and s.taken_over == 1 and s.computed_ok == N - 2
    assert "2 samples left to other processes" in s.line()
    # waiting: the live claim's heartbeat does not move, so after claim_timeout it is taken
    t0 = time.monotonic()
    s = run_ensemble(tmp_path, progress=False, claim_timeout=0.5, poll=0.1, **GRID)
    assert s.computed_ok == 2 and s.taken_over == 1 and time.monotonic() - t0 >= 0.5
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)
    assert read_claims(tmp_path) == []


def test_a_sample_stored_meanwhile_by_another_process_is_not_stored_again(
    tmp_path, monkeypatch, reference
):
    real = runner_mod.compute_task
    seen = []

    def racing(spec):
        out = real(spec)
        if not seen:  # another process stores the same task's samples first
            seen.append(spec.task.name)
            store.write_shard(
                tmp_path, spec.task.name, "other-run", spec.task.L, dict(spec.task.point),
                out.records,
            )  # fmt: skip
        return out

    monkeypatch.setattr(runner_mod, "compute_task", racing)
    s = run_ensemble(tmp_path, progress=False, **GRID)
    assert s.duplicates_dropped == 2 and s.computed_ok == N - 2
    sc = store.scan(tmp_path)
    keys = [(r["L"], r["alpha"], r["sample"]) for r in sc.records]
    assert len(keys) == len(set(keys)) == N  # on disk: every sample exactly once
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)


def _computed(err: str) -> int:
    m = re.search(r": (\d+) samples computed", err)
    assert m, err
    return int(m.group(1))


@pytest.mark.parametrize("n_proc", [2, 3])
def test_processes_started_together_share_the_work(tmp_path, reference, n_proc):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mbl_avalanche", "run", str(out), *ARGS, "--no-progress"]
    procs = [
        subprocess.Popen(cmd, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
        for _ in range(n_proc)
    ]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        errs.append(err)
    assert sum(_computed(e) for e in errs) == N  # no sample computed twice
    sc = store.scan(out)
    assert len(sc.records) == N  # none stored twice
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)
    assert read_claims(out) == []


def test_missing_config_never_mixes_two_seeds(tmp_path, capsys):
    run_ensemble(tmp_path, progress=False, L=[5], alpha=[30.0], samples=2, seed=1)
    (tmp_path / "config.json").unlink()
    args = ["run", str(tmp_path), "--L", "5", "--alpha", "30", "--samples", "4", "--no-progress"]
    assert main([*args, "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "no config.json" in err and "seed=1" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--seed", "1"]) == 0  # same settings: the config is written anew
    assert "config.json written anew" in capsys.readouterr().err
    df = load_run(tmp_path)
    assert len(df) == 4 and set(df.seed) == {1}


def test_a_damaged_config_stops_the_run(tmp_path, capsys):
    run_ensemble(tmp_path, progress=False, L=[5], alpha=[30.0], samples=2)
    (tmp_path / "config.json").write_text('{"mbl_avalanche_run": 1, "iden')
    rc = main(["run", str(tmp_path), "--L", "5", "--alpha", "30", "--samples", "4"])
    err = capsys.readouterr().err
    assert rc == 2 and "not a readable run config" in err and len(err.strip().splitlines()) == 1
    assert sum(len(store.read_shard(p)[1]) for p in store.shard_files(tmp_path)) == 2


def test_a_directory_that_mixes_settings_is_refused_by_the_table(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_ensemble(a, progress=False, L=[5], alpha=[30.0], samples=2, seed=1)
    run_ensemble(b, progress=False, L=[5], alpha=[30.0], samples=2, seed=2)
    for p in store.shard_files(b):  # as an older version could leave it
        os.replace(p, a / "shards" / p.name)
    with pytest.raises(InputError, match="mixes samples of different settings"):
        load_run(a)


def test_overlapping_run_directories_count_each_sample_once(tmp_path, capsys):
    a, b = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    run_ensemble(a, progress=False, L=[5], alpha=[30.0], samples=3)
    run_ensemble(b, progress=False, L=[5], alpha=[30.0], samples=5)  # samples 0..2 again
    run_ensemble(tmp_path / "runs" / "c", progress=False, L=[5], alpha=[30.0], samples=2, seed=9)
    with pytest.warns(DuplicateSamples, match="3 duplicate sample"):
        df = load_table(tmp_path / "runs")
    assert len(df) == 5 + 2  # seed 9's samples are other samples
    # the CLI says so in one line
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr().err
    assert "mbl-avalanche: warning:" in err and "3 duplicate sample" in err


@pytest.mark.parametrize("what", ["empty", "folder-of-runs", "random-files"])
def test_table_of_a_folder_that_is_not_a_run_is_an_error(tmp_path, capsys, what):
    d = tmp_path / "d"
    d.mkdir()
    if what == "folder-of-runs":
        run_ensemble(d / "r1", progress=False, L=[5], alpha=[30.0], samples=1)
    elif what == "random-files":
        (d / "notes.txt").write_text("hello")
    out = tmp_path / "t.csv"
    assert main(["table", str(d), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_run_with_nothing_to_do_sweeps_claims_of_dead_processes(tmp_path):
    import socket

    run_ensemble(tmp_path, progress=False, L=[5], alpha=[30.0], samples=2)
    _fake_claim(tmp_path, "L5_a30.0_s0000000-0000002", socket.gethostname(), _dead_pid())
    live = _fake_claim(tmp_path, "L5_a30.0_s0000002-0000004", "node-elsewhere", 1)
    s = run_ensemble(tmp_path, progress=False, L=[5], alpha=[30.0], samples=2)
    assert s.computed_ok == 0
    assert [c.task for c in read_claims(tmp_path)] == [live.name[: -len(".claim")]]
