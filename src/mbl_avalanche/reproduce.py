"""The paper's figures and claims from one call: run the grid, then figures and report.

A *preset* is a list of grid blocks ``(L values, alpha values, samples per (L, alpha))``.  Each
block is run by the ensemble runner (:func:`mbl_avalanche.ensemble.run_ensemble`: resumable,
parallel, crash-safe), then the per-sample table of all blocks
(:func:`mbl_avalanche.table.load_table`) gives the figures (:func:`mbl_avalanche.figures.
make_figures`, in ``OUTDIR/figures``) and the report (``OUTDIR/report.md``, ``report.json``).
Running the same call again recomputes nothing that finished.

Presets
-------
``quick``
    ``L = 6..9``, ``alpha = 30, 1``, 160 samples each: about one core-minute by the cost model
    (:func:`mbl_avalanche.resources.sample_seconds`), so about 30 s on 2 idle cores; run
    directly in ``OUTDIR``.
``paper``
    The paper-scale grid: ``L = 6..11`` with 10^4 samples (the paper's Fig. 4 uses L = 11 and
    10^4 samples), and ``L = 12`` with 2000 samples, at ``alpha = 30, 1``: about 86 core-hours
    by the cost model, for a workstation or a cluster.  Both blocks go into the one run
    directory ``OUTDIR`` (the runner accepts new grid points in an existing run with the same
    seed), so they can equally be computed on a cluster with ``mbl-avalanche run OUTDIR --L ...
    --alpha ... --samples ...`` (SLURM shards or Dask) and then drawn with ``mbl-avalanche
    figures`` / ``report``, or by running ``reproduce`` again, which then only draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .models.floquet import DEFAULT_SEED
from .resources import sample_seconds


@dataclass(frozen=True)
class Block:
    """One grid block: every ``(L, alpha)`` pair gets ``samples`` samples (indices 0..N-1).

    ``subdir`` is the run directory below ``OUTDIR`` (``""``: ``OUTDIR`` itself; a folder of run
    directories is read back as one table by :func:`mbl_avalanche.table.load_table`).
    """

    L: tuple[int, ...]
    alpha: tuple[float, ...]
    samples: int
    subdir: str = ""

    def core_seconds(self) -> float:
        """Estimated single-core seconds of the block (the cost model,
        :func:`mbl_avalanche.resources.sample_seconds`)."""
        return self.samples * len(self.alpha) * sum(sample_seconds(L) for L in self.L)


#: The presets (see the module docstring).
PRESETS: dict[str, tuple[Block, ...]] = {
    "quick": (Block(L=(6, 7, 8, 9), alpha=(30.0, 1.0), samples=160),),
    "paper": (
        Block(L=(6, 7, 8, 9, 10, 11), alpha=(30.0, 1.0), samples=10_000),
        Block(L=(12,), alpha=(30.0, 1.0), samples=2_000),
    ),
}


def plan(preset: str, samples: int | None = None) -> tuple[Block, ...]:
    """The blocks of ``preset`` (with ``samples`` overriding every block's count if given)."""
    if preset not in PRESETS:
        raise InputError(f"preset {preset!r} is not allowed: use one of {', '.join(PRESETS)}")
    blocks = PRESETS[preset]
    if samples is not None:
        if int(samples) < 1:
            raise InputError(f"samples={samples} is not allowed: it must be >= 1")
        blocks = tuple(Block(b.L, b.alpha, int(samples), b.subdir) for b in blocks)
    return blocks


def describe(blocks: Sequence[Block], workers: int = 1) -> str:
    """A few lines: each block and the estimated time on ``workers`` cores."""
    lines = []
    total = 0.0
    for b in blocks:
        total += b.core_seconds()
        where = f"OUTDIR/{b.subdir}" if b.subdir else "OUTDIR"
        lines.append(
            f"  L = {','.join(map(str, b.L))}  alpha = {','.join(f'{a:g}' for a in b.alpha)}  "
            f"samples = {b.samples} per (L, alpha)  -> {where}  (~{_hms(b.core_seconds())} "
            "core time)"
        )
    lines.append(
        f"  estimated: {_hms(total)} of core time, ~{_hms(total / max(workers, 1))} "
        f"on {workers} worker(s)"
    )
    return "\n".join(lines)


def _hms(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 3600:.0f} h ({s / 86400:.0f} days)"


def run_blocks(
    outdir: str | Path,
    blocks: Sequence[Block],
    *,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    progress: bool | None = None,
    runner: Callable[..., Any] | None = None,
) -> list[tuple[Path, Any]]:
    """Run every block with the ensemble runner; return ``(run directory, runner's summary)``.

    Stops after a block whose summary says ``interrupted`` (Ctrl-C): what finished is kept and
    the same call continues it.

    Parameters
    ----------
    outdir : path
        The reproduction folder; block ``b`` runs in ``outdir / b.subdir``.
    blocks : sequence of Block
        The grid.
    seed : int
        Root seed of the disorder samples (the same for every block, so a sample is the same
        whichever block computes it).
    workers : int
        Worker processes of the runner.
    progress : bool, optional
        Passed to the runner (``None``: the runner's default).
    runner : callable, optional
        ``run_ensemble`` replacement (tests); default
        :func:`mbl_avalanche.ensemble.run_ensemble`.
    """
    if runner is None:
        from . import ensemble

        runner = ensemble.run_ensemble
    if int(workers) < 1:
        raise InputError(f"workers={workers} is not allowed: it must be >= 1")
    dirs = []
    for b in blocks:
        d = Path(outdir) / b.subdir if b.subdir else Path(outdir)
        kwargs: dict[str, Any] = dict(
            L=list(b.L),
            alpha=list(b.alpha),
            samples=b.samples,
            seed=int(seed),
            workers=int(workers),
        )
        if progress is not None:
            kwargs["progress"] = progress
        summary = runner(d, **kwargs)
        dirs.append((d, summary))
        if getattr(summary, "interrupted", False):
            break
    return dirs


def estimate_quick_minutes(workers: int = 2) -> float:
    """Estimated wall minutes of the ``quick`` preset on ``workers`` cores."""
    return sum(b.core_seconds() for b in PRESETS["quick"]) / max(workers, 1) / 60.0


__all__ = [
    "PRESETS",
    "Block",
    "describe",
    "estimate_quick_minutes",
    "plan",
    "run_blocks",
]
