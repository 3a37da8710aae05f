"""The on-disk run directory of an ensemble: config, provenance and crash-safe shard files.

Layout of ``OUTDIR``::

    config.json            physics identity (seed, gue_scale, layer_order, method) and the grid
                           targets {(L, alpha): samples} of every invocation so far (merged)
    provenance.json        provenance of the first invocation
    provenance/RUNID.json  provenance of every invocation (package version, git revision,
                           numpy/scipy/BLAS versions and threads, host, command line, ...)
    shards/TASK__RUNID.jsonl    one file per finished task (written by the driver)
    shards/TASK__RUNID.h5       its arrays (theta, c per sample) with ``--save-arrays``
    shards/corrupt/        shards that failed their check, moved aside by ``run``

Crash safety: every file is written under a temporary name (``.tmp-*``) in the same directory,
flushed, fsync'ed and renamed with :func:`os.replace` (atomic on POSIX filesystems, NFS and Lustre
included), so a reader sees either the whole file or none.  Writers never share a file name (the
run id holds host, pid and a random part), so several processes or nodes can fill one run
directory at once.

Shard format (JSON lines, UTF-8): a header line ``{"mbl_avalanche_shard": 1, "record_version":
1, ...}``, one record per line (columns of :mod:`mbl_avalanche.record`: names, dtypes and the key
columns are validated when a shard is written and when it is read; the runner checks that every
record is complete; shards written before the record version existed hold version 1), and a
footer line ``{"end": true, "records": n, "sha256": ...}`` whose hash covers every
byte before it.  A shard without a valid footer, with a wrong hash or count, or whose arrays file
is missing or has a wrong hash, is *corrupt*: never read, reported, and its samples are redone.
Floats are written with ``repr`` (``NaN``/``Infinity`` as Python's ``json`` does), so they read
back bit for bit.

Several shards may hold the same sample (two writers raced, or a failed sample was retried):
:func:`load_run` keeps one record per ``(L, alpha, sample)``, an ``ok`` one if any, else the
first in shard-name order.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .. import record
from ..errors import InputError, NotARunDirectory
from ..resources import cpu_count, sample_seconds
from .config import IDENTITY_KEYS, RunConfig

__all__ = [
    "SHARD_FORMAT",
    "CorruptShard",
    "Scan",
    "atomic_write_bytes",
    "atomic_write_json",
    "drop_volatile",
    "identity_of",
    "init_run",
    "load_arrays",
    "load_run",
    "new_run_id",
    "provenance",
    "read_run_config",
    "read_shard",
    "record_identity",
    "records_frame",
    "remove_stale_temporaries",
    "run_status",
    "scan",
    "shard_files",
    "targets_of",
    "write_provenance",
    "write_shard",
]

SHARD_FORMAT = 1
SHARD_DIR = "shards"
CORRUPT_DIR = "corrupt"
#: Columns that vary between identical computations (host, timings; the record schema says).
VOLATILE_COLUMNS = record.VOLATILE
#: Bookkeeping columns of the runner and the store, placed last in tables.
BOOKKEEPING_COLUMNS = tuple(record.column_names("runner") + record.column_names("store"))

SampleKey = tuple[Any, ...]  # (model, L, point, sample): record.record_key


class CorruptShard(Exception):  # a condition, not an error raised to users
    """A shard file that failed its check (message says why)."""


# ----------------------------------------------------------------------------- atomic writes


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same dir, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    """``atomic_write_bytes`` of indented JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def new_run_id() -> str:
    """A unique id of one driver invocation: UTC time, host, pid and a random part."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40]
    return f"{now}-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# ----------------------------------------------------------------------------- config


def config_path(outdir: Path) -> Path:
    return Path(outdir) / "config.json"


def read_run_config(outdir: str | Path) -> dict[str, Any] | None:
    """The stored ``config.json`` of a run directory, or None if there is none."""
    p = config_path(Path(outdir))
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{str(p)!r} is not a readable run config ({' '.join(str(exc).split())}): restore it, "
            "or remove it to have run rebuild it from the shards' settings"
        ) from None


Point = tuple[tuple[str, Any], ...]


def _point(p: Mapping[str, Any] | float | None) -> Point:
    """A grid point from a mapping of parameters, or a bare Floquet alpha."""
    if p is None:
        return ()
    if isinstance(p, Mapping):
        return tuple((str(k), v) for k, v in p.items())
    return (("alpha", float(p)),)


def stored_model(stored: dict[str, Any] | None) -> str:
    """The model family of a stored config (runs made before models: the Floquet model)."""
    if not stored:
        return "floquet"
    return str(stored.get("identity", {}).get("model", "floquet"))


def targets_of(stored: dict[str, Any] | None) -> dict[tuple[int, Point], int]:
    """``{(L, point): samples}`` of a stored config (``point``: ``((name, value), ...)``;
    configs written before models held ``{"L", "alpha", "samples"}``)."""
    if not stored:
        return {}
    return {
        (int(t["L"]), _point(t["params"] if "params" in t else t.get("alpha"))): int(t["samples"])
        for t in stored["targets"]
    }


def _declare_stored_model(stored: dict[str, Any] | None) -> None:
    """Declare a user model's parameter columns from a stored config (no import needed)."""
    if not stored or "parameters" not in stored:
        return
    record.declare_model(
        stored_model(stored),
        [
            record.Column(c["name"], c["dtype"], "model", c.get("meaning", ""))
            for c in stored["parameters"]
        ],
    )


