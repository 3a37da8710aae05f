"""Short ``repr`` for result objects that hold large arrays (a notebook must not be flooded).

:func:`compact_repr` shows a dataclass's scalar fields by value and summarises the rest: an
array as ``<ndarray (64, 64) complex128>``, a long container by its length, a nested result by
its class name.  :func:`jsonable` turns nested results into strict JSON values.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["compact_repr", "jsonable", "summarize"]

#: Containers up to this many items are shown whole (if their items are short).
_SHORT = 6


def summarize(value: Any) -> str:
    """A short text for one field value."""
    if isinstance(value, np.ndarray) or type(value).__module__.split(".")[0] == "cupy":
        return f"<{type(value).__name__} {tuple(value.shape)} {value.dtype}>"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, bool | int | str | np.integer | np.bool_) or value is None:
        text = repr(value.item() if isinstance(value, np.generic) else value)
        return text if len(text) <= 60 else text[:57] + "...'"
    if isinstance(value, dict):
        if len(value) <= _SHORT and all(
            isinstance(v, bool | int | float | str | np.generic) or v is None
            for v in value.values()
        ):
            return "{" + ", ".join(f"{k!r}: {summarize(v)}" for k, v in value.items()) + "}"
        return f"<dict of {len(value)}: {', '.join(map(str, list(value)[:_SHORT]))}" + (
            ", ...>" if len(value) > _SHORT else ">"
        )
    if isinstance(value, list | tuple):
        if len(value) <= _SHORT and all(isinstance(v, bool | int | float | str) for v in value):
            return repr(value)
        return f"<{type(value).__name__} of {len(value)}>"
    if dataclasses.is_dataclass(value):
        return f"<{type(value).__name__}>"
    text = repr(value)
    return text if len(text) <= 60 else f"<{type(value).__name__}>"


def compact_repr(self: Any) -> str:
    """``Name(field=value, ...)`` with arrays and large containers summarised."""
    parts = [
        f"{f.name}={summarize(getattr(self, f.name))}" for f in dataclasses.fields(self) if f.repr
    ]
    return f"{type(self).__name__}({', '.join(parts)})"


def jsonable(x: Any) -> Any:
    """``x`` with NumPy scalars as Python ones, tuples as lists, keys as strings and non-finite
    floats as ``None`` (strict JSON: ``json.dumps(..., allow_nan=False)`` accepts it)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
