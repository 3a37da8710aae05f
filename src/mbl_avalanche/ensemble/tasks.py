"""The tasks of an ensemble run and the function that computes one (on any worker).

A *task* is a block of consecutive sample indices of one ``(L, point)`` of the run's model (a
point holds one value of each model parameter): samples ``start .. stop-1``.  The task list is a
pure function of the configuration (:func:`task_list`): ``L`` in the order given, then the grid
points, then blocks of ``chunk`` samples (``chunk = 0``: :func:`auto_chunk`).  A shard ``I/N``
takes the tasks whose position in that list is ``I mod N``.

:func:`compute_task` is what a worker runs: it analyses each sample of a :class:`TaskSpec` and
returns one record per sample, ``SampleResult.scalars()`` plus bookkeeping:

``status``
    ``"ok"`` or ``"failed"`` (the analysis raised; ``error`` holds ``"Type: message"``).
``blas_threads``
    BLAS threads the sample ran with (part of the result: it sets the summation order).
``host``, ``wall_time``
    Where and how long (seconds); these vary between runs, as do the ``time_*`` columns.

Test hook: the environment variable ``MBL_AVALANCHE_FAIL_SAMPLES`` (comma-separated
``L:value:sample`` entries, ``value`` the model's first parameter -- alpha, W --, e.g.
``"6:30:3,7:1:0"``) makes those samples raise ``RuntimeError``, so that failure handling can be
exercised end to end (the driver reads it when the run starts and passes it to the workers with
each task, whatever the executor).  An entry ``L:value:sample:crash`` instead ends the worker
process at once (``os._exit``), as an out-of-memory kill would; use it with ``workers >= 2``
only (with one worker the driver itself computes, and would end).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import record

__all__ = [
    "FAIL_ENV",
    "Task",
    "TaskOutput",
    "TaskSpec",
    "auto_chunk",
    "compute_task",
    "failed_record",
    "injected_failures",
    "plain",
    "shard_slice",
    "task_list",
]

#: Environment variable of the failure-injection test hook (see module docstring).
FAIL_ENV = "MBL_AVALANCHE_FAIL_SAMPLES"


Point = tuple[tuple[str, Any], ...]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)


@dataclass(frozen=True)
class Task:
    """Samples ``start .. stop-1`` of one ``(L, point)`` of a model; ``index`` is its place in
    the list.  ``point`` is ``((name, value), ...)`` of the model's parameters."""

    index: int
    L: int
    point: Point
    start: int
    stop: int
    model: str = "floquet"

    @property
    def alpha(self) -> float:
        """The Floquet model's ``alpha`` (NaN for other models)."""
        return float(dict(self.point).get("alpha", float("nan")))

    @property
    def name(self) -> str:
        """File-name-safe name, e.g. ``L7_a30.0_s0000000-0000050`` (Floquet, as before
        models) or ``L7_heisenberg_W5.0_Delta1.0_s0000000-0000050``."""
        span = f"s{self.start:07d}-{self.stop:07d}"
        if self.model == "floquet":
            return f"L{self.L}_a{self.alpha!r}_{span}"
        params = "_".join(f"{_safe(n)}{v!r}" for n, v in self.point)
        return f"L{self.L}_{_safe(self.model)}_{params}_{span}"

    def key(self, sample: int) -> tuple[Any, ...]:
        """The record key (:func:`mbl_avalanche.record.record_key`) of one of its samples."""
        return (self.model, self.L, self.point, int(sample))


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to compute some samples of one task (small and picklable)."""

    task: Task
    samples: tuple[int, ...]
    seed: int
    gue_scale: float
    layer_order: str
    method: str
    threads: int
    save_arrays: bool
    inject: str = ""  # the failure-injection test hook (see module docstring)
    backend: str = "cpu"  # where the dense linear algebra runs ("gpu": CuPy, this worker's GPU)


@dataclass
class TaskOutput:
    """Records (one per sample, in ``spec.samples`` order) and optional arrays per sample."""

    records: list[dict[str, Any]]
    arrays: dict[int, dict[str, np.ndarray]] | None = None


def auto_chunk(L: int, samples: int) -> int:
    """Samples per task when ``chunk = 0``.

    About a second of one core per task at L = 8..10 by the cost model
    (:func:`mbl_avalanche.resources.sample_seconds`; a task is the unit that is saved at once,
    so this bounds what a kill can lose), and at least 32 tasks per ``(L, alpha)`` when there
    are enough samples, so that many workers share small runs evenly.  Done-ness is tracked per
    sample, so another chunk never recomputes anything.
    """
    table = {2: 400, 3: 400, 4: 400, 5: 400, 6: 200, 7: 100, 8: 40, 9: 8, 10: 2}
    return max(1, min(table.get(L, 1), -(-samples // 32)))


def task_list(
    L: tuple[int, ...],
    points: Sequence[Point] | Sequence[float],
    samples: int,
    chunk: int,
    model: str = "floquet",
) -> list[Task]:
    """Every task of a grid, in the deterministic order shards are cut from: ``L`` outermost,
    then the grid points (:meth:`RunConfig.points`; plain numbers are Floquet alphas), then
    blocks of ``chunk`` samples.

    Done-ness is tracked per sample, not per task, so a run may change ``chunk`` (or get a new
    automatic one when ``samples`` grows) without recomputing anything.
    """
    pts: list[Point] = [
        (("alpha", float(p)),) if isinstance(p, int | float) else tuple(p) for p in points
    ]
    out: list[Task] = []
    for Lv in L:
        step = chunk or auto_chunk(Lv, samples)
        for pt in pts:
            for start in range(0, samples, step):
                out.append(Task(len(out), int(Lv), pt, start, min(start + step, samples), model))
    return out


def shard_slice(tasks: list[Task], shard: tuple[int, int] | None) -> list[Task]:
    """The tasks of shard ``(i, n)`` (positions ``i mod n``); all of them if ``shard`` is None."""
    if shard is None:
        return list(tasks)
    i, n = shard
    return [t for t in tasks if t.index % n == i]


def injected_failures() -> str:
    """The failure-injection hook's value in this process (empty when unset)."""
    return os.environ.get(FAIL_ENV, "").strip()


