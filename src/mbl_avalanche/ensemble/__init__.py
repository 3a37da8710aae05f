"""Ensembles of disorder samples over ``(L, alpha)`` grids: reproducible, resumable, parallel.

* :mod:`.config` -- the run configuration (:class:`RunConfig`, TOML files).
* :mod:`.tasks` -- the deterministic task list and the per-task computation (on any worker).
* :mod:`.store` -- the crash-safe run directory (:func:`load_run`, :func:`run_status`).
* :mod:`.executors` -- in-process, local processes, Dask.
* :mod:`.runner` -- :func:`run_ensemble`.
* :mod:`.slurm` -- SLURM job-array shards and ``sbatch`` scripts.
"""

from .config import RunConfig, make_config
from .runner import RunSummary, run_ensemble
from .store import drop_volatile, load_arrays, load_run, run_status

__all__ = [
    "RunConfig",
    "RunSummary",
    "drop_volatile",
    "load_arrays",
    "load_run",
    "make_config",
    "run_ensemble",
    "run_status",
]
