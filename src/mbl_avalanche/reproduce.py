"""The paper's figures and claims from one call: run the grid, then figures and report.

A *preset* is a list of grid blocks ``(model, L values, parameter values, samples per grid
point)``.  Each block is run by the ensemble runner (:func:`mbl_avalanche.ensemble.
run_ensemble`: resumable, parallel, crash-safe), then the per-sample table of all blocks
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
``landmark``
    The avalanche landmark of both built-in models (conventions, section 2b): the Floquet
    circuit at ``alpha = 10, 15, 20, 25, 30, 35, 40, 50`` and the random-field Heisenberg chain
    (``Delta = 1``) at ``W = 4, 6, 8, 10, 12, 15, 20, 25, 30``, both at ``L = 6..10`` with 1000
    samples per grid point (beyond these values most ``Gamma`` at ``L = 10`` are below double
    precision, :func:`mbl_avalanche.landmark.landmark`), in ``OUTDIR/floquet`` and
    ``OUTDIR/heisenberg``.  After the runs each model's folder gets ``landmark.json`` /
    ``landmark.txt`` (:func:`mbl_avalanche.landmark.landmark`), the three landmark figures in
    ``figures/`` and the report (with the claim ``avalanche_landmark`` for the Floquet model),
    and ``OUTDIR/landmark.md`` lists both
    models' crossings side by side.
``landmark-quick``
    The same scans, coarser: ``L = 6..9``, ``alpha = 10, 20, 30, 40, 60``, ``W = 4, 8, 15, 30``,
    100 samples per grid point: a few minutes on 2 cores.

The estimates come from the per-model cost tables of :mod:`mbl_avalanche.resources` (measured
by ``benchmarks/cost_model.py``); ``--dry-run`` prints them without computing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import InputError
from .models.floquet import DEFAULT_SEED
from .resources import sample_seconds


@dataclass(frozen=True)
class Block:
    """One grid block: every grid point gets ``samples`` samples (indices 0..N-1).

    The grid is ``L`` times the model's parameter lists: ``alpha`` for the Floquet model
    (``model="floquet"``, the default), ``params`` (``((name, (values...)), ...)``) for any
    model (the product of the lists).  ``subdir`` is the run directory below ``OUTDIR`` (``""``:
    ``OUTDIR`` itself; a folder of run directories is read back as one table by
    :func:`mbl_avalanche.table.load_table`).
    """

    L: tuple[int, ...]
    alpha: tuple[float, ...]
    samples: int
    subdir: str = ""
    model: str = "floquet"
    params: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def grid(self) -> dict[str, tuple[float, ...]]:
        """The parameter lists of the block (``{"alpha": ...}`` for a Floquet block)."""
        grid = dict(self.params)
        if self.alpha:
            grid["alpha"] = self.alpha
        return grid

    def points(self) -> int:
        """Grid points per ``L`` (the product of the parameter lists' lengths)."""
        n = 1
        for values in self.grid().values():
            n *= len(values)
        return n

    def core_seconds(self) -> float:
        """Estimated single-core seconds of the block (the model's cost table,
        :func:`mbl_avalanche.resources.sample_seconds`)."""
        return self.samples * self.points() * sum(sample_seconds(L, 1, self.model) for L in self.L)


_ALPHA_SCAN = (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0)
_W_SCAN = (4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0)


def _landmark_blocks(
    L: tuple[int, ...], alpha: tuple[float, ...], W: tuple[float, ...], samples: int
) -> tuple[Block, ...]:
    return (
        Block(L=L, alpha=alpha, samples=samples, subdir="floquet"),
        Block(
            L=L,
            alpha=(),
            samples=samples,
            subdir="heisenberg",
            model="heisenberg",
            params=(("W", W), ("Delta", (1.0,))),
        ),
    )


#: The presets (see the module docstring).
PRESETS: dict[str, tuple[Block, ...]] = {
    "quick": (Block(L=(6, 7, 8, 9), alpha=(30.0, 1.0), samples=160),),
    "paper": (
        Block(L=(6, 7, 8, 9, 10, 11), alpha=(30.0, 1.0), samples=10_000),
        Block(L=(12,), alpha=(30.0, 1.0), samples=2_000),
    ),
    "landmark": _landmark_blocks((6, 7, 8, 9, 10), _ALPHA_SCAN, _W_SCAN, 1000),
    "landmark-quick": _landmark_blocks(
        (6, 7, 8, 9), (10.0, 20.0, 30.0, 40.0, 60.0), (4.0, 8.0, 15.0, 30.0), 100
    ),
}

#: What a preset produces after its runs: ``"paper"`` (the paper's figures and the report of
#: the one table) or ``"landmark"`` (per model folder: the landmark, its figures, the report).
PRESET_KIND: dict[str, str] = {
    "quick": "paper",
    "paper": "paper",
    "landmark": "landmark",
    "landmark-quick": "landmark",
}


def plan(preset: str, samples: int | None = None) -> tuple[Block, ...]:
    """The blocks of ``preset`` (with ``samples`` overriding every block's count if given)."""
    if preset not in PRESETS:
        raise InputError(f"preset {preset!r} is not allowed: use one of {', '.join(PRESETS)}")
    blocks = PRESETS[preset]
    if samples is not None:
        if int(samples) < 1:
            raise InputError(f"samples={samples} is not allowed: it must be >= 1")
        blocks = tuple(replace(b, samples=int(samples)) for b in blocks)
    return blocks


def describe(blocks: Sequence[Block], workers: int = 1) -> str:
    """A few lines: each block and the estimated time on ``workers`` cores."""
    lines = []
    total = 0.0
    for b in blocks:
        total += b.core_seconds()
        where = f"OUTDIR/{b.subdir}" if b.subdir else "OUTDIR"
        grid = "  ".join(
            f"{name} = {','.join(f'{v:g}' for v in values)}" for name, values in b.grid().items()
        )
        point = "(L, alpha)" if b.model == "floquet" else "grid point"
        lines.append(
            f"  {b.model}: L = {','.join(map(str, b.L))}  {grid}  samples = {b.samples} per "
            f"{point}  -> {where}  (~{_hms(b.core_seconds())} core time)"
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
        kwargs: dict[str, Any] = dict(L=list(b.L))
        if b.model == "floquet" and not b.params:
            kwargs["alpha"] = list(b.alpha)  # the Floquet call, as before models existed
        else:
            kwargs["model"] = b.model
            kwargs["params"] = {name: list(values) for name, values in b.grid().items()}
        kwargs.update(samples=b.samples, seed=int(seed), workers=int(workers))
        if progress is not None:
            kwargs["progress"] = progress
        summary = runner(d, **kwargs)
        dirs.append((d, summary))
        if getattr(summary, "interrupted", False):
            break
    return dirs


def landmark_summary(results: Sequence[tuple[str, Any]]) -> str:
    """Markdown table of the landmarks of a ``landmark`` preset: one column per model.

    ``results`` is ``[(folder name, Landmark), ...]``; rows are the pairs of consecutive L and
    the joint fit, each ``crossing [low, high]`` or the reason it is not bracketed.
    """

    def cell(d: dict[str, Any]) -> str:
        if d.get("crossing") is None:
            return f"not bracketed ({d.get('reason')})" if d.get("reason") else "n/a"
        text = f"{d['crossing']:.3g}"
        if d.get("low") is not None and d.get("high") is not None:
            text += f" [{d['low']:.3g}, {d['high']:.3g}]"
        return text

    rows: dict[str, list[str]] = {}
    for col, (_, res) in enumerate(results):
        for pair in res.to_dict()["pairs"]:
            rows.setdefault(f"L = {pair['L'][0]}-{pair['L'][1]}", [""] * len(results))[col] = cell(
                pair
            )
        fit = res.to_dict()["fit"]
        name = f"fit L = {fit['Ls'][0]}..{fit['Ls'][-1]}" if fit.get("Ls") else "fit"
        rows.setdefault(name, [""] * len(results))[col] = cell(fit)
    head = [f"{name}: {res.parameter}_c" for name, res in results]
    level = f"{100 * results[0][1].level:g}%" if results else ""
    lines = [
        "# Avalanche landmark",
        "",
        "Where the slope of ln Gamma_typ = mean ln Gamma per added site crosses -ln 4 "
        f"(conventions, section 2b); {level} bootstrap intervals.  Details: "
        + ", ".join(f"`{name}/landmark.txt`" for name, _ in results)
        + ".",
        "",
        "| pair of L | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
    return "\n".join(lines) + "\n"


def estimate_quick_minutes(workers: int = 2) -> float:
    """Estimated wall minutes of the ``quick`` preset on ``workers`` cores."""
    return sum(b.core_seconds() for b in PRESETS["quick"]) / max(workers, 1) / 60.0


__all__ = [
    "PRESETS",
    "PRESET_KIND",
    "Block",
    "describe",
    "estimate_quick_minutes",
    "landmark_summary",
    "plan",
    "run_blocks",
]
