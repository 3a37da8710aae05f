"""Faults injected into real runs: a full disk, a read-only folder, a shard removed under a
running process, a worker killed as the out-of-memory killer does, a Dask worker lost mid-task,
a closed stdout pipe, and an unguarded script.  Each ends in a consistent store and at most a
one-line message, and the next run completes the grid with the uninterrupted run's table."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble
from mbl_avalanche.ensemble.store import scan, shard_files

GRID = dict(L=[5, 6], alpha=[30.0, 1.0], samples=8, chunk=2)
ARGS = ["--L", "5", "6", "--alpha", "30", "1", "--samples", "8", "--chunk", "2"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ref")
    run_ensemble(out, progress=False, **GRID)
    return drop_volatile(load_run(out))


def _cli(*args: str, shim: str = "", timeout: float = 180) -> subprocess.CompletedProcess:
    """``mbl-avalanche ARGS`` in a fresh process, after the Python lines ``shim`` (a fault)."""
    code = "\n".join(
        [
            "import sys",
            textwrap.dedent(shim),
            "from mbl_avalanche.cli import main",
            f"sys.exit(main({list(args)!r}))",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(p: subprocess.CompletedProcess) -> str:
    err = p.stderr.strip()
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in err.splitlines() if ln.startswith("mbl-avalanche: error:")]
    assert len(lines) == 1, p.stderr
    return lines[0]


def _consistent(out: Path) -> None:
    sc = scan(out)
    assert sc.corrupt == []
    keys = [(r["L"], r["alpha"], r["sample"]) for r in sc.records]
    assert len(keys) == len(set(keys))
    assert not list((out / "shards").glob(".tmp-*"))


def _finish_and_compare(out: Path, reference: pd.DataFrame) -> None:
    p = _cli("run", str(out), *ARGS, "--no-progress")
    assert p.returncode == 0, p.stderr
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)


#: os.fsync fails with ENOSPC from its N-th call on, as on a full disk
ENOSPC_SHIM = """
import errno, os
_real, _n = os.fsync, [0]
def _fsync(fd):
    _n[0] += 1
    if _n[0] > {after}:
        raise OSError(errno.ENOSPC, "No space left on device")
    return _real(fd)
