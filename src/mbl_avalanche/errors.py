"""Exceptions of the package.

:class:`InputError` is raised for bad user input (a value outside what is allowed); its message is
one line that names the value and what is allowed.  The command line turns it into that line on
stderr and exit code 2.  :class:`InputTypeError` is the same for a value of the wrong type (a
string or ``1.5`` where an integer is needed): it is also a :class:`TypeError`, so code that
catches either sees it.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "InputTypeError",
    "NotARunDirectory",
]


class InputError(ValueError):
    """Bad user input; the message names the value and what is allowed."""


class InputTypeError(InputError, TypeError):
    """Bad user input of the wrong type (e.g. ``seed=1.5``, ``alpha="30"``); one-line message."""


class NotARunDirectory(InputError):
    """A folder given as a run directory holds no run (no ``config.json``, no ``shards/``)."""