def record_identity(cfg: RunConfig) -> tuple[tuple[str, Any], ...]:
    """What :func:`identity_of` gives for a record computed under ``cfg``."""
    ident: dict[str, Any] = {"model": cfg.model, "seed": cfg.seed}
    for k in record.MODEL_KNOBS.get(cfg.model, ()):
        ident[k] = getattr(cfg, k)
    return tuple(sorted(ident.items()))


def identity_of(rec: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """``((name, value), ...)`` of the settings that decided a record: its model, root seed and
    the model's convention knobs (:data:`mbl_avalanche.record.MODEL_KNOBS`)."""
    model = str(rec.get("model", "floquet"))
    ident: dict[str, Any] = {"model": model, "seed": rec.get("seed")}
    for k in record.MODEL_KNOBS.get(model, ()):
        ident[k] = rec.get(k)
    return tuple(sorted(ident.items()))


def _describe(ident: tuple[tuple[str, Any], ...]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in ident)


def init_run(outdir: str | Path, cfg: RunConfig, log: Any = None) -> dict[str, Any]:
    """Create or reopen a run directory for ``cfg``; returns the stored config.

    A reopened directory must have the same physics identity (:data:`IDENTITY_KEYS`), else
    :class:`InputError`.  The grid targets are merged (largest sample count per ``(L, alpha)``).
    A directory that holds shards but no ``config.json`` (deleted, or lost in a crash of the
    filesystem) is reopened only if every stored record was made with ``cfg``'s model, seed and
    knobs (the config is then written anew, with a note on ``log``); otherwise
    :class:`InputError`, so that samples of different settings never mix.
    """
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError(f"OUTDIR={str(out)!r} is not allowed: it is a file, not a directory")
    (out / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    (out / "provenance").mkdir(exist_ok=True)
    stored = read_run_config(out)
    if stored is None and shard_files(out):
        want = record_identity(cfg)
        found = {identity_of(r) for r in scan(out).records}
        other = sorted(found - {want})
        if other:
            raise InputError(
                f"OUTDIR={str(out)!r} is not allowed for this run: it has no config.json but "
                f"holds samples made with {_describe(other[0])}, not {_describe(want)} (give "
                "those settings, or another OUTDIR)"
            )
        if log is not None:
            print(
                f"mbl-avalanche run: {str(out)!r} had shards but no config.json; their samples "
                f"were made with these settings ({_describe(want)}): config.json written anew",
                file=log,
            )
    if stored is not None:
        for k in IDENTITY_KEYS:
            old = stored["identity"].get(k, "floquet" if k == "model" else None)
            if old != getattr(cfg, k):
                raise InputError(
                    f"{k}={getattr(cfg, k)!r} is not allowed for OUTDIR={str(out)!r}: that run "
                    f"has {k}={old!r} (use another OUTDIR)"
                )
    targets = targets_of(stored)
    for Lv in cfg.L:
        for pt in cfg.points():
            targets[(Lv, pt)] = max(targets.get((Lv, pt), 0), cfg.samples)
    new: dict[str, Any] = {
        "mbl_avalanche_run": 1,
        "identity": cfg.identity(),
        "targets": [{"L": k[0], "params": dict(k[1]), "samples": v} for k, v in targets.items()],
        "last_config": cfg.to_dict(),
    }
    from ..models.registry import MODELS, resolve

    if cfg.model not in MODELS:  # a user model: its columns, so the run reads without it
        cls = resolve(cfg.model)
        new["parameters"] = [
            {"name": p.name, "dtype": "int" if p.integer else "float", "meaning": p.meaning}
            for p in cls.parameters
        ]
    if new != stored:
        atomic_write_json(config_path(out), new)
    return new


# ----------------------------------------------------------------------------- provenance


def _git_revision() -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return {"revision": rev, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def provenance(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where, with what and how a driver runs: versions, BLAS and threads, host, command."""
    import scipy
    import threadpoolctl

    from .._version import __version__

    try:
        blas = [
            {
                k: info.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "num_threads",
                    "threading_layer",
                    "filepath",
                    "architecture",
                )
            }
            for info in threadpoolctl.threadpool_info()
        ]
    except Exception as exc:  # provenance must never stop a run
        blas = [{"error": repr(exc)}]
    env_threads = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    p = {
        "package": "mbl-avalanche",
        "version": __version__,
        "git": _git_revision(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas,
        "thread_env": env_threads,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": cpu_count(),
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "started_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    p.update(extra or {})
    return p


def write_provenance(outdir: str | Path, run_id: str, info: dict[str, Any]) -> None:
    """Save ``info`` as ``provenance/RUN_ID.json`` (and as ``provenance.json`` if first)."""
    out = Path(outdir)
    atomic_write_json(out / "provenance" / f"{run_id}.json", info)
    top = out / "provenance.json"
    if not top.exists():
        atomic_write_json(top, info)


# ----------------------------------------------------------------------------- shards


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_arrays(
    path: Path, L: int, point: Mapping[str, Any], arrays: dict[int, dict[str, np.ndarray]]
) -> str:
    """Write the arrays HDF5 file atomically; returns its sha256."""
    import h5py

    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["L"] = L
            f.attrs["point"] = json.dumps(dict(point))
            if "alpha" in point:
                f.attrs["alpha"] = point["alpha"]
            for s in sorted(arrays):
                g = f.create_group(f"s{s:07d}")
                g.attrs["sample"] = s
                for name, a in arrays[s].items():
                    g.create_dataset(name, data=a)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = _sha256_file(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return digest


def write_shard(
    outdir: str | Path,
    task_name: str,
    run_id: str,
    L: int,
    alpha: float | Mapping[str, Any],
    records: list[dict[str, Any]],
    arrays: dict[int, dict[str, np.ndarray]] | None = None,
) -> Path:
    """Write one finished task's records (and arrays) as a new shard; returns its path.

    ``alpha`` is the task's grid point: a mapping of the model's parameters, or a bare Floquet
    ``alpha``; the header holds it as ``"point"`` (and ``"alpha"`` for the Floquet model).
    """
    for r in records:
        record.validate(r, require="key", where=f"shard {task_name}")
    sdir = Path(outdir) / SHARD_DIR
    stem = f"{task_name}__{run_id}"
    header: dict[str, Any] = {
        "mbl_avalanche_shard": SHARD_FORMAT,
        "record_version": record.RECORD_VERSION,
        "task": task_name,
        "run_id": run_id,
        "L": L,
        "model": str(records[0].get("model", "floquet")) if records else "floquet",
        "point": dict(_point(alpha)),
        "samples": [r["sample"] for r in records],
        "arrays": None,
        "arrays_sha256": None,
    }
    if "alpha" in header["point"]:
        header["alpha"] = header["point"]["alpha"]
    if arrays:
        h5 = sdir / f"{stem}.h5"
        header["arrays_sha256"] = _write_arrays(h5, L, header["point"], arrays)
        header["arrays"] = h5.name
    lines = [_dumps(header)] + [_dumps(r) for r in records]
    body = ("\n".join(lines) + "\n").encode()
    footer = _dumps(
        {"end": True, "records": len(records), "sha256": hashlib.sha256(body).hexdigest()}
    )
    path = sdir / f"{stem}.jsonl"
    atomic_write_bytes(path, body + footer.encode() + b"\n")
    return path


def read_shard(path: str | Path, check_arrays: bool = True) -> tuple[dict, list[dict]]:
    """Header and records of a shard; raises :class:`CorruptShard` if it fails its check.

    An intact shard of a newer record version than this package knows, or whose records do not
    follow the schema, raises :class:`~mbl_avalanche.errors.InputError`: it is not corrupt, so it
    is never quarantined or redone.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        raise CorruptShard("truncated (no final newline)")
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    body, last = data[:cut], data[cut:]
    try:
        footer = json.loads(last)
    except ValueError:
        raise CorruptShard("truncated or damaged (no valid footer)") from None
    if not isinstance(footer, dict) or footer.get("end") is not True:
        raise CorruptShard("truncated (no footer)")
    if hashlib.sha256(body).hexdigest() != footer.get("sha256"):
        raise CorruptShard("checksum mismatch")
    try:
        lines = body.decode().splitlines()
        header = json.loads(lines[0])
        records = [json.loads(x) for x in lines[1:]]
    except (ValueError, IndexError) as exc:
        raise CorruptShard(f"unreadable ({exc})") from None
    if header.get("mbl_avalanche_shard") != SHARD_FORMAT:
        raise CorruptShard("not a shard of a known format")
    if len(records) != footer.get("records"):
        raise CorruptShard("record count mismatch")
    version = header.get("record_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InputError(
            f"shard {path.name!r} is not allowed here: record_version={version!r} is not an "
            "integer (not a shard of mbl-avalanche)"
        )
    if version is not None and version > record.RECORD_VERSION:
        raise InputError(
            f"shard {path.name!r} is not allowed here: it holds record version {version}, newer "
            f"than this package's {record.RECORD_VERSION} (upgrade mbl-avalanche to read it)"
        )
    try:
        records = [record.upgrade(r, version) for r in records]
        for r in records:
            record.validate(r, require="key", where=path.name)
    except record.SchemaError as exc:
        # intact (its checksum holds) but not of this schema: never quarantined or redone
        raise InputError(f"shard {path.name!r} is not allowed here: {exc}") from None
    if check_arrays and header.get("arrays"):
        h5 = path.with_name(header["arrays"])
        if not h5.exists():
            raise CorruptShard(f"arrays file {h5.name} missing")
        if _sha256_file(h5) != header.get("arrays_sha256"):
            raise CorruptShard(f"arrays file {h5.name} checksum mismatch")
    return header, records


@dataclass
class Scan:
    """What a run directory holds: every valid record (with its shard name) and corrupt shards."""

    records: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    shards: int = 0

    def best(self) -> dict[SampleKey, dict[str, Any]]:
        """One record per sample (:func:`mbl_avalanche.record.record_key`: model, L,
        parameters, sample): an ok one if any, else the first."""
        out: dict[SampleKey, dict[str, Any]] = {}
        for r in self.records:
            key = record.record_key(r)
            old = out.get(key)
            if old is None or (old.get("status") != "ok" and r.get("status") == "ok"):
                out[key] = r
        return out


def shard_files(outdir: str | Path) -> list[Path]:
    """Shard files of a run directory, sorted by name (temporary files excluded)."""
    sdir = Path(outdir) / SHARD_DIR
    if not sdir.is_dir():
        return []
    return sorted(p for p in sdir.glob("*.jsonl") if not p.name.startswith(".tmp-"))


def scan(outdir: str | Path, quarantine: bool = False, check_arrays: bool = True) -> Scan:
    """Read every shard.  Corrupt ones are listed (and moved to ``shards/corrupt/`` if asked).

    A user model's parameter columns are declared from the run's ``config.json`` first.
    """
    res = Scan()
    _declare_stored_model(read_run_config(outdir))
    for p in shard_files(outdir):
        try:
            _, records = read_shard(p, check_arrays=check_arrays)
        except FileNotFoundError:  # moved away by another process meanwhile
            continue
        except (CorruptShard, OSError) as exc:
            res.corrupt.append((p.name, str(exc)))
            if quarantine:
                _quarantine(p)
            continue
        res.shards += 1
        for r in records:
            r["shard"] = p.name
            res.records.append(r)
    return res


def _quarantine(p: Path) -> None:
    cdir = p.parent / CORRUPT_DIR
    cdir.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(p, cdir / p.name)
    h5 = p.with_suffix(".h5")
    with contextlib.suppress(FileNotFoundError):
        os.replace(h5, cdir / h5.name)


def remove_stale_temporaries(outdir: str | Path, older_than_s: float = 3600.0) -> int:
    """Delete what killed writers left: ``.tmp-*`` files, and arrays files whose shard never
    appeared (killed between the two renames).  Only old ones: others may be writing now."""
    sdir = Path(outdir) / SHARD_DIR
    n = 0
    now = time.time()
    stale = [
        *sdir.glob(".tmp-*"),
        *(h for h in sdir.glob("*.h5") if not h.with_suffix(".jsonl").exists()),
    ]
    for p in stale:
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
                n += 1
    return n


# ----------------------------------------------------------------------------- tables


def _column_order(records: Iterable[dict[str, Any]]) -> list[str]:
    """Schema order (bookkeeping last), then any column the schema does not know."""
    present: dict[str, None] = {}
    for r in records:
        for k in r:
            present.setdefault(k, None)
    main = [c for c in record.COLUMNS if c in present and c not in BOOKKEEPING_COLUMNS]
    extra = [c for c in present if c not in record.COLUMNS]
    return main + extra + [c for c in BOOKKEEPING_COLUMNS if c in present]


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame of records, sorted by ``(model, L, parameters, sample)``, in schema order
    (bookkeeping
    last), with the schema's dtypes (nullable ``Int64``/``boolean`` where failed samples leave
    holes)."""
    import pandas as pd

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        model, L, point, sample = record.record_key(r)
        return (model, L, tuple(v for _, v in point), sample)

    recs = sorted(records, key=order)
    cols = _column_order(recs)
    df = pd.DataFrame.from_records(recs, columns=cols)
    for c in df.columns:
        if df[c].dtype == object:  # mixed (e.g. failed rows): missing as None, not NaN
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    missing = {c: bool(df[c].isna().any()) for c in df.columns}
    df = df.astype(record.table_dtypes(df.columns, missing))
    return df.reset_index(drop=True)


def load_run(outdir: str | Path, failed: bool = True) -> pd.DataFrame:
    """The table of a run directory: one row per finished sample.

    Parameters
    ----------
    outdir : path
        The run directory.
    failed : bool
        Keep samples whose analysis failed (``status == "failed"``, with their ``error``).

    Returns
    -------
    pandas.DataFrame
        Every scalar of :meth:`SampleResult.scalars` plus ``status``, ``error``,
        ``blas_threads``, ``host``, ``wall_time`` and ``shard`` (the file it came from); sorted by
        ``(L, alpha, sample)``, no duplicates.  Corrupt shards are skipped with a warning.
    """
    out = Path(outdir)
    if not out.is_dir():
        raise NotARunDirectory(f"OUTDIR={str(out)!r} is not allowed: no such run directory")
    if not (config_path(out).exists() or (out / SHARD_DIR).is_dir()):
        raise NotARunDirectory(
            f"OUTDIR={str(out)!r} is not allowed: it is not a run directory (no config.json, "
            "no shards/)"
        )
    sc = scan(out)
    for name, why in sc.corrupt:
        warnings.warn(f"skipping corrupt shard {name}: {why} (run again to redo it)", stacklevel=2)
    recs = list(sc.best().values())
    idents = {identity_of(r) for r in sc.records}
    if len(idents) > 1:
        raise InputError(
            f"OUTDIR={str(out)!r} is not allowed: it mixes samples of different settings ("
            + "; ".join(_describe(i) for i in sorted(idents, key=str)[:3])
            + "; an older mbl-avalanche did not refuse this): move the shards of each setting "
            "into a run directory of its own"
        )
    if not failed:
        recs = [r for r in recs if r.get("status") == "ok"]
    return records_frame(recs)


def drop_volatile(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the columns that differ between identical computations (timings, host)."""
    return df.drop(columns=[c for c in df.columns if record.is_volatile(str(c))])


def load_arrays(
    outdir: str | Path, L: int, alpha: float | Mapping[str, Any], sample: int
) -> dict[str, np.ndarray]:
    """The saved arrays (``theta``, ``c``) of one sample of a run made with ``--save-arrays``.

    ``alpha`` is the sample's grid point: a mapping of parameters, or a Floquet ``alpha``.
    """
    want = dict(_point(alpha))
    import h5py

    key = f"s{int(sample):07d}"
    for p in shard_files(outdir):
        try:
            header, _ = read_shard(p)
        except (CorruptShard, OSError):
            continue
        if (
            header.get("arrays")
            and int(header["L"]) == int(L)
            and header.get("point", {"alpha": header.get("alpha")}) == want
            and int(sample) in header["samples"]
        ):
            with h5py.File(p.with_name(header["arrays"]), "r") as f:
                if key in f:
                    return {k: np.asarray(v) for k, v in f[key].items()}
    raise InputError(
        f"sample (L={L}, alpha={alpha}, sample={sample}) has no saved arrays in "
        f"{str(outdir)!r} (run with --save-arrays)"
    )


# ----------------------------------------------------------------------------- status


def run_status(outdir: str | Path) -> pd.DataFrame:
    """Progress of a run directory per ``(L, alpha)`` of its targets.

    Returns
    -------
    pandas.DataFrame
        Columns ``L``, one per model parameter (``alpha`` for the Floquet model), ``total, done,
        failed, left, s_per_sample`` (mean wall seconds of the
        finished samples, NaN if none) and ``time_left_s`` (``left * s_per_sample``, for one
        worker; where no sample of that ``(L, alpha)`` has finished yet, estimated from the
        nearest ``L`` that has, preferring the same alpha, scaled by the cost model's ratio
        :func:`mbl_avalanche.resources.sample_seconds`); plus ``df.attrs["corrupt"]``, the
        corrupt shards.
    """
    import pandas as pd

    out = Path(outdir)
    stored = read_run_config(out)
    if stored is None:
        raise InputError(f"OUTDIR={str(out)!r} is not allowed: it holds no run (no config.json)")
    sc = scan(out)
    best = sc.best()
    model = stored_model(stored)
    rows = []
    names: list[str] = []
    for (Lv, pt), total in targets_of(stored).items():
        names += [n for n, _ in pt if n not in names]
        recs = [
            r
            for (km, kL, kp, ks), r in best.items()
            if km == model and kL == Lv and kp == pt and ks < total
        ]
        ok = [r for r in recs if r.get("status") == "ok"]
        times = [float(r["wall_time"]) for r in ok if r.get("wall_time") is not None]
        mean = float(np.mean(times)) if times else float("nan")
        left = total - len(recs)
        rows.append(
            dict(
                L=Lv,
                **dict(pt),
                total=total,
                done=len(ok),
                failed=len(recs) - len(ok),
                left=left,
                s_per_sample=mean,
                time_left_s=left * mean if left else 0.0,
                _point=pt,
            )
        )
    known = [
        (r["L"], r["_point"], r["s_per_sample"]) for r in rows if np.isfinite(r["s_per_sample"])
    ]
    for r in rows:
        if r["left"] and not np.isfinite(r["s_per_sample"]) and known:
            Lk, _, sk = min(known, key=lambda k: (abs(k[0] - r["L"]), k[1] != r["_point"]))
            ratio = sample_seconds(int(r["L"]), model=model) / sample_seconds(int(Lk), model=model)
            r["time_left_s"] = r["left"] * sk * ratio
    for r in rows:
        del r["_point"]
    df = pd.DataFrame(
        rows,
        columns=["L", *names, "total", "done", "failed", "left", "s_per_sample", "time_left_s"],
    )
    df.attrs["model"] = model
    df.attrs["corrupt"] = sc.corrupt
    return df