os.fsync = _fsync
"""


def test_full_disk_write_shim(tmp_path, reference):
    out = tmp_path / "run"
    p = _cli("run", str(out), *ARGS, "--no-progress", shim=ENOSPC_SHIM.format(after=14))
    assert p.returncode == 2
    line = _one_line_error(p)
    assert "No space left on device [errno 28]" in line and "free some space" in line
    _consistent(out)
    assert 0 < len(load_run(out)) < 32  # what finished before the disk filled is kept
    _finish_and_compare(out, reference)


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if r.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the write shim covers ENOSPC")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


def test_full_disk_real_tmpfs(tmp_path, reference):
    # a 64 kB filesystem: the config, provenance and a few shards (8 kB each) fit, then
    # writes fail
    with _tmpfs(tmp_path / "small", "64k") as mnt:
        out = mnt / "run"
        p = _cli("run", str(out), *ARGS, "--no-progress")
        assert p.returncode == 2, p.stderr
        assert "[errno 28]" in _one_line_error(p)
        _consistent(out)
        done = load_run(out)
        merged = drop_volatile(done).merge(reference, how="left", indicator=True)
        assert (merged["_merge"] == "both").all()  # whatever was kept is exactly right
        # make room elsewhere: copy to a roomy folder and finish there
        subprocess.run(["cp", "-a", str(out), str(tmp_path / "moved")], check=True)
    _finish_and_compare(tmp_path / "moved", reference)


def test_read_only_run_directory(tmp_path, reference):
    with _tmpfs(tmp_path / "ro", "20m") as mnt:
        out = mnt / "run"
        run_ensemble(out, progress=False, L=[5], alpha=[30.0], samples=4, chunk=2)
        before = sorted(p.name for p in out.rglob("*"))
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        for args in (
            ["run", str(out), *ARGS, "--no-progress"],
            ["figures", str(out)],
            ["report", str(out)],
            ["reproduce", str(out), "--samples", "2"],
            ["table", str(out), "-o", str(out / "t.csv")],
        ):
            p = _cli(*args)
            assert p.returncode == 2, (args, p.stderr)
            line = _one_line_error(p)
            assert "read-only" in line.lower() or "cannot be written" in line, line
        assert sorted(p.name for p in out.rglob("*")) == before
        # readers still read it
        assert len(load_run(out)) == 4
        p = _cli("status", str(out))
        assert p.returncode == 0, p.stderr


def test_shard_removed_under_a_running_process(tmp_path, reference):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mbl_avalanche", "run", str(out), *ARGS, "--no-progress"]
    p = subprocess.Popen(cmd, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(shard_files(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = shard_files(out)[0]
    victim.unlink()
    _, err = p.communicate(timeout=180)
    assert p.returncode == 0 and "Traceback" not in err, err
    _consistent(out)
    assert len(load_run(out)) == 32 - 2  # the removed task's two samples are missing
    rerun = _cli("run", str(out), *ARGS, "--no-progress")
    assert rerun.returncode == 0 and "2 samples computed" in rerun.stderr, rerun.stderr
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)


def test_worker_killed_as_the_oom_killer_does(tmp_path, reference):
    import psutil

    out = tmp_path / "run"
    grid = ["--L", "5", "6", "7", "--alpha", "30", "1", "--samples", "8", "--chunk", "2"]
    cmd = [sys.executable, "-m", "mbl_avalanche", "run", str(out), *grid, "--workers", "2"]
    p = subprocess.Popen(
        [*cmd, "--no-progress"], env=subprocess_env(), stderr=subprocess.PIPE, text=True
    )
    driver = psutil.Process(p.pid)
    deadline = time.monotonic() + 60
    killed = None
    while killed is None and time.monotonic() < deadline and p.poll() is None:
        # the workers: children of the forkserver (not the forkserver or resource tracker);
        # a process listed can be gone a moment later (a helper that ended)
        with contextlib.suppress(psutil.NoSuchProcess):
            kids = [c for c in driver.children(recursive=True) if c.ppid() != driver.pid]
            if len(shard_files(out)) >= 2 and kids:
                kids[0].send_signal(signal.SIGKILL)
                killed = kids[0].pid
        time.sleep(0.01)
    assert killed is not None, "the run finished before a worker could be killed"
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "worker death(s) survived" in err and "Traceback" not in err, err
    _consistent(out)
    ref = tmp_path / "ref7"
    run_ensemble(ref, progress=False, L=[5, 6, 7], alpha=[30.0, 1.0], samples=8, chunk=2)
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), drop_volatile(load_run(ref)))


def test_dask_worker_lost_mid_task(tmp_path, reference):
    import dask
    from distributed import Client, LocalCluster

    from mbl_avalanche.ensemble.runner import WorkerDied

    out = tmp_path / "run"
    # allowed-failures 0: the task of a lost worker fails as a whole (KilledWorker) at once
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
            Client(cluster) as client,
        ):
            import threading

            def kill_one_worker_when_busy():
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    busy = {
                        w: t for w, t in client.processing().items() if t
                    }  # worker -> running task keys
                    if busy and shard_files(out):
                        addr = next(iter(busy))
                        pid = client.run(lambda: __import__("os").getpid(), workers=[addr])[addr]
                        __import__("os").kill(pid, signal.SIGKILL)
                        return
                    time.sleep(0.01)

            killer = threading.Thread(target=kill_one_worker_when_busy, daemon=True)
            killer.start()
            with pytest.raises(WorkerDied, match="KilledWorker") as ei:
                run_ensemble(out, progress=False, dask_scheduler=client, **GRID)
            killer.join(5)
    s = ei.value.summary
    assert s is not None and s.lost_samples >= 2 and s.computed_ok == 32 - s.lost_samples
    _consistent(out)
    _finish_and_compare(out, reference)


def test_closed_stdout_pipe(tmp_path):
    out = tmp_path / "run"
    run_ensemble(out, progress=False, L=[5, 6, 7], alpha=[30.0, 1.0, 2.0, 3.0], samples=2)
    env = subprocess_env()
    for sub in ("status", "table"):
        p = subprocess.run(
            f"{sys.executable} -m mbl_avalanche {sub} {out} | head -c 1",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            executable="/bin/bash",
        )
        assert "Traceback" not in p.stderr and "Error" not in p.stderr, p.stderr


def _python(script: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unguarded_script_gets_its_real_cause(tmp_path):
    # the README's snippet saved as a script without the main guard
    script = tmp_path / "ens.py"
    script.write_text(
        "from mbl_avalanche.ensemble import run_ensemble\n"
        f"run_ensemble({str(tmp_path / 'run')!r}, L=[5], alpha=[30.0], samples=4, chunk=1,\n"
        "             workers=2, progress=False)\n"
    )
    p = _python(script)
    assert p.returncode == 1
    assert 'if __name__ == "__main__":' in p.stderr and "line 2" in p.stderr, p.stderr
    assert "WorkerDied" not in p.stderr
    # under the guard it runs
    script.write_text(
        "from mbl_avalanche.ensemble import run_ensemble\n"
        "if __name__ == '__main__':\n"
        f"    run_ensemble({str(tmp_path / 'run')!r}, L=[5], alpha=[30.0], samples=4, chunk=1,\n"
        "                 workers=2, progress=False)\n"
    )
    p = _python(script)
    assert p.returncode == 0, p.stderr
    assert len(load_run(tmp_path / "run")) == 4


def test_unguarded_script_with_auto_workers_runs_in_one_process(tmp_path):
    """The default ``workers`` (auto) never fails on a missing main guard: the run is computed
    in the script's own process, with a line saying why."""
    script = tmp_path / "ens.py"
    script.write_text(
        "from mbl_avalanche.ensemble import run_ensemble, runner\n"
        "runner.AUTO_PARALLEL_MIN_SECONDS = 0.0  # as if the run were long\n"
        "s = run_ensemble("
        f"{str(tmp_path / 'run')!r}, L=[5], alpha=[30.0], samples=4, chunk=1, progress=False)\n"
        "print(s.executor, s.workers)\n"
    )
    p = _python(script)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["inline", "1"]
    assert "line 3" in p.stderr and 'if __name__ == "__main__":' in p.stderr, p.stderr
    assert len(load_run(tmp_path / "run")) == 4
