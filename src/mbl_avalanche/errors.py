"""Exceptions of the package.

:class:`InputError` is raised for bad user input (a value outside what is allowed); its message is
one line that names the value and what is allowed.  The command line turns it into that line on
stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "NotARunDirectory",
]


class InputError(ValueError):
    """Bad user input; the message names the value and what is allowed."""


class NotARunDirectory(InputError):
    """A folder given as a run directory holds no run (no ``config.json``, no ``shards/``)."""
