"""Where tasks are computed: in the driver, in local worker processes, or on a Dask cluster.

Every executor takes the task specs as an iterable, which it consumes lazily (a few tasks
ahead of the free workers: the driver claims a task only when it is about to be computed,
:mod:`~mbl_avalanche.ensemble.claims`), and yields ``(spec, output)`` pairs as tasks finish, in
any order; the driver (the process that called
:func:`~mbl_avalanche.ensemble.runner.run_ensemble`) writes the shards, so workers never touch
the run directory.  A task that fails as a whole (its worker died, a Dask worker was lost)
yields ``(spec, WorkerLost(...))`` whose message names the cause; such a task is not recorded
(its samples stay to do).

* :class:`InlineExecutor` -- one worker: the driver computes the tasks itself.
* :class:`LocalExecutor` -- ``N`` processes (:class:`concurrent.futures.ProcessPoolExecutor`
  with the ``forkserver`` start method where available, else ``spawn``: no fork of a threaded
  BLAS).  Workers ignore SIGINT and SIGTERM (the driver handles
  Ctrl-C and batch-system stops, and kills them), and exit by themselves when the
  driver dies (killed with -9, say), so no orphan keeps computing.  When a worker dies (the
  out-of-memory killer, ``kill -9``), the pool is rebuilt and the tasks that were in flight are
  started again one at a time, so that a death is laid on the task that caused it; a task
  whose worker dies :data:`MAX_TASK_ATTEMPTS` times while it runs alone is given up (its
  samples stay to do).
* :class:`DaskExecutor` -- ``distributed.Client(address)`` of a Dask scheduler the user runs (by
  hand, ``dask-jobqueue`` on SLURM/PBS, ``LocalCluster``...).  The workers need
  ``mbl_avalanche`` importable.
"""

from __future__ import annotations

import ast
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .tasks import TaskOutput, TaskSpec

__all__ = [
    "MAX_TASK_ATTEMPTS",
    "DaskExecutor",
    "InlineExecutor",
    "LocalExecutor",
    "Result",
    "WorkerLost",
    "describe_exit",
]

Result = tuple[TaskSpec, TaskOutput | BaseException]

#: Times a task may see its worker die while it runs alone before it is given up.
MAX_TASK_ATTEMPTS = 2


class WorkerLost(RuntimeError):
    """A task could not finish because its worker died or was lost (the message says why)."""


def describe_exit(exitcode: int | None) -> str:
    """Why a worker process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode is None:
        return "ended for an unknown reason"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return f"was killed by {name} (the kernel's out-of-memory killer, or kill -9)"
        return f"was killed by {name}"
    return f"exited with code {exitcode}"


class InlineExecutor:
    """Compute tasks one after the other in this process."""

    name = "inline"

    def run(
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Iterable[TaskSpec]
    ) -> Iterator[Result]:
        for spec in specs:
            yield spec, fn(spec)

    def shutdown(self, cancel: bool = False) -> None:
        pass


def _watch_parent(driver_pid: int, parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(3)
        try:
            os.kill(driver_pid, 0)
        except ProcessLookupError:
            os._exit(3)
        except PermissionError:  # pragma: no cover - pid reused by another user
            os._exit(3)


def _worker_init(driver_pid: int, devices: tuple[str, ...] = (), counter: Any = None) -> None:
    """Worker start-up: ignore Ctrl-C and SIGTERM (the driver stops us), exit if it is gone.

    With ``devices`` (GPU ordinals), the ``i``-th worker started sees only ``devices[i %
    len(devices)]`` (``CUDA_VISIBLE_DEVICES``, set before CuPy is first imported here), so the
    workers spread evenly over the GPUs, ``workers / len(devices)`` samples in flight on each.
    """
    if devices and counter is not None:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[i % len(devices)]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(driver_pid, os.getppid()), daemon=True).start()


def _context() -> mp.context.BaseContext:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mbl_avalanche.ensemble.tasks", "mbl_avalanche.analysis"])
        return ctx
    return mp.get_context("spawn")


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    t = node.test
    if len(t.ops) != 1 or not isinstance(t.ops[0], ast.Eq):
        return False
    sides = [t.left, t.comparators[0]]
    names = [x.id for x in sides if isinstance(x, ast.Name)]
    consts = [x.value for x in sides if isinstance(x, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]


def unguarded_main_line() -> tuple[str, int] | None:
    """``(script, line)`` when this call comes from a top-level line of the ``__main__`` script
    that is not under ``if __name__ == "__main__":`` (worker processes would run it again),
    else ``None`` (guarded, interactive, a notebook or ``python -m package``)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return None
    spec = getattr(main, "__spec__", None)
    if spec is not None and str(spec.name).endswith("__main__"):
        return None  # ``python -m package``: workers do not import a package's __main__ again
    frame = sys._getframe()
    line = None
    while frame is not None:
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    if line is None:
        return None
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        end = getattr(node, "end_lineno", node.lineno) or node.lineno
        if node.lineno <= line <= end:
            if _is_main_guard(node):
                return None
            break
    return str(path), line


