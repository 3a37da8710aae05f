"""Where tasks are computed: in the driver, in local worker processes, or on a Dask cluster.

Every executor yields ``(spec, output)`` pairs as tasks finish, in any order; the driver (the
process that called :func:`~mbl_avalanche.ensemble.runner.run_ensemble`) writes the shards, so
workers never touch the run directory.  A task that fails as a whole (its worker died) yields
``(spec, exc)``.

* :class:`InlineExecutor` -- one worker: the driver computes the tasks itself.
* :class:`LocalExecutor` -- ``N`` processes (:class:`concurrent.futures.ProcessPoolExecutor`
  with the ``forkserver`` start method where available, else ``spawn``: no fork of a threaded
  BLAS).  Workers ignore SIGINT and SIGTERM (the driver handles
  Ctrl-C and batch-system stops, and kills them), and exit by themselves when the
  driver dies (killed with -9, say), so no orphan keeps computing.
* :class:`DaskExecutor` -- ``distributed.Client(address)`` of a Dask scheduler the user runs (by
  hand, ``dask-jobqueue`` on SLURM/PBS, ``LocalCluster``...).  The workers need
  ``mbl_avalanche`` importable.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .tasks import TaskOutput, TaskSpec

__all__ = [
    "DaskExecutor",
    "InlineExecutor",
    "LocalExecutor",
    "Result",
]

Result = tuple[TaskSpec, TaskOutput | BaseException]


class InlineExecutor:
    """Compute tasks one after the other in this process."""

    name = "inline"

    def run(
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Sequence[TaskSpec]
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


def _worker_init(driver_pid: int) -> None:
    """Worker start-up: ignore Ctrl-C and SIGTERM (the driver stops us), exit if it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(driver_pid, os.getppid()), daemon=True).start()


def _context() -> mp.context.BaseContext:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mbl_avalanche.ensemble.tasks", "mbl_avalanche.analysis"])
        return ctx
    return mp.get_context("spawn")


class LocalExecutor:
    """``workers`` local processes; at most ``2 * workers`` tasks queued ahead."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_context(),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )

    def run(
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Sequence[TaskSpec]
    ) -> Iterator[Result]:
        todo = list(specs)[::-1]
        running: dict[Future, TaskSpec] = {}
        while todo or running:
            while todo and len(running) < 2 * self.workers:
                spec = todo.pop()
                running[self.pool.submit(fn, spec)] = spec
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                spec = running.pop(fut)
                exc = fut.exception()
                yield spec, (exc if exc is not None else fut.result())

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            procs = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:  # running tasks are abandoned: their samples are redone next time
                if p.is_alive():
                    p.kill()
            for p in procs:
                p.join(5)
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
        self, fn: Callable[[TaskSpec], TaskOutput], specs: Sequence[TaskSpec]
    ) -> Iterator[Result]:
        from distributed import as_completed

        by_key = {}
        for spec in specs:
            key = f"mbl-{spec.task.name}-{uuid.uuid4().hex[:8]}"
            fut = self.client.submit(fn, spec, pure=False, key=key)
            by_key[fut.key] = spec
            self._futures.append(fut)
        for fut in as_completed(self._futures, loop=self.client.loop):
            spec = by_key[fut.key]
            try:
                yield spec, fut.result()
            except Exception as exc:  # whole task failed (e.g. KilledWorker)
                yield spec, exc
            fut.release()

    def shutdown(self, cancel: bool = False) -> None:
        if cancel and self._futures:
            self.client.cancel(self._futures)
        if self._own:
            self.client.close()
