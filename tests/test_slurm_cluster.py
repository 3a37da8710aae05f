"""A real SLURM cluster: job arrays and Dask workers that SLURM starts give the inline tables.

The session fixture starts a single-node cluster on this host with ``tools/local-slurm``
(installing Debian's ``slurm-wlm`` and ``munge`` on first use; root only).  Tested:

* the script of ``mbl-avalanche slurm-script``, submitted with ``sbatch`` as it is printed: its
  array tasks share one run directory; array task 1 is cancelled with ``scancel`` while it
  computes (its state is ``CANCELLED``, some of its shards are written and some are not, the
  table is incomplete); the same script submitted again completes the run, and the table
  equals that of an uninterrupted inline run of the grid;
* ``dask_jobqueue.SLURMCluster`` with two one-core SLURM jobs as the Dask workers:
  ``run_ensemble(..., dask_scheduler=cluster)`` equals the inline run, and the workers ran
  inside SLURM jobs.

Every test is marked ``slurm`` (excluded from the default run)::

    python -m pytest -m slurm -q tests/test_slurm_cluster.py

Without root, or where SLURM cannot be installed (no apt-get, no network), the tests skip with
the reason.  Polls have deadlines, so a broken cluster fails a test instead of hanging it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import subprocess_env
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble
from mbl_avalanche.ensemble.config import make_config
from mbl_avalanche.ensemble.store import shard_files
from mbl_avalanche.ensemble.tasks import shard_slice, task_list

pytestmark = [pytest.mark.slurm]

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SLURM = ROOT / "tools" / "local-slurm"
BIN = Path(sys.executable).parent  # the venv's bin: mbl-avalanche of this checkout

#: The array test's grid (CLI flags and the same grid as run_ensemble keys).  L = 9 makes a
#: shard take seconds on two busy cores, long enough to cancel it while it computes.
ARGS = ["--L", "6", "9", "--alpha", "30", "1", "--samples", "24", "--chunk", "1"]
GRID = dict(L=[6, 9], alpha=[30.0, 1.0], samples=24, chunk=1)
ARRAY = 4
CANCELLED_TASK = 1


def _sh(*cmd: str, timeout: float = 60, check: bool = True) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=subprocess_env())
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr or p.stdout}")
    return p.stdout


def _wait(what: str, done, timeout: float, every: float = 0.05):
    """Poll ``done()`` until it is truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = done()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def _queued(job: str) -> str:
    return _sh("squeue", "-h", "-j", job, "-o", "%i %T", check=False)


def _states(job: str) -> dict[str, str]:
    """``{array task id: JobState}`` of a finished (or running) array job, from scontrol.

    There is no accounting database (sacct); slurmctld keeps a finished job MinJobAge seconds.
    """
    text = _sh("scontrol", "-o", "show", "job", job)
    return {
        m.group(2): m.group(3)
        for m in re.finditer(r"ArrayJobId=(\d+) ArrayTaskId=(\d+) .*?JobState=(\w+)", text)
    }


def _wait_job_end(job: str, timeout: float) -> dict[str, str]:
    _wait(f"job {job} to leave the queue", lambda: not _queued(job).strip(), timeout, every=0.5)
    return _states(job)