def check_main_guard() -> None:
    """Refuse to start worker processes from an unguarded top-level call of a script.

    Worker processes (``forkserver``/``spawn``) import the main script again; a
    ``run_ensemble(..., workers=N)`` at its top level, outside ``if __name__ == "__main__":``,
    would then start workers inside every worker, and the pool dies at start-up.  This finds the
    top-level line of ``__main__`` that led here (:func:`unguarded_main_line`) and raises a
    one-line :class:`~mbl_avalanche.errors.InputError` naming it when it is not under such a
    guard.  Interactive sessions, notebooks and ``python -m package`` are not checked.
    """
    where = unguarded_main_line()
    if where is None:
        return
    from ..errors import InputError

    path, line = where
    raise InputError(
        f"workers > 1 is not allowed from the top level of the script {path!r} "
        f"(line {line}): worker processes import that script again, so put the call under "
        "'if __name__ == \"__main__\":' (or use workers=1)"
    )


class LocalExecutor:
    """``workers`` local processes; at most ``2 * workers`` tasks queued ahead."""

    name = "local"

    def __init__(self, workers: int, devices: Sequence[str] = ()) -> None:
        check_main_guard()
        self.workers = workers
        self.devices = tuple(devices)
        self.worker_deaths: list[str] = []
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        ctx = _context()
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(os.getpid(), self.devices, ctx.Value("i", 0) if self.devices else None),
        )

    def run(
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Iterable[TaskSpec]
    ) -> Iterator[Result]:
        source = iter(specs)
        suspects: list[TaskSpec] = []  # in flight when a worker died: run alone, one by one
        alone: dict[int, int] = {}  # times a suspect's worker died while it ran alone
        running: dict[Future, TaskSpec] = {}
        exhausted = False
        procs: dict[int, Any] = {}
        while True:
            if suspects:
                if not running:  # isolation: a death now is this task's own
                    spec = suspects.pop()
                    running[self._submit(fn, spec)] = spec
            else:
                while not exhausted and len(running) < 2 * self.workers:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    running[self._submit(fn, nxt)] = nxt
            procs.update(getattr(self.pool, "_processes", None) or {})
            if not running:
                return
            isolated = len(running) == 1 and id(next(iter(running.values()))) in alone
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            procs.update(getattr(self.pool, "_processes", None) or {})
            if not any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                for fut in done:
                    spec = running.pop(fut)
                    exc = fut.exception()
                    alone.pop(id(spec), None)
                    yield spec, (exc if exc is not None else fut.result())
                continue
            # a worker died: every task in flight failed with the pool, except those that had
            # finished before it broke
            for fut in done:
                exc = fut.exception()
                if not isinstance(exc, BrokenProcessPool):
                    spec = running.pop(fut)
                    alone.pop(id(spec), None)
                    yield spec, (exc if exc is not None else fut.result())
            for fut in list(running):
                with contextlib.suppress(Exception):
                    fut.exception(timeout=30)
            failed = list(running.values())
            running.clear()
            why = self._death_message(procs)
            self.worker_deaths.append(why)
            for spec in failed:
                if isolated:
                    alone[id(spec)] += 1
                    if alone[id(spec)] >= MAX_TASK_ATTEMPTS:
                        yield (
                            spec,
                            WorkerLost(
                                f"{why} (its worker died each of the {alone[id(spec)]} times it "
                                "ran alone; its samples are left to do)"
                            ),
                        )
                        continue
                else:
                    alone.setdefault(id(spec), 0)
                suspects.append(spec)
            self._kill(list(procs.values()))
            procs = {}
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()

    def _submit(self, fn: Callable[[TaskSpec], TaskOutput], spec: TaskSpec) -> Future:
        """``pool.submit``; a pool broken since the last wait gives a future failed with it.

        A worker can die between one ``wait`` and the next ``submit`` (the OOM killer does not
        wait): ``submit`` then raises :class:`BrokenProcessPool` itself.  Turned into a failed
        future, the death is handled where every other one is, in :meth:`run`.
        """
        try:
            return self.pool.submit(fn, spec)
        except BrokenProcessPool as exc:
            fut: Future = Future()
            fut.set_exception(exc)
            return fut

    @staticmethod
    def _death_message(procs: dict[int, Any]) -> str:
        dead = [p for p in procs.values() if p.exitcode not in (None, 0)]
        why = "; ".join(f"worker pid {p.pid} {describe_exit(p.exitcode)}" for p in dead)
        return why or "a worker process died"

    @staticmethod
    def _kill(procs: list[Any]) -> None:
        for p in procs:
            with contextlib.suppress(Exception):
                if p.is_alive():
                    p.kill()
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(5)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            procs = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            # running tasks are abandoned: their samples are redone next time
            self._kill(procs)
        else:
            self.pool.shutdown(wait=True)


