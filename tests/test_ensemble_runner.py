"""Ensemble runner: identical records whichever way they are computed; resume; failures."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche import resources as resources_mod
from mbl_avalanche.analysis import SampleResult, analyze_sample
from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import drop_volatile, load_arrays, load_run, run_ensemble, run_status
from mbl_avalanche.ensemble import runner as runner_mod
from mbl_avalanche.ensemble.store import shard_files
from mbl_avalanche.ensemble.tasks import FAIL_ENV
from mbl_avalanche.errors import InputError
from mbl_avalanche.models.floquet import FloquetModel
from mbl_avalanche.resources import sample_memory_bytes

GRID = dict(L=[5, 7], alpha=[30.0, 1.0], samples=6, chunk=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ref")
    s = run_ensemble(out, workers=1, progress=False, **GRID)
    assert s.executor == "inline" and s.computed_ok == 24 and s.remaining == 0
    return drop_volatile(load_run(out))


def test_reference_records_are_the_sample_analysis(reference):
    # the table holds exactly what analyze_sample gives, for every sample of the grid
    assert len(reference) == 2 * 2 * 6
    assert not reference.duplicated(["L", "alpha", "sample"]).any()
    assert list(reference[["L", "alpha", "sample"]].itertuples(index=False, name=None)) == sorted(
        (L, a, s) for L in (5, 7) for a in (30.0, 1.0) for s in range(6)
    )
    assert (reference.status == "ok").all()
    row = reference[(reference.L == 7) & (reference.alpha == 1.0) & (reference["sample"] == 4)]
    direct = analyze_sample(FloquetModel(7, 1.0), 4).scalars()
    for key in ("Gamma", "R", "mu", "nu", "c_mu", "cert_eigen_residual", "cert_flags", "seed"):
        assert row[key].item() == direct[key], key


def test_two_workers_give_identical_table(tmp_path, reference):
    s = run_ensemble(tmp_path, workers=2, progress=False, **GRID)
    assert s.executor == "local" and s.workers == 2
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)


def test_two_shards_give_identical_table(tmp_path, reference):
    a = run_ensemble(tmp_path, shard=(0, 2), progress=False, **GRID)
    part = load_run(tmp_path)
    assert 0 < len(part) < len(reference)
    b = run_ensemble(tmp_path, shard=(1, 2), progress=False, **GRID)
    assert a.computed_ok + b.computed_ok == len(reference)  # disjoint slices
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)


def test_dask_local_cluster_gives_identical_table(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        # through the command line, as a user would: the driver writes, Dask computes
        rc = main(
            [
                "run",
                str(tmp_path),
                "--L",
                "5",
                "7",
                "--alpha",
                "30",
                "1",
                "--samples",
                "6",
                "--chunk",
                "2",
                "--dask-scheduler",
                cluster.scheduler_address,
                "--no-progress",
            ]
        )
    assert rc == 0
    assert len(shard_files(tmp_path)) == 12
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)


def test_rerun_computes_nothing_and_more_samples_add_only_new(tmp_path, reference):
    small = dict(GRID, samples=4)
    run_ensemble(tmp_path, progress=False, **small)
    before = {p.name: p.read_bytes() for p in shard_files(tmp_path)}
    again = run_ensemble(tmp_path, progress=False, **small)
    assert again.computed_ok == 0 and again.already_done == 16
    assert {p.name for p in shard_files(tmp_path)} == set(before)
    more = run_ensemble(tmp_path, progress=False, **GRID)
    assert more.already_done == 16 and more.computed_ok == 8
    after = {p.name: p.read_bytes() for p in shard_files(tmp_path)}
    assert all(after[k] == v for k, v in before.items())  # old shards untouched
    new_samples = load_run(tmp_path).set_index("shard").loc[sorted(set(after) - set(before))]
    assert set(new_samples["sample"]) == {4, 5}
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)
    rechunked = run_ensemble(tmp_path, progress=False, **dict(GRID, chunk=5))
    assert rechunked.computed_ok == 0 and rechunked.already_done == 24
    st = run_status(tmp_path)
    assert (st.done == 6).all() and (st.total == 6).all() and (st.left == 0).all()


def test_failed_sample_is_recorded_and_retried(tmp_path, monkeypatch, reference):
    monkeypatch.setenv(FAIL_ENV, "7:30.0:3,5:1.0:0")
    s = run_ensemble(tmp_path, progress=False, **GRID)
    assert s.computed_failed == 2 and s.computed_ok == 22  # the run went on
    df = load_run(tmp_path)
    bad = df[df.status == "failed"]
    assert sorted(zip(bad.L, bad.alpha, bad["sample"], strict=True)) == [(5, 1.0, 0), (7, 30.0, 3)]
    assert bad.error.str.contains("RuntimeError: injected failure").all()
    assert bad.Gamma.isna().all()
    assert len(load_run(tmp_path, failed=False)) == 22
    st = run_status(tmp_path).set_index(["L", "alpha"])
    assert st.loc[(7, 30.0), "failed"] == 1 and st.loc[(7, 30.0), "done"] == 5
    monkeypatch.delenv(FAIL_ENV)
    assert run_ensemble(tmp_path, progress=False, **GRID).computed_ok == 0  # failed = finished
    r = run_ensemble(tmp_path, progress=False, retry_failed=True, **GRID)
    assert r.computed_ok == 2 and r.computed_failed == 0
    # both records are on disk; the table keeps the ok one
    pd.testing.assert_frame_equal(drop_volatile(load_run(tmp_path)), reference)


def test_a_task_whose_worker_keeps_dying_is_left_and_everything_else_done(
    tmp_path, monkeypatch, capsys
):
    # the worker computing (L=7, alpha=1, sample 5) ends itself (os._exit(70)) every time: the
    # pool is rebuilt, the tasks in flight run again one at a time, the culprit's worker dies
    # twice while it runs alone and the task is left; every other sample is
    # computed and stored, the message names the cause, exit code 1; a rerun completes the grid
    monkeypatch.setenv(FAIL_ENV, "7:1.0:5:crash")
    args = [
        "run",
        str(tmp_path),
        "--L",
        "5",
        "7",
        "--alpha",
        "30",
        "1",
        "--samples",
        "6",
        "--chunk",
        "2",
        "--workers",
        "2",
        "--no-progress",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "exited with code 70" in err and "2 times it ran alone" in err, err
    assert "2 samples not computed" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    kept = load_run(tmp_path)
    assert (kept.status == "ok").all() and len(kept) == 22
    assert not ((kept.L == 7) & (kept.alpha == 1.0) & (kept["sample"] >= 4)).any()
    monkeypatch.delenv(FAIL_ENV)
    assert main(args) == 0
    assert len(load_run(tmp_path)) == 24


def test_new_scalar_keys_are_stored_once_declared_in_the_schema(tmp_path, monkeypatch):
    """A new scalar needs one entry in the record schema and nothing else to be stored."""
    from mbl_avalanche import record

    for name, dtype in (
        ("new_x", "float"),
        ("new_bits", "str"),
        ("new_case", "str"),
        ("new_mu", "int"),
        ("flag_new", "bool"),
        ("tiny", "float"),
    ):
        monkeypatch.setitem(
            record.COLUMNS,
            name,
            record.Column(name, dtype, "analysis", "a column added by a test", presence="optional"),
        )
    orig = SampleResult.scalars

    def more(self):
        d = orig(self)
        d.update(
            new_x=float("nan") if d["sample"] % 2 else 3.0,
            new_bits="0101",
            new_case="XY",
            new_mu=np.int64(7),
            flag_new=np.bool_(True),
            tiny=5e-324,
        )
        return d

    run_ensemble(tmp_path, L=[5], alpha=[2.0], samples=2, progress=False)  # old-style records
    monkeypatch.setattr(SampleResult, "scalars", more)
    run_ensemble(tmp_path, L=[5], alpha=[2.0], samples=4, progress=False)
    df = load_run(tmp_path)
    assert len(df) == 4
    assert df.new_x.isna().tolist() == [True, True, False, True]
    assert df.new_x.iloc[2] == 3.0 and df.tiny.iloc[3] == 5e-324
    assert df.new_bits.tolist()[2:] == ["0101", "0101"] and df.new_mu.iloc[3] == 7
    assert df.flag_new.iloc[3] is True or df.flag_new.iloc[3] == True  # noqa: E712
    out = tmp_path / "t.parquet"
    assert main(["table", str(tmp_path), "--format", "parquet", "-o", str(out)]) == 0
    back = pd.read_parquet(out)
    assert back.shape == df.shape and back.Gamma.tolist() == df.Gamma.tolist()


def test_undeclared_scalar_key_is_refused(tmp_path, monkeypatch):
    """A scalar that the schema does not name never reaches a shard."""
    from mbl_avalanche.record import SchemaError

    orig = SampleResult.scalars
    monkeypatch.setattr(SampleResult, "scalars", lambda self: {**orig(self), "undeclared": 1.0})
    with pytest.raises(SchemaError, match="column 'undeclared' is not in the record schema"):
        run_ensemble(tmp_path, L=[5], alpha=[2.0], samples=1, progress=False)
    assert shard_files(tmp_path) == []


def test_save_arrays_keeps_theta_and_c(tmp_path):
    run_ensemble(tmp_path, L=[6], alpha=[1.0], samples=3, save_arrays=True, progress=False)
    df = load_run(tmp_path)
    r = analyze_sample(FloquetModel(6, 1.0), 2)
    arr = load_arrays(tmp_path, 6, 1.0, 2)
    np.testing.assert_array_equal(arr["theta"], r.theta)
    np.testing.assert_array_equal(arr["c"], r.c)
    row = df.iloc[2]
    assert arr["theta"][int(row.mu)] == row.theta_mu and arr["c"][int(row.nu)] == row.c_nu
    with pytest.raises(InputError, match="no saved arrays"):
        load_arrays(tmp_path, 6, 1.0, 5)


def test_memory_guard_lowers_workers_or_refuses(tmp_path, monkeypatch):
    need = sample_memory_bytes(6)
    monkeypatch.setattr(runner_mod, "cpu_count", lambda: 4)
    monkeypatch.setattr(runner_mod, "available_memory_bytes", lambda: int(1.5 * need))
    log = io.StringIO()
    s = run_ensemble(
        tmp_path / "a", L=[6], alpha=[1.0], samples=4, chunk=1, workers=3, progress=False, log=log
    )
    assert s.workers == 1 and s.computed_ok == 4
    assert "using 1 worker(s)" in log.getvalue()
    monkeypatch.setattr(runner_mod, "available_memory_bytes", lambda: need // 2)
    with pytest.raises(InputError, match="L=6 is not allowed here"):
        run_ensemble(tmp_path / "b", L=[6], alpha=[1.0], samples=4, workers=1, progress=False)


def test_memory_guard_is_per_model(monkeypatch):
    """The XXZ chain's measured peak (7.45 GiB at L = 14, benchmarks/sectors.py) is below its
    estimate, and on this 23.5 GiB machine two L = 14 Heisenberg samples fit where one Floquet
    sample does."""
    assert 7.45 * 2**30 <= sample_memory_bytes(14, "heisenberg") < sample_memory_bytes(14)
    assert 1.95 * 2**30 <= sample_memory_bytes(13, "heisenberg")
    monkeypatch.setattr(runner_mod, "cpu_count", lambda: 2)
    monkeypatch.setattr(runner_mod, "available_memory_bytes", lambda: int(23.0 * 2**30))
    log = io.StringIO()
    heis = runner_mod.make_config(
        model="heisenberg", params={"W": [10.0]}, L=[14], samples=1, workers=2, threads=1
    )
    assert runner_mod.plan_workers(heis, 14, log) == (2, 1)
    floq = runner_mod.make_config(L=[14], alpha=[30.0], samples=1, workers=2, threads=1)
    assert runner_mod.plan_workers(floq, 14, log) == (1, 1)


def test_workers_times_threads_at_most_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_mod, "cpu_count", lambda: 2)
    log = io.StringIO()
    cfg = runner_mod.make_config(L=[5], alpha=[1.0], samples=1, workers=4, threads=1)
    assert runner_mod.plan_workers(cfg, 5, log) == (2, 1)
    cfg = runner_mod.make_config(L=[5], alpha=[1.0], samples=1, workers=1, threads=0)
    assert runner_mod.plan_workers(cfg, 5, log) == (1, 2)
    cfg = runner_mod.make_config(L=[5], alpha=[1.0], samples=1, workers=2, threads=2)
    assert runner_mod.plan_workers(cfg, 5, log) == (1, 2)


def test_auto_workers_one_per_core_for_long_runs_one_process_for_short(monkeypatch):
    """``workers = 0`` (the default): the measured best layout, one process per core with one
    BLAS thread (benchmarks/throughput_grid.py), capped by memory; this process alone for a run
    the cost model puts under AUTO_PARALLEL_MIN_SECONDS."""
    monkeypatch.setattr(runner_mod, "cpu_count", lambda: 4)
    monkeypatch.setattr(resources_mod, "cpu_count", lambda: 4)
    monkeypatch.setattr(runner_mod, "available_memory_bytes", lambda: int(23.0 * 2**30))
    log = io.StringIO()
    cfg = runner_mod.make_config(L=[9], alpha=[30.0], samples=500)
    assert cfg.workers == 0 and cfg.threads == 1
    long = runner_mod.AUTO_PARALLEL_MIN_SECONDS * 10
    assert runner_mod.plan_workers(cfg, 9, log, long) == (4, 1)
    assert runner_mod.plan_workers(cfg, 9, log, 0.5) == (1, 1)
    # L = 14: one Floquet sample's estimate is below 23 GiB, two are not
    need = sample_memory_bytes(14)
    assert need < 23.0 * 2**30 < 2 * need
    assert runner_mod.plan_workers(cfg, 14, log, long) == (1, 1)
    # threads = 0 gives the cores that memory leaves idle to the one sample
    cfg0 = runner_mod.make_config(L=[14], alpha=[30.0], samples=5, threads=0)
    assert runner_mod.plan_workers(cfg0, 14, log, long) == (1, 4)
    assert runner_mod.plan_workers(cfg0, 9, log, long) == (4, 1)
    assert log.getvalue() == ""  # the auto layout is not a lowered request: nothing to warn


def test_auto_workers_run_in_processes_and_print_the_plan(tmp_path, monkeypatch):
    """A run above the threshold with the default workers goes to worker processes, and the
    plan line before it starts names the layout and the expected wall time."""
    monkeypatch.setattr(runner_mod, "AUTO_PARALLEL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(runner_mod, "cpu_count", lambda: 2)
    log = io.StringIO()
    s = run_ensemble(tmp_path, L=[5], alpha=[1.0], samples=4, chunk=1, log=log, progress=True)
    assert s.executor == "local" and s.workers == 2 and s.computed_ok == 4
    plan = [ln for ln in log.getvalue().splitlines() if "(plan)" in ln]
    assert len(plan) == 1 and "2 worker(s) x 1 BLAS thread(s) (auto): about" in plan[0]


def test_progress_lines_when_not_a_terminal(tmp_path):
    log = io.StringIO()
    run_ensemble(tmp_path, L=[5], alpha=[1.0], samples=4, chunk=1, log_every=1e-9, log=log)
    lines = [x for x in log.getvalue().splitlines() if x.startswith("mbl-avalanche run: ")]
    assert len(lines) == 4
    assert lines[-1].startswith("mbl-avalanche run: 4/4 samples (100%, 0 failed)")
    assert "samples/min" in lines[-1] and "ETA 0s" in lines[-1]


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGINT, "2"), (signal.SIGTERM, "1")])
def test_ctrl_c_or_sigterm_stops_cleanly_and_keeps_finished(tmp_path, sig, workers):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "mbl_avalanche",
        "run",
        str(out),
        "--L",
        "7",
        "--alpha",
        "1",
        "--samples",
        "200",
        "--chunk",
        "1",
        "--workers",
        workers,
        "--no-progress",
    ]
    p = subprocess.Popen(cmd, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(shard_files(out)) < 3 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "interrupted; run the same command again to continue" in err
    assert "Traceback" not in err
    df = load_run(out)
    assert 3 <= len(df) < 200 and (df.status == "ok").all()
    assert df["sample"].is_unique
    n = len(df) + 2
    again = run_ensemble(out, L=[7], alpha=[1.0], samples=n, chunk=1, progress=False)
    # the finished samples were kept and are not redone
    assert again.computed_ok == len(set(range(n)) - set(df["sample"])) >= 2


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(tmp_path):
    term = _FakeTerminal()
    run_ensemble(tmp_path, L=[5], alpha=[1.0], samples=4, chunk=1, log=term)
    text = term.getvalue()
    assert "4/4" in text and "sample/s" in text and "100%" in text
    assert "mbl-avalanche run:" not in text  # the bar, not the plain lines


def test_concurrent_writers_share_one_directory(tmp_path, reference):
    # two SLURM-like shards and one unsharded run write into one directory at the same time
    out = tmp_path / "run"
    base = [
        sys.executable,
        "-m",
        "mbl_avalanche",
        "run",
        str(out),
        "--L",
        "5",
        "7",
        "--alpha",
        "30",
        "1",
        "--samples",
        "6",
        "--chunk",
        "2",
        "--no-progress",
    ]
    procs = [
        subprocess.Popen(base + extra, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
        for extra in (["--shard", "0/2"], ["--shard", "1/2"], [])
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    df = load_run(out)
    assert len(df) == len(reference)  # duplicates on disk, never in the table
    pd.testing.assert_frame_equal(drop_volatile(df), reference)


def test_progress_eta_weighs_samples_by_cost():
    import io

    from mbl_avalanche.ensemble.runner import Progress
    from mbl_avalanche.resources import sample_seconds

    assert sample_seconds(9) / sample_seconds(6) > 20  # measured: 31 (the cost model)
    buf = io.StringIO()
    # 10 cheap + 10 expensive samples; the 10 cheap ones are done first
    p = Progress(20, True, 0.0, buf, total_work=10 * 1.0 + 10 * 100.0)
    p.t0 -= 10.0  # 10 s elapsed for the cheap half
    p.update(10, 0, work=10.0)
    text = p.text()
    # naive sample-rate ETA would be 10 s; the cost-weighted one is 1000 s = 16m40s
    assert "ETA 16m40s" in text, text
