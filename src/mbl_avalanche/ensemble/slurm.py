"""SLURM job arrays: shards of a run and a ready ``sbatch`` script.

Array task ``I`` of ``N`` runs ``mbl-avalanche run OUTDIR ... --shard I/N`` (or just ``run``:
the shard defaults to ``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`` of
``SLURM_ARRAY_TASK_COUNT``).  Shard ``I/N`` computes the tasks at positions ``I mod N`` of the
deterministic task list, a disjoint slice; all array tasks write into the same run directory on
the shared filesystem.  A resubmitted array (after a time limit or a crash) continues.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence

from ..errors import InputError
from ..resources import MAX_NODE_MEMORY, format_bytes, sample_memory_bytes, sample_seconds
from .config import RunConfig
from .tasks import task_list

__all__ = [
    "SLURM_TIME_FORMATS",
    "array_size",
    "check_shard",
    "check_slurm_time",
    "parse_shard",
    "shard_from_env",
    "shard_seconds",
    "slurm_duration",
    "slurm_script",
]


def check_shard(shard: object) -> tuple[int, int]:
    """Validate ``(i, n)`` with ``0 <= i < n``."""
    try:
        a, b = shard  # type: ignore[misc]  # any pair of integer-likes
        i, n = int(a), int(b)  # type: ignore[has-type]
    except (TypeError, ValueError):
        raise InputError(f"shard={shard!r} is not allowed: give I/N with 0 <= I < N") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"shard={i}/{n} is not allowed: give I/N with 0 <= I < N")
    return i, n


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``."""
    parts = str(text).split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--shard {text!r} is not allowed: give I/N with 0 <= I < N, e.g. 0/4")
    return check_shard((int(parts[0]), int(parts[1])))


