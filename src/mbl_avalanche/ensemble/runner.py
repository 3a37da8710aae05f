"""Run an ensemble: compute every missing sample of an ``(L, alpha)`` grid into a run directory.

:func:`run_ensemble` is resumable and idempotent: it reads what the run directory already holds,
computes only the samples of its task slice that are not finished (a failed sample counts as
finished unless ``retry_failed``), and saves each finished task as one shard (see
:mod:`~mbl_avalanche.ensemble.store`).  Killing it at any moment loses at most the tasks being
computed; running it again continues.  Raising ``samples`` adds only the new samples.

Parallelism on one machine: ``workers`` processes, each sample with ``threads`` BLAS threads;
``workers`` is lowered so that ``workers * threads <= cores`` and so that the estimated memory of
``workers`` samples at the largest ``L`` fits in available RAM (if even one does not fit, an
:class:`InputError` is raised).  Ctrl-C (or SIGTERM from a batch system) stops cleanly: finished
tasks are kept, running ones are abandoned.
"""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import InputError
from ..resources import (
    available_memory_bytes,
    cpu_count,
    format_bytes,
    sample_memory_bytes,
    sample_seconds,
)
from . import store
from .config import RunConfig, make_config
from .executors import DaskExecutor, InlineExecutor, LocalExecutor
from .slurm import check_shard
from .tasks import (
    TaskOutput,
    TaskSpec,
    compute_task,
    failed_record,
    injected_failures,
    shard_slice,
    task_list,
)

__all__ = [
    "Progress",
    "RunSummary",
    "WorkerDied",
    "check_user_model",
    "format_duration",
    "plan_workers",
    "run_ensemble",
]


class WorkerDied(RuntimeError):
    """A local worker process died (killed, out of memory); finished samples are kept."""


@dataclass
class RunSummary:
    """What one :func:`run_ensemble` call did.

    Attributes
    ----------
    outdir : str
        The run directory.
    run_id : str
        Id of this invocation (UTC time, host, pid, random part; names its shards).
    executor : {"inline", "local", "dask"}
        Where the samples were computed.
    workers, threads : int
        Worker processes (Dask: worker threads) and BLAS threads per sample.
    planned : int
        Samples in this call's slice of the grid.
    already_done : int
        Of those, finished before this call.
    computed_ok, computed_failed : int
        Samples this call analysed, successfully or not.
    interrupted : bool
        Stopped by Ctrl-C or SIGTERM (what finished is kept).
    elapsed : float
        Wall seconds of the call.
    corrupt_redone : int
        Corrupt shards found (moved aside; their samples redone).
    """

    outdir: str
    run_id: str
    executor: str
    workers: int
    threads: int
    planned: int = 0
    already_done: int = 0
    computed_ok: int = 0
    computed_failed: int = 0
    interrupted: bool = False
    elapsed: float = 0.0
    corrupt_redone: int = 0

    @property
    def remaining(self) -> int:
        """Samples of the slice still to compute."""
        return self.planned - self.already_done - self.computed_ok - self.computed_failed

    def line(self) -> str:
        rate = (self.computed_ok + self.computed_failed) / self.elapsed * 60 if self.elapsed else 0
        s = (
            f"{self.outdir}: {self.computed_ok} samples computed ({self.computed_failed} failed), "
            f"{self.already_done} already done, {self.remaining} left of {self.planned} "
            f"[{self.executor}, {self.workers} worker(s) x {self.threads} thread(s), "
            f"{self.elapsed:.1f} s, {rate:.1f} samples/min]"
        )
        if self.interrupted:
            s += " -- interrupted; run the same command again to continue"
        return s


