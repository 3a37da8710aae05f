"""SLURM shards: disjoint deterministic slices, shard from the array environment, sbatch script."""

from __future__ import annotations

import pytest

from mbl_avalanche.cli import main
from mbl_avalanche.ensemble.slurm import parse_shard, shard_from_env, slurm_script
from mbl_avalanche.ensemble.tasks import auto_chunk, shard_slice, task_list
from mbl_avalanche.errors import InputError


def test_task_list_is_deterministic_and_shards_partition_it():
    tasks = task_list((6, 9), (30.0, 1.0), 400, 0)
    assert tasks == task_list((6, 9), (30.0, 1.0), 400, 0)
    samples = [(t.L, t.alpha, s) for t in tasks for s in range(t.start, t.stop)]
    assert len(samples) == len(set(samples)) == 2 * 2 * 400
    assert {t.stop - t.start for t in tasks if t.L == 9} == {auto_chunk(9, 400)} == {8}
    assert auto_chunk(6, 400) == 13 and auto_chunk(6, 10**4) == 200 and auto_chunk(12, 5) == 1
    assert [t.stop - t.start for t in task_list((7,), (1.0,), 10, 4)] == [4, 4, 2]
    for n in (1, 2, 3, 7, 1000):
        parts = [shard_slice(tasks, (i, n)) for i in range(n)]
        flat = sorted(t.index for p in parts for t in p)
        assert flat == list(range(len(tasks)))  # disjoint and covering
        sizes = [sum(t.stop - t.start for t in p) for p in parts]
        assert max(sizes) - min(sizes) <= 2 * 13  # balanced to within a task or two


def test_parse_shard_and_environment():
    assert parse_shard("3/8") == (3, 8)
    for bad in ("8/8", "1", "a/2", "-1/3", "1/0"):
        with pytest.raises(InputError, match="is not allowed"):
            parse_shard(bad)
    assert shard_from_env({}) is None
    assert shard_from_env({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "10"}) == (4, 10)
    assert shard_from_env(
        {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "10", "SLURM_ARRAY_TASK_MIN": "1"}
    ) == (4, 10)
    with pytest.raises(InputError):
        shard_from_env({"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_COUNT": "10"})


def test_run_takes_its_shard_from_slurm_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    out = tmp_path / "o"
    assert (
        main(
            [
                "run",
                str(out),
                "--L",
                "5",
                "--alpha",
                "1",
                "--samples",
                "9",
                "--chunk",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    from mbl_avalanche.ensemble import load_run

    assert load_run(out)["sample"].tolist() == [1, 4, 7]


def test_slurm_script(capsys):
    s = slurm_script(
        "runs/big",
        ["--L", "10", "--samples", "100"],
        array=50,
        max_L=10,
        cpus_per_task=4,
        time="02:00:00",
        partition="cpu",
        max_running=10,
        setup="source ~/venv/bin/activate",
    )
    lines = s.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --array=0-49%10" in lines and "#SBATCH --cpus-per-task=4" in lines
    assert "#SBATCH --partition=cpu" in lines and "#SBATCH --time=02:00:00" in lines
    mem = next(x for x in lines if x.startswith("#SBATCH --mem="))
    assert int(mem.split("=")[1].rstrip("M")) > 4 * 6 * 16 * 4**10 / 2**20
    assert lines[-1] == (
        "mbl-avalanche run runs/big --L 10 --samples 100 "
        '--workers "${SLURM_CPUS_PER_TASK:-1}" --no-progress'
    )
    assert "source ~/venv/bin/activate" in lines
    assert (
        main(
            [
                "slurm-script",
                "out dir",
                "--L",
                "9",
                "10",
                "--alpha",
                "30",
                "--samples",
                "1000",
                "--array",
                "20",
                "--save-arrays",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "#SBATCH --array=0-19\n" in text
    assert (
        "mbl-avalanche run 'out dir' --L 9 10 --alpha 30.0 --samples 1000 --save-arrays "
        '--workers "${SLURM_CPUS_PER_TASK:-1}" --no-progress'
    ) in text
    assert (
        main(["slurm-script", "o", "--L", "9", "--alpha", "30", "--samples", "-1", "--array", "2"])
        == 2
    )
    assert (
        main(["slurm-script", "o", "--L", "9", "--alpha", "30", "--samples", "1", "--array", "0"])
        == 2
    )


def test_time_request_covers_the_slowest_shard_of_indivisible_tasks(capsys):
    """A shard's tasks are not divisible over its workers: it takes at least its longest task."""
    from mbl_avalanche.ensemble.config import make_config
    from mbl_avalanche.ensemble.slurm import shard_seconds, slurm_duration
    from mbl_avalanche.resources import sample_seconds

    cfg = make_config(L=[14], alpha=[30.0], samples=4)
    one = sample_seconds(14)
    assert shard_seconds(cfg, 4, workers=8) == pytest.approx(one)  # one sample per shard
    assert shard_seconds(cfg, 1, workers=2) == pytest.approx(2 * one)  # 4 samples, 2 workers
    assert (
        main(
            [
                "slurm-script",
                "o",
                "--L",
                "14",
                "--alpha",
                "30",
                "--samples",
                "4",
                "--array",
                "4",
                "--cpus-per-task",
                "8",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert f"#SBATCH --time={slurm_duration(2 * one + 600)}" in lines
    assert slurm_duration(59) == "00:01:00" and slurm_duration(90061) == "1-01:02:00"
