"""The command line: a thin door on the package (argument parsing and printing only).

Each subcommand lives in its own module of this package, which defines ``register(subparsers)``
(adding its parser, with ``func`` set as a default) and the function that runs it.  Bad input
raises :class:`~mbl_avalanche.errors.InputError`; :func:`main` prints its one-line message as
``mbl-avalanche: error: ...`` on stderr and exits with code 2.

Exit codes: 0 success; 1 worker processes died on some task and its samples were left to do
(``run``: everything else was saved; run again); 2 bad input or a fault the user must fix (a full
disk, a read-only folder: one line on stderr); 130 interrupted (Ctrl-C, SIGTERM to ``run``:
finished samples are kept); 141 the reader of stdout went away (e.g. ``| head``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from ..errors import InputError

#: Exit code when the reader of stdout went away (128 + SIGPIPE, as a shell reports it).
EXIT_CLOSED_PIPE = 141

__all__ = [
    "COMMAND_MODULES",
    "EXIT_CLOSED_PIPE",
    "build_parser",
    "main",
]

#: Subcommand modules, in the order they are listed by ``--help``.
COMMAND_MODULES = (
    "sample",
    "inspect",
    "dynamics",
    "run",
    "table",
    "status",
    "slurm_script",
    "figures",
    "report",
    "landmark",
    "reproduce",
)


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    from .._version import __version__

    parser = _Parser(
        prog="mbl-avalanche",
        description="Avalanches and many-body resonances in MBL chains coupled to a bath "
        "(Ha, Morningstar & Huse, PRL 130, 250405 (2023)).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as one line ``mbl-avalanche: warning: ...`` on stderr (no source line)."""
    text = " ".join(str(message).split())
    print(f"mbl-avalanche: warning: {text}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mbl-avalanche`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"mbl-avalanche: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mbl-avalanche: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed by the reader (e.g. piped into head): stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        except OSError:
            pass
        return EXIT_CLOSED_PIPE
    except OSError as exc:  # full disk, read-only or vanished folder: the user must fix it
        print(f"mbl-avalanche: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


#: What to do about an operating-system error, by errno.
_OS_HINTS = {
    errno.ENOSPC: "free some space and run again (finished samples are kept)",
    errno.EDQUOT: "free some of your quota and run again (finished samples are kept)",
    errno.EROFS: "the filesystem is read-only: give a writable folder",
    errno.EACCES: "give a folder you may write to",
    errno.EPERM: "give a folder you may write to",
    errno.ENOENT: "it does not exist (removed meanwhile?)",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an ``OSError``: what failed, on which file, and what to do."""
    what = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    where = f" on {str(exc.filename)!r}" if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno or -1)
    code = f" [errno {exc.errno}]" if exc.errno else ""
    return f"{what}{code}{where}" + (f": {hint}" if hint else "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