def shard_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The shard of a SLURM array task from its environment, or None outside an array."""
    env = os.environ if env is None else env
    tid, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if tid is None or count is None:
        return None
    try:
        i = int(tid) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        n = int(count)
    except ValueError:
        raise InputError(
            f"SLURM_ARRAY_TASK_ID={tid!r} / SLURM_ARRAY_TASK_COUNT={count!r} are "
            "not integers; give --shard I/N"
        ) from None
    return check_shard((i, n))


#: The time formats of ``sbatch --time`` (``man sbatch``): minutes, minutes:seconds,
#: hours:minutes:seconds, days-hours, days-hours:minutes, days-hours:minutes:seconds.
SLURM_TIME_FORMATS = ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS")

_SLURM_TIME = re.compile(r"(?:(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?|(\d+)(?::(\d+)(?::(\d+))?)?)")


def check_slurm_time(text: object) -> str:
    """Validate a SLURM time limit in one of :data:`SLURM_TIME_FORMATS` (the leading field any
    number of digits; minutes and seconds after it below 60, hours after a day below 24)."""
    allowed = f"use one of {', '.join(SLURM_TIME_FORMATS)}, e.g. 90, 12:00:00 or 2-00:00:00"
    t = str(text).strip()
    m = _SLURM_TIME.fullmatch(t)
    if not isinstance(text, str) or m is None:
        raise InputError(f"--time {text!r} is not allowed: {allowed}")
    days, d_hours, d_min, d_sec, _, f2, f3 = m.groups()
    if days is not None:
        bad = int(d_hours) >= 24 or any(v is not None and int(v) >= 60 for v in (d_min, d_sec))
    elif f3 is not None:  # HH:MM:SS
        bad = int(f2) >= 60 or int(f3) >= 60
    else:  # MM or MM:SS
        bad = f2 is not None and int(f2) >= 60
    if bad:
        raise InputError(
            f"--time {text!r} is not allowed: minutes and seconds after the first field must be "
            f"below 60 and hours after a day below 24 ({allowed})"
        )
    return t


def array_size(cfg: RunConfig, array: int) -> tuple[int, str | None]:
    """``(array, note)``: the number of array tasks, at most the run's task count (an array task
    beyond it would have nothing to do), and a one-line note when ``array`` was lowered."""
    if isinstance(array, bool) or not isinstance(array, int) or array < 1:
        raise InputError(f"--array {array!r} is not allowed: it must be an integer >= 1")
    n = len(task_list(cfg.L, cfg.points(), cfg.samples, cfg.chunk, cfg.model))
    if array > max(n, 1):
        return max(n, 1), (
            f"warning: --array {array} exceeds the {n} tasks of this run; using --array "
            f"{max(n, 1)} (a shard gets whole tasks; lower --chunk for more shards)"
        )
    return array, None


def slurm_duration(seconds: float) -> str:
    """``seconds`` (rounded up to a minute) as a SLURM time, ``HH:MM:SS`` or ``D-HH:MM:SS``."""
    minutes = max(1, math.ceil(seconds / 60.0))
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00" if days else f"{hours:02d}:{mins:02d}:00"


def shard_seconds(cfg: RunConfig, array: int, workers: int = 1) -> float:
    """Estimated wall seconds of the slowest of ``array`` shards of ``cfg`` on ``workers``.

    Each shard's tasks (:func:`~mbl_avalanche.ensemble.tasks.task_list`, costs from the cost
    model :func:`mbl_avalanche.resources.sample_seconds` with ``cfg.threads`` BLAS threads) are
    indivisible: they are placed longest first on the least loaded of ``workers`` workers, so a
    shard never takes less than its longest task.
    """
    threads = cfg.threads or 1
    costs: list[list[float]] = [[] for _ in range(array)]
    for t in task_list(cfg.L, cfg.points(), cfg.samples, cfg.chunk, cfg.model):
        costs[t.index % array].append((t.stop - t.start) * sample_seconds(t.L, threads, cfg.model))
    worst = 0.0
    for shard in costs:
        loads = [0.0] * max(1, min(workers, len(shard)))  # idle workers change nothing
        for c in sorted(shard, reverse=True):
            loads[loads.index(min(loads))] += c
        worst = max(worst, max(loads))
    return worst


def slurm_script(
    outdir: str,
    run_args: Sequence[str],
    *,
    array: int,
    max_L: int,
    model: str = "floquet",
    cpus_per_task: int = 1,
    time: str | None = None,
    shard_seconds: float | None = None,
    partition: str | None = None,
    account: str | None = None,
    max_running: int | None = None,
    setup: str | None = None,
    job_name: str = "mbl-avalanche",
) -> str:
    """A bash ``sbatch`` script for an array of ``array`` shards of ``mbl-avalanche run``.

    ``run_args`` are the run's grid arguments (``--L ... --alpha ... --samples ...`` or
    ``--config FILE``); ``--workers`` is set to ``SLURM_CPUS_PER_TASK`` and the shard comes from
    the array environment.  The memory request is the estimated peak of ``cpus_per_task``
    samples of ``model`` at ``max_L`` (:func:`mbl_avalanche.resources.sample_memory_bytes`) plus
    25 %.  The
    time request is ``time`` if given, else twice ``shard_seconds`` (the estimated wall time of
    the slowest shard on ``cpus_per_task`` workers, :func:`shard_seconds`) plus 10 minutes, else
    24 hours.
    """
    if array < 1:
        raise InputError(f"--array={array} is not allowed: it must be an integer >= 1")
    if cpus_per_task < 1:
        raise InputError(f"--cpus-per-task={cpus_per_task} is not allowed: it must be >= 1")
    if max_running is not None and max_running < 1:
        raise InputError(f"--max-running {max_running} is not allowed: it must be >= 1")
    for flag, value in (("--partition", partition), ("--account", account)):
        if value is not None and (not value or any(c.isspace() for c in value)):
            raise InputError(f"{flag} {value!r} is not allowed: give a SLURM name (no spaces)")
    if time is not None:
        time = check_slurm_time(time)
    mem_bytes = 1.25 * cpus_per_task * sample_memory_bytes(max_L, model)
    if mem_bytes > MAX_NODE_MEMORY:
        who = (
            f"L={max_L}" if cpus_per_task == 1 else f"--cpus-per-task {cpus_per_task} at L={max_L}"
        )
        raise InputError(
            f"{who} is not allowed for slurm-script: {cpus_per_task} sample(s) at L={max_L} "
            f"need about {format_bytes(mem_bytes)} per array task (with 25% headroom), more "
            f"than any node holds (at most {format_bytes(MAX_NODE_MEMORY)})"
        )
    mem_mib = int(mem_bytes / 2**20) + 1
    estimate = []
    if time is None and shard_seconds is not None:
        time = slurm_duration(2.0 * shard_seconds + 600.0)
        estimate = [
            f"# Time limit: 2 x the estimated {slurm_duration(shard_seconds)} of the slowest "
            "shard + 10 min (the cost model",
            "# of mbl_avalanche.resources, measured on a 2-core Xeon; give --time to override).",
        ]
    time = time or "24:00:00"
    rng = f"0-{array - 1}" + (f"%{max_running}" if max_running else "")
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --array={rng}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={cpus_per_task}",
        f"#SBATCH --mem={mem_mib}M",
        f"#SBATCH --time={time}",
        f"#SBATCH --output={outdir}/slurm/%A_%a.out",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    lines += [
        f"# {array} shards; estimated peak memory {format_bytes(mem_mib * 2**20)} per array task"
        f" (L <= {max_L}).",
        *estimate,
        "# Submit with: mkdir -p " + shlex.quote(outdir + "/slurm") + " && sbatch THIS_FILE",
        "# Resubmit the same script to finish shards that hit the time limit: done samples",
        "# are skipped.  Watch with: mbl-avalanche status " + shlex.quote(outdir),
        "set -euo pipefail",
    ]
    if setup:
        lines.append(setup)
    lines += [
        "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
        "# the shard (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT) is read from the environment",
        "mbl-avalanche run "
        + " ".join(shlex.quote(a) for a in [outdir, *run_args])
        + ' --workers "${SLURM_CPUS_PER_TASK:-1}" --no-progress',
    ]
    return "\n".join(lines) + "\n"
