"""Run an ensemble: compute every missing sample of an ``(L, alpha)`` grid into a run directory.

:func:`run_ensemble` is resumable and idempotent: it reads what the run directory already holds,
computes only the samples of its task slice that are not finished (a failed sample counts as
finished unless ``retry_failed``), and saves each finished task as one shard (see
:mod:`~mbl_avalanche.ensemble.store`).  Killing it at any moment loses at most the tasks being
computed; running it again continues.  Raising ``samples`` adds only the new samples.

Shared run directories: several calls (processes of one host, SLURM array tasks on many hosts)
may fill one directory at once.  Each task is claimed before it is computed
(:mod:`~mbl_avalanche.ensemble.claims`: an atomically created claim file with a heartbeat, taken
over when its holder dies), so no task is computed twice while its claim is live; a call that
has done its own tasks waits for those held by others.  Before a shard is written the call
reads the shards other processes wrote meanwhile and stores only samples none of them holds,
so no sample is stored twice.

A worker process that dies (the out-of-memory killer, ``kill -9``) costs only its task: the pool
is rebuilt and the tasks in flight are started again, one at a time (a task whose worker dies
twice while it runs alone is given up: the call saves everything else and raises
:class:`WorkerDied` naming the cause).  A task Dask loses as a
whole (``KilledWorker``) is not recorded either: its samples stay to do.

Parallelism on one machine: ``workers`` processes, each sample with ``threads`` BLAS threads.
The default ``workers = 0`` is the layout measured best (one process per core, one BLAS thread
each; one process for a run of under :data:`AUTO_PARALLEL_MIN_SECONDS`: :func:`plan_workers`).
An explicit ``workers`` is lowered so that ``workers * threads <= cores`` and so that the
estimated memory of ``workers`` samples at the largest ``L`` fits in available RAM (if even one
does not fit, an :class:`InputError` is raised).  ``backend = "gpu"``: ``per_gpu`` processes per
visible GPU, each pinned to one (:func:`plan_gpu_workers`).  Ctrl-C (or SIGTERM from a batch
system) stops cleanly: finished tasks are kept, running ones are abandoned.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .. import record
from ..backend import gpu_devices
from ..errors import InputError
from ..resources import (
    available_memory_bytes,
    cpu_count,
    format_bytes,
    gpu_sample_seconds,
    sample_memory_bytes,
    sample_seconds,
    samples_per_gpu,
    usable_threads,
)
from . import store
from .claims import STALE_AFTER_S, ClaimBook
from .config import RunConfig, make_config
from .executors import (
    DaskExecutor,
    InlineExecutor,
    LocalExecutor,
    WorkerLost,
    unguarded_main_line,
)
from .slurm import check_shard
from .tasks import (
    Task,
    TaskSpec,
    compute_task,
    injected_failures,
    shard_slice,
    task_list,
)

__all__ = [
    "AUTO_PARALLEL_MIN_SECONDS",
    "Progress",
    "RunSummary",
    "WorkerDied",
    "check_user_model",
    "format_duration",
    "plan_workers",
    "run_ensemble",
]


class WorkerDied(RuntimeError):
    """Worker processes died (killed, out of memory) on some task again and again, or Dask lost
    its workers: those samples were not computed; every other one is saved (``summary``)."""

    summary: RunSummary | None = None


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
    done_by_others : int
        Tasks this call found stored by another process when it came to them.
    duplicates_dropped : int
        Samples this call computed but did not store because another process had stored them
        first (only when a claim was taken over from a process that was not dead after all).
    held_by_others : int
        Samples of the slice left to other processes (``wait_for_others=False``).
    taken_over : int
        Stale claims (of processes that died) this call took over.
    worker_deaths : int
        Times a local worker process died and the pool was rebuilt.
    lost_samples : int
        Samples not computed because their worker kept dying (see :class:`WorkerDied`).
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
    done_by_others: int = 0
    duplicates_dropped: int = 0
    held_by_others: int = 0
    taken_over: int = 0
    worker_deaths: int = 0
    lost_samples: int = 0

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
        notes = []
        if self.taken_over:
            notes.append(f"{self.taken_over} stale claim(s) taken over")
        if self.worker_deaths:
            notes.append(f"{self.worker_deaths} worker death(s) survived")
        if self.held_by_others:
            notes.append(f"{self.held_by_others} samples left to other processes")
        if self.duplicates_dropped:
            notes.append(f"duplicates dropped: {self.duplicates_dropped}")
        if notes:
            s += " (" + "; ".join(notes) + ")"
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


#: With the default ``workers = 0`` ("auto") a run whose estimated work (cost model,
#: :func:`~mbl_avalanche.resources.sample_seconds`, one thread) is below this many seconds is
#: computed in this process: starting worker processes (about a second each, importing NumPy and
#: SciPy) would cost more than they save.
AUTO_PARALLEL_MIN_SECONDS = 20.0


def plan_workers(
    cfg: RunConfig, max_L: int, log: TextIO, work: float = math.inf
) -> tuple[int, int]:
    """``(workers, threads)``: cores and memory permitting (see module docstring).

    ``cfg.workers = 0`` (the default, "auto") is the layout measured best at every L = 9..12
    (``benchmarks/throughput_grid.py``, docs/performance.md, Ensembles): one process per core,
    as many as the memory of a sample at ``max_L`` allows, each sample on ``cfg.threads`` BLAS
    threads (``threads = 0`` then gives each sample the cores the memory limit leaves idle);
    below :data:`AUTO_PARALLEL_MIN_SECONDS` of estimated ``work`` (seconds on one thread) one
    process, this one.  An explicit ``cfg.workers`` is lowered so that ``workers x threads <=
    cores`` and the samples in flight fit in the available memory, with a line on ``log``
    saying so.
    """
    cores = cpu_count()
    need = sample_memory_bytes(max_L, cfg.model)
    have = available_memory_bytes()
    fit = int(have // need)
    if fit < 1:
        raise InputError(
            f"L={max_L} is not allowed here: one sample needs about "
            f"{format_bytes(need)} but this machine has {format_bytes(have)} "
            "available"
        )
    if cfg.workers == 0:
        workers = 1 if work < AUTO_PARALLEL_MIN_SECONDS else max(1, min(cores, fit))
        if workers > 1 and unguarded_main_line() is not None:
            path, line = unguarded_main_line() or ("", 0)
            print(
                f"mbl-avalanche run: one process: the call at line {line} of {path!r} is not "
                "under 'if __name__ == \"__main__\":', which worker processes need",
                file=log,
            )
            workers = 1
        threads, note = usable_threads(cfg.threads, workers)
        if note:
            print(f"mbl-avalanche: warning: {note}", file=log)
        return max(1, min(workers, cores // threads)), threads
    workers = cfg.workers
    threads, note = usable_threads(cfg.threads, workers)
    if note:
        print(f"mbl-avalanche: warning: {note}", file=log)
    if workers * threads > cores:
        new = max(1, cores // threads)
        print(
            f"mbl-avalanche run: {workers} workers x {threads} BLAS threads exceed {cores} "
            f"cores; using {new} worker(s)",
            file=log,
        )
        workers = new
    if workers > fit:
        print(
            f"mbl-avalanche run: {workers} workers at L={max_L} need about "
            f"{format_bytes(workers * need)} but {format_bytes(have)} is available; using "
            f"{fit} worker(s)",
            file=log,
        )
        workers = fit
    return workers, threads


def plan_gpu_workers(cfg: RunConfig, max_L: int, log: TextIO) -> tuple[int, int, tuple[str, ...]]:
    """``(workers, threads, devices)`` of a ``backend = "gpu"`` run: ``per_gpu`` worker
    processes on each visible GPU (``per_gpu = 0``: :func:`~mbl_avalanche.resources.
    samples_per_gpu` of ``max_L`` and the smallest device's memory: several samples in flight
    where one cannot fill a device, L <= 12), each worker pinned to one device
    (``CUDA_VISIBLE_DEVICES``); an explicit ``workers`` caps the total.  ``threads``: host BLAS
    threads per sample (the small cluster problems and the Schur fallback run there)."""
    gpus = gpu_devices()
    per = cfg.per_gpu or samples_per_gpu(max_L, min(mem for _, mem in gpus))
    workers = len(gpus) * per
    if cfg.workers:
        workers = min(workers, cfg.workers)
    threads, note = usable_threads(cfg.threads or 1, 1)
    if note:
        print(f"mbl-avalanche: warning: {note}", file=log)
    return workers, threads, tuple(name for name, _ in gpus)


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


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (in the main thread) until the block is done: a shard written
    is then always counted in the summary before the interrupt is raised."""
    main = threading.current_thread() is threading.main_thread()
    sigs = {signal.SIGINT, signal.SIGTERM}
    if not main or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _StoreView:
    """The finished samples of a run directory for one configuration, kept up to date as other
    processes add shards (only shards not seen before are read)."""

    def __init__(self, out: Path, cfg: RunConfig) -> None:
        self.out, self.cfg = out, cfg
        self.known: set[str] = set()
        self.finished: set[tuple[Any, ...]] = set()
        self.identity = store.record_identity(cfg)

    def add(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if store.identity_of(rec) != self.identity:
                continue  # another setting's sample (refused at init_run; never counted)
            if rec.get("status") == "ok" or not self.cfg.retry_failed:
                self.finished.add(record.record_key(rec))

    def initial(self) -> store.Scan:
        sc = store.scan(self.out, quarantine=True)
        self.known.update(str(r["shard"]) for r in sc.records)
        self.known.update(name for name, _ in sc.corrupt)
        self.add(sc.records)
        return sc

    def refresh(self) -> None:
        for p in store.shard_files(self.out):
            if p.name in self.known:
                continue
            self.known.add(p.name)
            try:
                _, records = store.read_shard(p)
            except (store.CorruptShard, OSError):  # gone meanwhile, or damaged: the next scan
                continue
            self.add(records)

    def missing(self, task: Task, samples: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(s for s in samples if task.key(s) not in self.finished)


def run_ensemble(
    outdir: str | Path,
    *,
    config: RunConfig | None = None,
    config_file: str | Path | None = None,
    shard: tuple[int, int] | None = None,
    dask_scheduler: Any = None,
    progress: bool = True,
    log: TextIO | None = None,
    claim_timeout: float = STALE_AFTER_S,
    wait_for_others: bool = True,
    poll: float = 2.0,
    **keys: Any,
) -> RunSummary:
    """Compute the missing samples of a grid into ``outdir``; returns a :class:`RunSummary`.

    Several calls may share one run directory at once (processes of one host, or SLURM array
    tasks on the hosts of a shared filesystem): each task is claimed before it is computed
    (:mod:`~mbl_avalanche.ensemble.claims`), so the calls share the grid and no task is
    computed twice while its claim is live; no sample is stored twice.

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
    claim_timeout : float
        Seconds without a heartbeat after which another host's claim on a task is stale and
        taken over (a claim of a dead process of this host is taken over at once).
    wait_for_others : bool
        When the call's own tasks are done, wait for the tasks of its slice that other
        processes hold (taking them over if their holder dies), so that a call that returns
        has its slice complete; False: return at once (``summary.held_by_others``).
    poll : float
        Seconds between two looks at tasks held by others.
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
        A local worker process died (killed, out of memory) twice while computing some task
        alone, or Dask lost a task's workers: every other task was computed and saved first;
        the message names the cause, ``exc.summary`` holds the counts.
    """
    log = log or sys.stderr
    cfg = config if config is not None else make_config(config_file, **keys)
    if shard is not None:
        shard = check_shard(shard)
    if not (math.isfinite(float(claim_timeout)) and float(claim_timeout) > 0):
        raise InputError(f"claim_timeout={claim_timeout!r} is not allowed: give seconds > 0")
    check_user_model(cfg)
    scheduler_given = dask_scheduler is not None or bool(cfg.dask_scheduler)
    if cfg.backend == "gpu" and not scheduler_given:
        gpu_devices()  # no CuPy or no device: a one-line InputError before anything is written
    out = Path(outdir)
    store.init_run(out, cfg, log=log)
    store.remove_stale_temporaries(out)
    run_id = store.new_run_id()
    t0 = time.monotonic()

    view = _StoreView(out, cfg)
    sc = view.initial()
    for name, why in sc.corrupt:
        print(
            f"mbl-avalanche run: corrupt shard {name} ({why}): moved to shards/corrupt/, "
            "its samples are redone",
            file=log,
        )

    tasks = shard_slice(task_list(cfg.L, cfg.points(), cfg.samples, cfg.chunk, cfg.model), shard)
    planned = sum(t.stop - t.start for t in tasks)
    todo: list[tuple[Task, tuple[int, ...]]] = []
    for t in tasks:
        missing = view.missing(t, tuple(range(t.start, t.stop)))
        if missing:
            todo.append((t, missing))
    n_todo = sum(len(m) for _, m in todo)

    scheduler = dask_scheduler if dask_scheduler is not None else (cfg.dask_scheduler or None)
    devices: tuple[str, ...] = ()
    if scheduler is not None:
        workers, threads = 0, cfg.threads or 1
    elif todo and cfg.backend == "gpu":
        workers, threads, devices = plan_gpu_workers(cfg, max(t.L for t, _ in todo), log)
    elif todo:
        work1 = sum(len(m) * sample_seconds(t.L, 1, cfg.model) for t, m in todo)
        workers, threads = plan_workers(cfg, max(t.L for t, _ in todo), log, work1)
    else:
        workers, threads = 1, cfg.threads or 1

    def spec_of(t: Task, m: tuple[int, ...]) -> TaskSpec:
        return TaskSpec(
            task=t,
            samples=m,
            seed=cfg.seed,
            gue_scale=cfg.gue_scale,
            layer_order=cfg.layer_order,
            method=cfg.method,
            threads=threads,
            save_arrays=cfg.save_arrays,
            inject=injected_failures(),
            backend=cfg.backend,
        )

    if scheduler is not None:
        executor: Any = DaskExecutor(scheduler)
        workers = executor.n_workers()
    elif workers > 1 and len(todo) > 1:
        workers = min(workers, len(todo))
        executor = LocalExecutor(workers, devices)
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

    def cost(L: int) -> float:
        """Estimated seconds of one sample (the cost model of the backend)."""
        if cfg.backend == "gpu":
            return gpu_sample_seconds(L)
        return sample_seconds(L, threads, cfg.model)

    work = sum(len(m) * cost(t.L) for t, m in todo)
    # samples sharing a device share its time: the GPU's lanes are the devices, not workers
    lanes = max(1, len(devices)) if devices else max(workers, 1)
    if progress and n_todo:
        wall = format_duration(work / lanes)
        where = f" on {len(devices)} GPU(s)" if devices else ""
        print(
            f"mbl-avalanche run (plan): {n_todo} samples to compute on {max(workers, 1)} "
            f"worker(s) x {threads} BLAS thread(s){where}"
            f"{' (auto)' if cfg.workers == 0 else ''}: "
            f"about {wall} (cost model, mbl_avalanche.resources)",
            file=log,
        )
    bar = Progress(n_todo, progress, cfg.log_every, log, total_work=work)
    book = ClaimBook(out, run_id, stale_after=float(claim_timeout))
    lost: list[str] = []
    cancel = False

    def claimed(pending: list[tuple[Task, tuple[int, ...]]], deferred: list[Any]) -> Any:
        """The specs of the pending tasks this call claims, in order, claimed lazily."""
        for t, m in pending:
            if not book.try_claim(t.name):
                deferred.append((t, m))
                continue
            view.refresh()
            m = view.missing(t, m)
            if not m:  # stored by another process meanwhile
                book.release(t.name)
                summary.done_by_others += 1
                continue
            yield spec_of(t, m)

    try:
        pending = todo
        waited_for: set[str] = set()
        while pending:
            deferred: list[tuple[Task, tuple[int, ...]]] = []
            for spec, output in executor.run(compute_task, claimed(pending, deferred)):
                name = spec.task.name
                if isinstance(output, BaseException):
                    if not isinstance(output, WorkerLost):
                        output = WorkerLost(f"{type(output).__name__}: {output}")
                    lost.append(f"task {name}: {output}")
                    summary.lost_samples += len(spec.samples)
                    book.release(name)
                    continue
                view.refresh()  # never store a sample another process stored first
                keep = [r for r in output.records if record.record_key(r) not in view.finished]
                arrays = output.arrays
                if arrays is not None:
                    arrays = {
                        int(r["sample"]): arrays[int(r["sample"])]
                        for r in keep
                        if int(r["sample"]) in arrays
                    }
                dropped = len(output.records) - len(keep)
                ok = sum(r.get("status") == "ok" for r in keep)
                with _signals_held():  # a Ctrl-C/SIGTERM lands after the shard is counted
                    if keep:
                        path = store.write_shard(
                            out, name, run_id, spec.task.L, dict(spec.task.point), keep, arrays
                        )
                        view.known.add(path.name)
                        view.add(keep)
                    summary.duplicates_dropped += dropped
                    summary.computed_ok += ok
                    summary.computed_failed += len(keep) - ok
                book.release(name)
                bar.update(
                    ok + dropped,
                    len(keep) - ok,
                    work=len(output.records) * cost(spec.task.L),
                )
            view.refresh()
            pending = [(t, view.missing(t, m)) for t, m in deferred]
            pending = [(t, m) for t, m in pending if m]
            if pending and not wait_for_others:
                summary.held_by_others = sum(len(m) for _, m in pending)
                break
            if pending:
                names = {t.name for t, _ in pending}
                if not names <= waited_for and progress:
                    holders = sorted({book.holder(t.name) or "?" for t, _ in pending})
                    print(
                        f"mbl-avalanche run: waiting for {len(pending)} task(s) claimed by "
                        f"{', '.join(holders[:4])}{' ...' if len(holders) > 4 else ''} "
                        f"(taken over if a holder stops for {claim_timeout:g} s)",
                        file=log,
                    )
                waited_for |= names
                time.sleep(poll)
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
        if not cancel:
            with contextlib.suppress(OSError):
                book.sweep()  # stale claims of dead processes whose tasks are done
        book.close()
        summary.taken_over = len(book.taken_over)
        summary.elapsed = time.monotonic() - t0
    deaths = list(getattr(executor, "worker_deaths", []))
    summary.worker_deaths = len(deaths)
    if lost:
        err = WorkerDied(
            f"{summary.lost_samples} samples not computed: {lost[0]}"
            + (f" (and {len(lost) - 1} more task(s))" if len(lost) > 1 else "")
            + "; finished samples are kept, run again to continue"
        )
        err.summary = summary
        raise err
    return summary