@pytest.fixture(scope="session")
def slurm_cluster() -> dict[str, str]:
    """A running local SLURM cluster (``tools/local-slurm``); ``{"version", "node", ...}``."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the local SLURM cluster needs Linux")
    if os.geteuid() != 0:
        pytest.skip("tools/local-slurm needs root (it installs and runs the SLURM daemons)")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("no apt-get to install SLURM and no SLURM installed")
    p = subprocess.run([str(LOCAL_SLURM)], capture_output=True, text=True, timeout=900)
    if p.returncode == 3:  # packages could not be installed (no network, no repository)
        pytest.skip(f"SLURM could not be installed: {p.stderr.strip().splitlines()[-1:]}")
    assert p.returncode == 0, f"tools/local-slurm failed ({p.returncode}):\n{p.stderr}"
    node = _sh("sinfo", "-h", "-N", "-o", "%N %c %m").split()
    return {
        "version": p.stdout.strip(),
        "node": node[0],
        "cpus": node[1],
        "memory_mib": node[2],
    }


@pytest.mark.timeout(600)
def test_sbatch_array_cancelled_then_resubmitted_equals_inline_run(slurm_cluster, tmp_path):
    """scancel of a computing array task loses nothing; resubmitting the script completes."""
    out = tmp_path / "run"
    (out / "slurm").mkdir(parents=True)  # the script's #SBATCH --output folder
    script = _sh(
        str(BIN / "mbl-avalanche"),
        "slurm-script",
        str(out),
        *ARGS,
        "--array",
        str(ARRAY),
        "--setup",
        f"export PATH={BIN}:$PATH",
    )
    assert f"#SBATCH --array=0-{ARRAY - 1}" in script
    job_file = tmp_path / "job.sh"
    job_file.write_text(script)

    cfg = make_config(**GRID)
    tasks = task_list(cfg.L, cfg.points(), cfg.samples, cfg.chunk, cfg.model)
    assert len(tasks) == 96
    mine = {t.name for t in shard_slice(tasks, (CANCELLED_TASK, ARRAY))}

    def done_names() -> set[str]:
        return {p.name.split("__")[0] for p in shard_files(out)}

    job = _sh("sbatch", "--parsable", str(job_file)).strip().split(";")[0]
    victim = f"{job}_{CANCELLED_TASK}"
    # cancel array task 1 while it computes: once it has written its first shard
    _wait(f"{victim} to run", lambda: "RUNNING" in _queued(victim), 120)
    _wait(f"a first shard of {victim}", lambda: done_names() & mine, 120, every=0.01)
    _sh("scancel", victim)
    states = _wait_job_end(job, 180)
    assert states[str(CANCELLED_TASK)] == "CANCELLED", states
    assert all(states[str(i)] == "COMPLETED" for i in range(ARRAY) if i != CANCELLED_TASK), states
    written = done_names() & mine
    assert 0 < len(written) < len(mine), "the cancel did not land while task 1 was computing"
    assert done_names() == {t.name for t in tasks if t.name not in mine} | written
    assert len(load_run(out)) < 96  # incomplete
    log = (out / "slurm" / f"{victim}.out").read_text()
    assert "CANCELLED" in log and "interrupted" in log, log  # SIGTERM: a clean stop

    # the uninterrupted reference, inline in this process (while nothing else is queued)
    ref = tmp_path / "ref"
    run_ensemble(ref, progress=False, **GRID)
    reference = drop_volatile(load_run(ref))
    assert len(reference) == 96

    again = _sh("sbatch", "--parsable", str(job_file)).strip().split(";")[0]
    states = _wait_job_end(again, 180)
    assert set(states.values()) == {"COMPLETED"}, states
    logs = {p.name: p.read_text() for p in (out / "slurm").glob(f"{again}_*.out")}
    assert len(logs) == ARRAY and not any("Traceback" in t for t in logs.values()), logs
    assert done_names() == {t.name for t in tasks}
    pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)


@pytest.mark.timeout(600)
def test_dask_jobqueue_slurm_cluster_equals_inline_run(slurm_cluster, tmp_path):
    """Dask workers started as SLURM jobs by dask-jobqueue compute the inline table."""
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    grid = dict(L=(6,), alpha=(30.0,), samples=8)
    ref = tmp_path / "ref"
    run_ensemble(ref, progress=False, **grid)
    reference = drop_volatile(load_run(ref))

    cpus = int(slurm_cluster["cpus"])
    n_jobs = min(2, cpus)  # one CPU per job: two jobs run at once only on a node with two CPUs
    per_job_mib = min(2048, int(slurm_cluster["memory_mib"]) // cpus)
    cluster = SLURMCluster(
        queue="debug",
        cores=1,
        processes=1,
        memory=f"{per_job_mib}MiB",
        walltime="00:10:00",
        python=sys.executable,
        job_name="mbl-dask",
        log_directory=str(tmp_path / "dask-logs"),
        local_directory=str(tmp_path / "dask-local"),
        job_script_prologue=[
            f"export PYTHONPATH={subprocess_env()['PYTHONPATH']}",
            "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
        ],
    )
    try:
        cluster.scale(jobs=n_jobs)
        with Client(cluster) as client:
            client.wait_for_workers(n_jobs, timeout=180)
            jobs = client.run(os.getenv, "SLURM_JOB_ID")  # {worker: its SLURM job}
            assert len(jobs) == n_jobs and all(jobs.values()), jobs
            queued = _sh("squeue", "-h", "-n", "mbl-dask", "-o", "%i %T").split()
            assert set(jobs.values()) <= set(queued[::2]) and "RUNNING" in queued, queued
            out = tmp_path / "dask"
            summary = run_ensemble(out, progress=False, dask_scheduler=cluster, **grid)
            assert summary.executor == "dask" and summary.computed_ok == 8, summary
        pd.testing.assert_frame_equal(drop_volatile(load_run(out)), reference)
    finally:
        cluster.close()
    # closing the cluster cancels its SLURM jobs
    _wait(
        "the Dask worker jobs to leave the queue",
        lambda: not _sh("squeue", "-h", "-n", "mbl-dask", check=False).strip(),
        60,
        every=0.5,
    )


def test_local_slurm_node_has_the_cpus_of_this_host(slurm_cluster):
    """The node is declared with the CPUs this process may use, whatever OMP_NUM_THREADS says."""
    assert int(slurm_cluster["cpus"]) == len(os.sched_getaffinity(0)), slurm_cluster
