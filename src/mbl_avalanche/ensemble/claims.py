"""Claims: which process computes which task of a shared run directory.

Several drivers (``mbl-avalanche run`` processes on one host, or SLURM array tasks on many hosts
of a shared filesystem) may fill one run directory at once.  Before computing a task a driver
*claims* it; a task whose claim is live is left to its holder, so no task is computed twice and
the drivers share the grid.

Layout: ``OUTDIR/claims/TASK.claim``, a small JSON file ``{"task", "run_id", "host", "pid",
"token", "claimed_utc"}``.  It is created complete and atomically: written under a temporary name
and hard-linked to its final name with :func:`os.link`, which fails if the name exists (atomic on
POSIX filesystems, NFS and Lustre included: the classic NFS-safe lock file).  Its *modification
time is the heartbeat*: a thread of the holder touches every claim it holds every
:data:`HEARTBEAT_S` seconds, after checking that the file still holds its token.

A claim is **stale**, and may be taken over, when

* its holder ran on this host and that process no longer exists (killed with -9, say), or
* its heartbeat has not moved for ``stale_after`` seconds of this process's monotonic clock
  (a holder on another host that died or lost the filesystem; measured locally, so the clocks of
  the hosts need not agree), or its modification time is more than three times ``stale_after``
  in the past by the wall clock (so a new driver need not wait to see a claim that has been dead
  for long; assumes the hosts' clocks agree to within twice ``stale_after``).

A takeover renames the stale file to a unique name (only one renamer can succeed), checks that
what it moved is the very claim it judged stale (same bytes, hence same token), deletes it and
claims anew; if it moved a fresh claim instead (another driver took the task over in between),
it puts it back with :func:`os.link` and gives up.  A holder whose claim was taken over finds
out at its next heartbeat (:meth:`ClaimBook.lost`); the runner then still refuses to store a
sample another process stored first, so no sample is ever stored twice.

A claim is released (deleted) when its task's shard is written, when its task turns out to be
done, and when the driver stops (Ctrl-C, SIGTERM, an error); a SIGKILL leaves it, and it goes
stale as above.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CLAIM_DIR",
    "HEARTBEAT_S",
    "STALE_AFTER_S",
    "ClaimBook",
    "ClaimInfo",
    "read_claims",
]

#: Sub-folder of a run directory that holds the claims.
CLAIM_DIR = "claims"
#: Seconds between two heartbeats of a holder.
HEARTBEAT_S = 10.0
#: Default seconds without a heartbeat after which a claim of another host is stale.
STALE_AFTER_S = 120.0


@dataclass(frozen=True)
class ClaimInfo:
    """What a claim file says (``raw``: its bytes; ``mtime_ns``: its heartbeat)."""

    task: str
    run_id: str
    host: str
    pid: int
    token: str
    raw: bytes
    mtime_ns: int

    @property
    def holder(self) -> str:
        """``host:pid`` of the holder, for messages."""
        return f"{self.host}:{self.pid}"


def _read(path: Path) -> ClaimInfo | None:
    """The claim at ``path``, or None if there is none (or it is not a claim)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
            mtime = os.fstat(fh.fileno()).st_mtime_ns
        d = json.loads(raw)
        return ClaimInfo(
            str(d["task"]), str(d["run_id"]), str(d["host"]), int(d["pid"]), str(d["token"]),
            raw, mtime,
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process of that pid
        return True
    return True


def read_claims(outdir: str | Path) -> list[ClaimInfo]:
    """Every claim of a run directory now (for ``status``)."""
    cdir = Path(outdir) / CLAIM_DIR
    if not cdir.is_dir():
        return []
    out = []
    for p in sorted(cdir.glob("*.claim")):
        info = _read(p)
        if info is not None:
            out.append(info)
    return out


class ClaimBook:
    """The claims one driver holds in ``outdir``, with their heartbeat thread.

    Parameters
    ----------
    outdir : path
        The run directory.
    run_id : str
        The driver's run id (written into its claims).
    stale_after : float
        Seconds without a heartbeat after which another host's claim is stale
        (default :data:`STALE_AFTER_S`).
    heartbeat : float
        Seconds between heartbeats (default :data:`HEARTBEAT_S`; at most ``stale_after / 4``).
    """

    def __init__(
        self,
        outdir: str | Path,
        run_id: str,
        *,
        stale_after: float = STALE_AFTER_S,
        heartbeat: float = HEARTBEAT_S,
    ) -> None:
        self.dir = Path(outdir) / CLAIM_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.stale_after = float(stale_after)
        self.heartbeat = min(float(heartbeat), self.stale_after / 4.0)
        self._held: dict[str, str] = {}  # task -> token
        self._lost: set[str] = set()
        self._seen: dict[str, tuple[int, float]] = {}  # task -> (mtime_ns, first seen)
        self.taken_over: list[tuple[str, str]] = []  # (task, holder) taken from a stale claim
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mbl-claims", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ claiming

    def path(self, task: str) -> Path:
        return self.dir / f"{task}.claim"

    def _create(self, task: str) -> bool:
        token = uuid.uuid4().hex
        body = {
            "task": task,
            "run_id": self.run_id,
            "host": self.host,
            "pid": self.pid,
            "token": token,
            "claimed_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        tmp = self.dir / f".tmp-{token}.claim"
        try:
            with open(tmp, "wb") as fh:
                fh.write(json.dumps(body).encode())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path(task))
            except FileExistsError:
                return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        with self._lock:
            self._held[task] = token
            self._lost.discard(task)
        return True

    def stale(self, info: ClaimInfo) -> bool:
        """Whether the claim ``info`` is stale (see the module docstring)."""
        if info.host == self.host and not _pid_alive(info.pid):
            return True
        if time.time() - info.mtime_ns / 1e9 > 3.0 * self.stale_after:
            return True
        now = time.monotonic()
        seen = self._seen.get(info.task)
        if seen is None or seen[0] != info.mtime_ns:
            self._seen[info.task] = (info.mtime_ns, now)
            return False
        return now - seen[1] > self.stale_after

    def try_claim(self, task: str) -> bool:
        """Claim ``task``; False if another process holds a live claim on it."""
        if task in self._held:
            return True
        if self._create(task):
            return True
        info = _read(self.path(task))
        if info is None:  # released meanwhile (or not a claim): try once more
            return self._create(task)
        if info.token in self._held.values():  # pragma: no cover - our own
            return True
        if not self.stale(info):
            return False
        return self._take_over(task, info)

    def _take_over(self, task: str, info: ClaimInfo) -> bool:
        path = self.path(task)
        dead = self.dir / f".dead-{uuid.uuid4().hex}.claim"
        try:
            os.rename(path, dead)
        except FileNotFoundError:  # released meanwhile
            return self._create(task)
        moved = _read(dead)
        if moved is None or moved.raw != info.raw:
            # a fresh claim of another driver: put it back unless the task was claimed again
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.link(dead, path)
            with contextlib.suppress(FileNotFoundError):
                dead.unlink()
            return False
        with contextlib.suppress(FileNotFoundError):
            dead.unlink()
        self._seen.pop(task, None)
        if self._create(task):
            self.taken_over.append((task, info.holder))
            return True
        return False

    def sweep(self) -> int:
        """Remove the stale claims of tasks nobody computes any more (their holders died after
        the task was stored, or before anyone came back to it); returns how many."""
        n = 0
        for p in sorted(self.dir.glob("*.claim")):
            task = p.name[: -len(".claim")]
            if task in self._held:
                continue
            info = _read(p)
            if info is None or not self.stale(info):
                continue
            if self._take_over(task, info):
                self.taken_over.pop()
                self.release(task)
                n += 1
        return n

    def holder(self, task: str) -> str | None:
        """``host:pid`` holding ``task`` now, or None."""
        info = _read(self.path(task))
        return info.holder if info is not None else None

    def release(self, task: str) -> None:
        """Delete our claim on ``task`` (if it is still ours)."""
        with self._lock:
            token = self._held.pop(task, None)
            self._lost.discard(task)
        if token is None:
            return
        path = self.path(task)
        info = _read(path)
        if info is not None and info.token == token:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def lost(self, task: str) -> bool:
        """Whether our claim on ``task`` was taken over by another driver."""
        with self._lock:
            return task in self._lost

    @property
    def held(self) -> list[str]:
        with self._lock:
            return list(self._held)

    # ------------------------------------------------------------------ heartbeat

    def beat(self) -> None:
        """Touch every claim we hold (checking it is still ours); claims taken over are lost."""
        with self._lock:
            held = dict(self._held)
        for task, token in held.items():
            path = self.path(task)
            info = _read(path)
            if info is None or info.token != token:
                with self._lock:
                    if self._held.get(task) == token:
                        self._lost.add(task)
                continue
            with contextlib.suppress(OSError):
                os.utime(path)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with contextlib.suppress(Exception):  # a heartbeat must never stop a run
                self.beat()

    def close(self) -> None:
        """Stop the heartbeat and release every claim."""
        self._stop.set()
        for task in self.held:
            with contextlib.suppress(OSError):
                self.release(task)

    def __enter__(self) -> ClaimBook:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
