"""Run configuration of an ensemble: which model and grid, how many samples, how to compute.

A run is described by a :class:`RunConfig`.  It can be built from keyword arguments, from a TOML
file (:func:`load_config`) or both (:func:`make_config`: values given explicitly override the
file).  Every value is validated here; anything not allowed raises
:class:`~mbl_avalanche.errors.InputError` with a one-line message naming the value.

TOML keys (all optional except ``L``, ``samples`` and the model's parameters unless given as
flags)::

    model = "floquet"      # "floquet" (default), "heisenberg", "planted" or "module:Class"
    L = [6, 7, 8]          # chain lengths (integers >= 2)
    alpha = [30.0, 1.0]    # the Floquet model's disorder parameter (alpha/gue_scale >= 1e-6)
    params = { W = [5.0, 10.0], Delta = [1.0] }   # any model's parameters (the grid is their
                           # product; a parameter with a default may be left out)
    samples = 500          # samples 0 .. samples-1 per (L, alpha) (integer >= 0; limits below)
    seed = 20230623        # root seed (integer, 0 <= seed <= 2**63 - 1)
    gue_scale = 1.0        # scale of the bond GUE matrices (> 0)
    layer_order = "odd_first"   # or "even_first"
    method = "auto"        # unitary eigensolver (default: "auto" where available, else "schur")
    chunk = 0              # samples per task (0: automatic, from L)
    workers = 0            # local worker processes (0, the default: auto = one per core as
                           # memory allows, this process alone for under 20 s of work)
    threads = 1            # BLAS threads per sample (>= 1; 0: cores // workers)
    backend = "cpu"        # "cpu" or "gpu" (CuPy: one worker per visible GPU x per_gpu)
    per_gpu = 0            # samples in flight per GPU (0: auto, from L and device memory)
    save_arrays = false    # also keep theta and c of every sample in HDF5
    retry_failed = false   # recompute samples recorded as failed
    dask_scheduler = ""    # "tcp://HOST:PORT" of a Dask scheduler ("" : compute locally)
    log_every = 30.0       # seconds between plain progress lines when not on a terminal

Size limits (checked here, before anything is planned or written): a run holds at most
:data:`MAX_CELLS` = 10^4 cells ``(L, grid point)``, :data:`MAX_SAMPLES` = 10^7 samples in all
(cells x ``samples``) and :data:`MAX_TASKS` = 10^6 tasks.  The runner and ``slurm-script`` build
the task list eagerly (about 230 bytes and 7 microseconds per task) and keep every sample index
they plan (about 40-90 bytes each), so a million tasks or ten million samples plan in seconds
and a few hundred MiB; far beyond that a run would grow memory for hours before computing
anything.  Split a larger ensemble into several runs (or raise ``chunk``: fewer, larger tasks).

The *physics identity* of a run (``model``, ``seed``, ``gue_scale``, ``layer_order``,
``method``) decides
every sample's record; the other keys only decide how and where the records are computed.
Records do not depend on ``workers``, ``chunk``, the executor or the shard, but BLAS threads
change floating-point summation order, so ``threads`` (default 1) is recorded per sample as
``blas_threads`` and is not chosen automatically unless asked for (``threads = 0``).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import BACKENDS
from ..errors import InputError, InputTypeError
from ..models.protocol import DEFAULT_SEED, MAX_INDEX, check_L
from ..spectrum import UNITARY_SOLVERS
from .tasks import auto_chunk

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_METHOD",
    "IDENTITY_KEYS",
    "MAX_CELLS",
    "MAX_SAMPLES",
    "MAX_TASKS",
    "RunConfig",
    "make_config",
    "read_toml",
]

#: Default unitary eigensolver: the fast verified solver with its Schur fallback.
DEFAULT_METHOD = "auto"

#: Keys whose values decide the records of a run (must agree when a run directory is reused).
IDENTITY_KEYS = ("model", "seed", "gue_scale", "layer_order", "method")

#: Most cells ``(L, grid point)`` of one run (each is validated by building its model).
MAX_CELLS = 10**4

#: Most samples of one run in all: cells x ``samples`` (see the module docstring).
MAX_SAMPLES = 10**7

#: Most tasks of one run's task list (built eagerly by the runner and ``slurm-script``).
MAX_TASKS = 10**6

#: A grid point: ``((name, value), ...)`` of a model's parameters, in declared order.
Point = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A validated ensemble configuration (see the module docstring for every key).

    ``params`` is normalised to ``((name, (values...)), ...)`` in the model's declared order,
    defaults filled in; for the Floquet model ``alpha`` mirrors ``params``' alpha values.
    """

    L: tuple[int, ...]
    samples: int
    model: str = "floquet"
    alpha: tuple[float, ...] = ()
    params: Any = ()
    seed: int = DEFAULT_SEED
    gue_scale: float = 1.0
    layer_order: str = "odd_first"
    method: str = DEFAULT_METHOD
    chunk: int = 0
    workers: int = 0
    threads: int = 1
    backend: str = "cpu"
    per_gpu: int = 0
    save_arrays: bool = False
    retry_failed: bool = False
    dask_scheduler: str = ""
    log_every: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "L", _check_list("L", self.L, check_L))
        self._normalise_grid()
        object.__setattr__(self, "samples", _check_int("samples", self.samples, 0))
        object.__setattr__(self, "seed", _check_int("seed", self.seed, 0, MAX_INDEX))
        object.__setattr__(self, "chunk", _check_int("chunk", self.chunk, 0))
        object.__setattr__(self, "workers", _check_int("workers", self.workers, 0))
        object.__setattr__(self, "threads", _check_int("threads", self.threads, 0))
        object.__setattr__(self, "per_gpu", _check_int("per_gpu", self.per_gpu, 0, 64))
        if not isinstance(self.backend, str) or self.backend not in BACKENDS:
            raise InputError(
                f"backend={self.backend!r} is not allowed: choose one of {', '.join(BACKENDS)}"
            )
        g = _check_float("gue_scale", self.gue_scale)
        if g <= 0:
            raise InputError(f"gue_scale={self.gue_scale!r} is not allowed: it must be > 0")
        object.__setattr__(self, "gue_scale", g)
        le = _check_float("log_every", self.log_every)
        if le <= 0:
            raise InputError(f"log_every={self.log_every!r} is not allowed: it must be > 0")
        object.__setattr__(self, "log_every", le)
        if self.layer_order not in ("odd_first", "even_first"):
            raise InputError(
                f"layer_order={self.layer_order!r} is not allowed: use 'odd_first' or 'even_first'"
            )
        if not isinstance(self.method, str) or self.method not in UNITARY_SOLVERS:
            raise InputError(
                f"method={self.method!r} is not allowed: choose one of {', '.join(UNITARY_SOLVERS)}"
            )
        for key in ("save_arrays", "retry_failed"):
            if not isinstance(getattr(self, key), bool):
                raise InputError(f"{key}={getattr(self, key)!r} is not allowed: use true or false")
        if not isinstance(self.dask_scheduler, str):
            raise InputError(
                f"dask_scheduler={self.dask_scheduler!r} is not allowed: give an "
                "address string such as 'tcp://host:8786'"
            )
        self._check_size()
        self._check_models()

    def _check_size(self) -> None:
        """The size limits of the module docstring (before anything is planned)."""
        points = math.prod(len(v) for _, v in self.params)
        cells = len(self.L) * points
        if cells > MAX_CELLS:
            raise InputError(
                f"a grid of {len(self.L)} L x {points} parameter point(s) = {cells} cells is not "
                f"allowed: a run holds at most {MAX_CELLS:,} cells (L, parameters); split it"
            )
        total = cells * self.samples
        if total > MAX_SAMPLES:
            raise InputError(
                f"samples={self.samples!r} is not allowed: {cells} cell(s) (L, parameters) x "
                f"{self.samples} samples = {total:,} samples and a run holds at most "
                f"{MAX_SAMPLES:,} in all; split it into several runs"
            )
        tasks = sum(
            points * -(-self.samples // (self.chunk or auto_chunk(Lv, self.samples)))
            for Lv in self.L
        )
        if tasks > MAX_TASKS:
            raise InputError(
                f"samples={self.samples!r} with chunk={self.chunk or 'auto'} is not allowed: "
                f"that makes {tasks:,} tasks and a run holds at most {MAX_TASKS:,}; raise chunk "
                "(samples per task) or split the run"
            )

    def _check_models(self) -> None:
        """Build the model of every cell (no operator): its constructor validates what the
        parameters cannot alone (the Floquet alpha against gue_scale, the planted flip against
        L), with the same one-line errors as the API."""
        from ..models.registry import make_model

        knobs = (
            {"gue_scale": self.gue_scale, "layer_order": self.layer_order}
            if self.model == "floquet"
            else {}
        )
        for Lv in self.L:
            for point in self.points():
                try:
                    make_model(self.model, Lv, self.seed, {**dict(point), **knobs})
                except InputError:
                    raise
                except Exception as exc:  # a user model's constructor may raise anything
                    msg = " ".join(str(exc).split()) or type(exc).__name__
                    where = ", ".join(f"{k}={v!r}" for k, v in point)
                    raise InputError(
                        f"model {self.model!r} at L={Lv}{', ' + where if where else ''} is not "
                        f"allowed: its constructor failed ({msg})"
                    ) from None

    def _normalise_grid(self) -> None:
        from ..models.registry import resolve

        if not isinstance(self.model, str) or not self.model:
            raise InputError(f"model={self.model!r} is not allowed: give a model name")
        cls = resolve(self.model)
        given = _as_params(self.params)
        names = [p.name for p in cls.parameters]
        alpha = tuple(self.alpha) if not isinstance(self.alpha, int | float) else (self.alpha,)
        if cls.family == "floquet":
            if alpha and "alpha" in given and list(alpha) != list(_as_list(given["alpha"])):
                raise InputError("alpha is given twice (alpha and params.alpha): give it once")
            if alpha:
                given["alpha"] = alpha
        elif alpha:
            raise InputError(
                f"alpha is not allowed for model {cls.family!r}: its parameters are "
                f"{', '.join(names) or 'none'}"
            )
        unknown = [k for k in given if k not in names]
        if unknown:
            raise InputError(
                f"parameter {unknown[0]!r} is not allowed for model {cls.family!r}: its "
                f"parameters are {', '.join(names) or 'none'}"
            )
        grid = []
        for p in cls.parameters:
            if p.name in given:
                values = _check_list(p.name, given[p.name], p.check)
            elif p.default is not None:
                values = (p.check(p.default),)
            else:
                flag = "--alpha" if p.name == "alpha" else f"--{p.name}"
                raise InputError(
                    f"{p.name} not given: set {flag} (or --param {p.name}=...) or put it in "
                    f"the config file ({p.name}: {p.meaning})"
                )
            grid.append((p.name, values))
        object.__setattr__(self, "model", cls.family)
        object.__setattr__(self, "params", tuple(grid))
        object.__setattr__(
            self, "alpha", dict(grid).get("alpha", ()) if cls.family == "floquet" else ()
        )

    def points(self) -> list[Point]:
        """Every grid point: the product of the parameters' values (first one outermost)."""
        names = [n for n, _ in self.params]
        return [
            tuple(zip(names, combo, strict=True))
            for combo in itertools.product(*(v for _, v in self.params))
        ]

    def identity(self) -> dict[str, Any]:
        """The keys that decide every record (:data:`IDENTITY_KEYS`)."""
        return {k: getattr(self, k) for k in IDENTITY_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-able dict of every key."""
        d = asdict(self)
        d["L"] = list(self.L)
        d["alpha"] = list(self.alpha)
        d["params"] = {n: list(v) for n, v in self.params}
        return d


def _as_params(value: object) -> dict[str, Any]:
    """``params`` as ``{name: values}``: a table (TOML), a dict or ``((name, values), ...)``."""
    if isinstance(value, dict):
        items = list(value.items())
    elif value is None or (isinstance(value, list | tuple) and not value):
        items = []
    elif isinstance(value, list | tuple) and all(
        isinstance(x, list | tuple) and len(x) == 2 for x in value
    ):
        items = [tuple(x) for x in value]
    else:
        raise InputTypeError(
            f"params={value!r} is not allowed: give a table of parameter values, e.g. "
            "params = { W = [5.0, 10.0] }"
        )
    for name, _ in items:
        if not isinstance(name, str):
            raise InputTypeError(f"params key {name!r} is not allowed: give parameter names")
    return dict(items)


def _as_list(value: object) -> list[Any]:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


#: Every key a config file may hold.
CONFIG_KEYS = tuple(f.name for f in fields(RunConfig))


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}")
    value = int(value)
    if value < minimum:
        raise InputError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name}={value!r} is not allowed: it must be <= {maximum}")
    return value


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name}={value!r} is not allowed: it must be a number")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r} is not allowed: it must be a number") from None
    if not math.isfinite(v):
        raise InputError(f"{name}={value!r} is not allowed: it must be a finite number")
    return v


def _check_list(name: str, value: object, check: Any) -> tuple:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        value = [value]
    out: list = []
    for v in value:
        if isinstance(v, str):
            raise InputError(f"{name}={v!r} is not allowed: give numbers, not strings")
        c = check(v)
        if c not in out:
            out.append(c)
    if not out:
        raise InputError(f"{name}=[] is not allowed: give at least one value")
    return tuple(out)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a dict of known keys (no validation of values yet)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"config file {str(p)!r} is not allowed: it does not exist") from None
    except OSError as exc:
        raise InputError(f"config file {str(p)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise InputError(f"config file {str(p)!r} is not valid TOML: {msg}") from None
    except UnicodeDecodeError as exc:  # a binary file (a .npy, an image, ...)
        raise InputError(
            f"config file {str(p)!r} is not allowed: it is not UTF-8 text (byte "
            f"{exc.start}: {exc.reason}); give a TOML file"
        ) from None
    unknown = [k for k in data if k not in CONFIG_KEYS]
    if unknown:
        raise InputError(
            f"config key {unknown[0]!r} in {str(p)!r} is not allowed: known keys are "
            f"{', '.join(CONFIG_KEYS)}"
        )
    return data


def make_config(config_file: str | Path | None = None, **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from an optional TOML file and explicit values.

    Values in ``overrides`` that are ``None`` are ignored (not given); the others replace the
    file's.  ``L``, ``samples`` and the model's parameters (``alpha`` for the Floquet model)
    must come from one of the two; ``params`` from both are merged (the explicit ones win).
    """
    data: dict[str, Any] = read_toml(config_file) if config_file is not None else {}
    for k, v in overrides.items():
        if k not in CONFIG_KEYS:
            raise InputError(
                f"config key {k!r} is not allowed: known keys are {', '.join(CONFIG_KEYS)}"
            )
        if v is not None:
            if k == "params" and isinstance(data.get("params"), dict):
                data["params"] = {**data["params"], **dict(v)}
            else:
                data[k] = v
    missing = [k for k in ("L", "samples") if k not in data]
    if missing:
        raise InputError(
            f"{', '.join(missing)} not given: set {' and '.join('--' + m for m in missing)} "
            "or put them in the config file"
        )
    return RunConfig(**data)