def _parse_failures(raw: str) -> dict[tuple[int, float, int], str]:
    out: dict[tuple[int, float, int], str] = {}
    for item in filter(None, (x.strip() for x in raw.split(","))):
        L, a, s, *mode = item.split(":")
        out[(int(L), float(a), int(s))] = mode[0] if mode else "raise"
    return out


def plain(x: Any) -> Any:
    """A JSON-ready Python scalar (numpy scalars unwrapped; NaN/inf kept as floats)."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _model(spec: TaskSpec) -> Any:
    from ..models.registry import make_model

    t = spec.task
    params: dict[str, Any] = dict(t.point)
    if t.model == "floquet":
        params.update(gue_scale=spec.gue_scale, layer_order=spec.layer_order)
    return make_model(t.model, t.L, spec.seed, params)


def failed_record(
    spec: TaskSpec, sample: int, exc: BaseException, wall_time: float = float("nan")
) -> dict[str, Any]:
    """The record of a sample whose analysis raised ``exc`` (``status = "failed"``)."""
    msg = " ".join(str(exc).split()) or repr(exc)
    rec: dict[str, Any] = dict(_model(spec).record_fields(sample))
    rec.update(
        method=spec.method,
        L=spec.task.L,
        kind=_model(spec).kind,
        status="failed",
        error=f"{type(exc).__name__}: {msg}",
        blas_threads=spec.threads,
        host=socket.gethostname(),
        wall_time=wall_time,
    )
    return rec


def compute_task(spec: TaskSpec) -> TaskOutput:
    """Analyse every sample of ``spec``; a sample that raises gives a ``failed`` record.

    Every record is complete and follows the schema (:func:`mbl_avalanche.record.validate`).
    """
    from threadpoolctl import threadpool_limits

    from ..analysis import analyze_sample

    t = spec.task
    model = _model(spec)
    fail = _parse_failures(spec.inject)
    host = socket.gethostname()
    records: list[dict[str, Any]] = []
    arrays: dict[int, dict[str, np.ndarray]] | None = {} if spec.save_arrays else None
    limit = threadpool_limits(spec.threads) if spec.threads > 0 else nullcontext()
    with limit:
        for s in spec.samples:
            t0 = time.perf_counter()
            try:
                where = (t.L, float(t.point[0][1]) if t.point else float("nan"), s)
                if where in fail:
                    if fail[where] == "crash":
                        os._exit(70)
                    raise RuntimeError(f"injected failure ({FAIL_ENV})")
                r = analyze_sample(model, s, method=spec.method, backend=spec.backend)
                rec = {k: plain(v) for k, v in r.scalars().items()}
                rec.update(status="ok", error="", blas_threads=spec.threads, host=host)
                if arrays is not None:
                    arrays[s] = {
                        "theta": np.asarray(r.theta, dtype=float),
                        "c": np.asarray(r.c, dtype=float),
                    }
            except Exception as exc:  # recorded, the run goes on
                rec = failed_record(spec, s, exc)
            rec["wall_time"] = time.perf_counter() - t0
            record.validate(rec, where=f"sample {s} of task {t.name}")
            records.append(rec)
    return TaskOutput(records=records, arrays=arrays)
