"""The command line: a thin door on the package (argument parsing and printing only).

Each subcommand lives in its own module of this package, which defines ``register(subparsers)``
(adding its parser, with ``func`` set as a default) and the function that runs it.  Bad input
raises :class:`~mbl_avalanche.errors.InputError`; :func:`main` prints its one-line message as
``mbl-avalanche: error: ...`` on stderr and exits with code 2.

Exit codes: 0 success; 1 a worker process died (``run``); 2 bad input (one line on stderr);
130 interrupted (Ctrl-C, SIGTERM to ``run``); 141 the reader of stdout went away (e.g. ``| head``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mbl-avalanche`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