def format_duration(s: float) -> str:
    """``1h02m03s`` / ``4m05s`` / ``6s`` (``?`` if not finite)."""
    if not math.isfinite(s):
        return "?"
    s = round(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class Progress:
    """A tqdm bar (rate, ETA) on a terminal; otherwise a plain line every ``every`` seconds.

    The ETA of the plain lines weighs each sample by its cost (``work``: the cost model's
    seconds, :func:`mbl_avalanche.resources.sample_seconds`), so a grid over several ``L`` is not
    estimated from the cheap samples that finish first.
    """

    def __init__(
        self,
        total: int,
        enabled: bool,
        every: float,
        stream: TextIO | None = None,
        total_work: float | None = None,
    ):
        self.total, self.enabled, self.every = total, enabled, every
        self.total_work = float(total_work) if total_work else float(total)
        self.work_done = 0.0
        self.stream = stream or sys.stderr
        self.done = self.failed = 0
        self.t0 = self.last = time.monotonic()
        self.bar = None
        if enabled and total and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit="sample", file=self.stream, smoothing=0.05, dynamic_ncols=True
            )

    def update(self, ok: int, failed: int, work: float | None = None) -> None:
        self.done += ok + failed
        self.failed += failed
        self.work_done += float(ok + failed) if work is None else float(work)
        if self.bar is not None:
            self.bar.update(ok + failed)
            if self.failed:
                self.bar.set_postfix(failed=self.failed)
        elif self.enabled and time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            print(self.text(), file=self.stream, flush=True)

    def text(self) -> str:
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        work_rate = self.work_done / el if el > 0 else 0.0
        left = max(self.total_work - self.work_done, 0.0)
        eta = left / work_rate if work_rate > 0 else float("inf")
        return (
            f"mbl-avalanche run: {self.done}/{self.total} samples "
            f"({100 * self.done / max(self.total, 1):.0f}%, {self.failed} failed), "
            f"{60 * rate:.1f} samples/min, elapsed {format_duration(el)}, "
            f"ETA {format_duration(eta)}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def plan_workers(cfg: RunConfig, max_L: int, log: TextIO) -> tuple[int, int]:
    """``(workers, threads)``: cores and memory permitting (see module docstring)."""
    cores = cpu_count()
    workers = cfg.workers
    threads = cfg.threads or max(1, cores // workers)
    if workers * threads > cores:
        new = max(1, cores // threads)
        print(
            f"mbl-avalanche run: {workers} workers x {threads} BLAS threads exceed {cores} "
            f"cores; using {new} worker(s)",
            file=log,
        )
        workers = new
    need = sample_memory_bytes(max_L, cfg.model)
    have = available_memory_bytes()
    fit = int(have // need)
    if fit < 1:
        raise InputError(
            f"L={max_L} is not allowed here: one sample needs about "
            f"{format_bytes(need)} but this machine has {format_bytes(have)} "
            "available"
        )
    if workers > fit:
        print(
            f"mbl-avalanche run: {workers} workers at L={max_L} need about "
            f"{format_bytes(workers * need)} but {format_bytes(have)} is available; using "
            f"{fit} worker(s)",
            file=log,
        )
        workers = fit
    return workers, threads


def check_user_model(cfg: RunConfig) -> None:
    """Build sample 0 of a user model at the run's smallest ``L`` and first grid point and check
    it (:func:`mbl_avalanche.models.custom.check_model_operator`): a model that returns a
    wrong-sized, non-Hermitian or non-unitary matrix stops the run with one line at once instead
    of failing every sample.  Built-in models are not checked (their tests do that)."""
    from ..models import make_model, resolve
    from ..models.custom import check_model_operator

    cls = resolve(cfg.model)
    if cls.__module__.startswith("mbl_avalanche."):
        return
    points = cfg.points()
    model = make_model(cfg.model, min(cfg.L), cfg.seed, dict(points[0]) if points else {})
    check_model_operator(model, 0)


def run_ensemble(
    outdir: str | Path,
    *,
    config: RunConfig | None = None,
    config_file: str | Path | None = None,
    shard: tuple[int, int] | None = None,
    dask_scheduler: Any = None,
    progress: bool = True,
    log: TextIO | None = None,
    **keys: Any,
) -> RunSummary:
    """Compute the missing samples of a grid into ``outdir``; returns a :class:`RunSummary`.

    Parameters
    ----------
    outdir : path
        Run directory (created if needed; reused runs must have the same seed and knobs).
    config : RunConfig, optional
        A ready configuration; otherwise one is built from ``config_file`` and ``keys``.
    config_file : path, optional
        TOML file of configuration keys (see :mod:`~mbl_avalanche.ensemble.config`).
    shard : (i, n), optional
        Compute only the tasks at positions ``i mod n`` of the deterministic task list.
    dask_scheduler : str, distributed.Client or cluster, optional
        Compute on this Dask cluster instead of locally (overrides ``config.dask_scheduler``).
    progress : bool
        Show a progress bar (terminal) or periodic log lines.
    log : text stream
        Where notes and progress go (default ``sys.stderr``).
    **keys
        Configuration keys: ``L``, ``alpha``, ``samples``, ``seed``, ``workers``, ``threads``,
        ``chunk``, ``save_arrays``, ``retry_failed``, ... (``None`` values are ignored).

    Returns
    -------
    RunSummary
        Counts of this call (planned, already done, computed ok/failed, remaining), the
        executor, workers and BLAS threads used, elapsed seconds and whether it was interrupted.

    Raises
    ------
    InputError
        Bad configuration, a run directory of another physics identity, or not enough memory
        for one sample.
    WorkerDied
        A local worker process died (killed, out of memory); what finished is kept.
    """
    log = log or sys.stderr
    cfg = config if config is not None else make_config(config_file, **keys)
    if shard is not None:
        shard = check_shard(shard)
    check_user_model(cfg)
    out = Path(outdir)
    store.init_run(out, cfg)
    store.remove_stale_temporaries(out)
    run_id = store.new_run_id()
    t0 = time.monotonic()

    sc = store.scan(out, quarantine=True)
    for name, why in sc.corrupt:
        print(
            f"mbl-avalanche run: corrupt shard {name} ({why}): moved to shards/corrupt/, "
            "its samples are redone",
            file=log,
        )
    finished: set[tuple[Any, ...]] = set()
    for key, rec in sc.best().items():
        if rec.get("status") == "ok" or not cfg.retry_failed:
            finished.add(key)

    tasks = shard_slice(task_list(cfg.L, cfg.points(), cfg.samples, cfg.chunk, cfg.model), shard)
    planned = sum(t.stop - t.start for t in tasks)
    todo = []
    for t in tasks:
        missing = tuple(s for s in range(t.start, t.stop) if t.key(s) not in finished)
        if missing:
            todo.append((t, missing))
    n_todo = sum(len(m) for _, m in todo)

    scheduler = dask_scheduler if dask_scheduler is not None else (cfg.dask_scheduler or None)
    if scheduler is not None:
        workers, threads = 0, cfg.threads or 1
    elif todo:
        workers, threads = plan_workers(cfg, max(t.L for t, _ in todo), log)
    else:
        workers, threads = 1, cfg.threads or 1
    specs = [
        TaskSpec(
            task=t,
            samples=m,
            seed=cfg.seed,
            gue_scale=cfg.gue_scale,
            layer_order=cfg.layer_order,
            method=cfg.method,
            threads=threads,
            save_arrays=cfg.save_arrays,
            inject=injected_failures(),
        )
        for t, m in todo
    ]

    if scheduler is not None:
        executor: Any = DaskExecutor(scheduler)
        workers = executor.n_workers()
    elif workers > 1 and len(specs) > 1:
        workers = min(workers, len(specs))
        executor = LocalExecutor(workers)
    else:
        executor = InlineExecutor()
        workers = 1
    summary = RunSummary(
        outdir=str(out),
        run_id=run_id,
        executor=executor.name,
        workers=workers,
        threads=threads,
        planned=planned,
        already_done=planned - n_todo,
        corrupt_redone=len(sc.corrupt),
    )
    store.write_provenance(
        out,
        run_id,
        store.provenance(
            {
                "run_id": run_id,
                "executor": executor.name,
                "workers": workers,
                "blas_threads_per_sample": threads,
                "shard": list(shard) if shard else None,
                "config": cfg.to_dict(),
            }
        ),
    )

    work = sum(len(sp.samples) * sample_seconds(sp.task.L, threads, cfg.model) for sp in specs)
    if progress and n_todo:
        wall = format_duration(work / max(workers, 1))
        print(
            f"mbl-avalanche run (plan): {n_todo} samples to compute on {max(workers, 1)} "
            f"worker(s) x {threads} BLAS thread(s): about {wall} "
            "(cost model, mbl_avalanche.resources)",
            file=log,
        )
    bar = Progress(n_todo, progress, cfg.log_every, log, total_work=work)
    cancel = False
    try:
        for spec, output in executor.run(compute_task, specs):
            if isinstance(output, BrokenProcessPool):
                raise WorkerDied(
                    "a worker process died (killed or out of memory?); finished "
                    "samples are kept, run again to continue"
                )
            if isinstance(output, BaseException):
                output = _failed_output(spec, output)
            store.write_shard(
                out,
                spec.task.name,
                run_id,
                spec.task.L,
                dict(spec.task.point),
                output.records,
                output.arrays,
            )
            ok = sum(r.get("status") == "ok" for r in output.records)
            summary.computed_ok += ok
            summary.computed_failed += len(output.records) - ok
            bar.update(
                ok,
                len(output.records) - ok,
                work=len(output.records) * sample_seconds(spec.task.L, threads, cfg.model),
            )
    except KeyboardInterrupt:
        cancel = True
        summary.interrupted = True
    except BaseException:
        cancel = True  # do not wait for queued tasks when the driver itself failed
        raise
    finally:
        bar.close()
        try:
            executor.shutdown(cancel=cancel)
        except KeyboardInterrupt:  # pragma: no cover - second Ctrl-C while shutting down
            summary.interrupted = True
        summary.elapsed = time.monotonic() - t0
    return summary


def _failed_output(spec: TaskSpec, exc: BaseException) -> TaskOutput:
    """Records for a task that failed as a whole (e.g. its Dask worker was lost)."""
    return TaskOutput(records=[failed_record(spec, s, exc) for s in spec.samples])