class DaskExecutor:
    """Tasks on a Dask cluster: ``scheduler`` is an address, a ``Client`` or a cluster object."""

    name = "dask"

    def __init__(self, scheduler: Any) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover
            from ..errors import InputError

            raise InputError(
                "--dask-scheduler needs the 'distributed' package: "
                "pip install 'mbl-avalanche[dask]'"
            ) from None
        self._own = True
        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            address = getattr(scheduler, "scheduler_address", scheduler)
            try:
                self.client = Client(address, set_as_default=False, timeout="30s")
            except (OSError, TimeoutError, ValueError) as exc:
                from ..errors import InputError

                raise InputError(f"dask_scheduler={address!r} is not reachable: {exc}") from None
        self._futures: list[Any] = []

    def n_workers(self) -> int:
        """Worker threads of the cluster now (for the summary; clusters may scale)."""
        try:
            return int(sum(self.client.nthreads().values()))
        except Exception:  # the summary must not stop a run
            return 0

    def run(
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Iterable[TaskSpec]
    ) -> Iterator[Result]:
        from distributed import as_completed

        source = iter(specs)
        by_key: dict[Any, TaskSpec] = {}

        def submit() -> Any:
            spec = next(source, None)
            if spec is None:
                return None
            key = f"mbl-{spec.task.name}-{uuid.uuid4().hex[:8]}"
            fut = self.client.submit(fn, spec, pure=False, key=key)
            by_key[fut.key] = spec
            self._futures.append(fut)
            return fut

        # a window of tasks ahead of the cluster's threads (it may scale meanwhile)
        window = max(2, 2 * self.n_workers())
        first = [f for f in (submit() for _ in range(window)) if f is not None]
        if not first:
            return
        pending = as_completed(first, loop=self.client.loop)
        for fut in pending:
            spec = by_key.pop(fut.key)
            try:
                out: TaskOutput | BaseException = fut.result()
            except Exception as exc:  # the whole task failed (KilledWorker: its worker was lost)
                out = WorkerLost(
                    f"the Dask task failed as a whole ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]}); its samples are left to do"
                )
            fut.release()
            with contextlib.suppress(ValueError):
                self._futures.remove(fut)
            nxt = submit()
            if nxt is not None:
                pending.add(nxt)
            yield spec, out

    def shutdown(self, cancel: bool = False) -> None:
        if cancel and self._futures:
            self.client.cancel(self._futures)
        if self._own:
            self.client.close()
