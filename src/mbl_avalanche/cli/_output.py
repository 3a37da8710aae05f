"""Output paths of the command line: checked before the work, and write errors as one line.

:func:`check_output_file` and :func:`check_output_dir` look before anything is computed, without
creating or touching anything (so that a bad value elsewhere on the command line leaves the
filesystem as it was): the folder that will hold the output must exist (or, for a folder, its
nearest existing ancestor must be a folder) and be writable.  Some places pass that look and
still refuse the write (``/proc``, a read-only mount, a full disk); :func:`output_errors` turns
the ``OSError`` of the write itself into the same one-line
:class:`~mbl_avalanche.errors.InputError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

__all__ = ["check_output_dir", "check_output_file", "output_errors"]


def _label(flag: str, path: object) -> str:
    return f"{flag} {str(path)!r}" if flag.startswith("-") else f"{flag}={str(path)!r}"


def check_output_file(
    path: str | os.PathLike[str], flag: str, suffixes: Sequence[str] | None = None
) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there, else a one-line
    :class:`InputError` naming ``flag`` and the path (``suffixes``: the allowed extensions)."""
    out = Path(path)
    if suffixes is not None and out.suffix.lower() not in suffixes:
        raise InputError(
            f"{_label(flag, path)} is not allowed: use a name ending in {', '.join(suffixes)}"
        )
    if str(path) == "" or out.is_dir():
        raise InputError(f"{_label(flag, path)} is not allowed: it is a folder, give a file name")
    parent = out.parent
    if not parent.exists():
        raise InputError(
            f"{_label(flag, path)} is not allowed: folder {str(parent)!r} does not exist"
        )
    if not parent.is_dir():
        raise InputError(f"{_label(flag, path)} is not allowed: {str(parent)!r} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InputError(f"{_label(flag, path)} is not allowed: it cannot be written (permission)")
    return out


def check_output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a folder can be made or written there (nothing is
    created yet), else a one-line :class:`InputError` naming ``flag`` and the path."""
    out = Path(path)
    if str(path) == "":
        raise InputError(f"{flag}='' is not allowed: give a folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"{_label(flag, path)} is not allowed: it is a file, not a folder")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(
            f"{_label(flag, path)} is not allowed: {str(probe)!r} is a file, not a folder"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{_label(flag, path)} is not allowed: it cannot be written (permission)")
    return out


@contextmanager
def output_errors(flag: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into a one-line :class:`InputError`."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        why = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise InputError(
            f"{_label(flag, path)} is not allowed: cannot write it: {why}{where}"
        ) from None
