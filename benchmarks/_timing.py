"""Timing helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def best_of(f: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Minimum wall time of ``repeat`` calls of ``f`` and the result of the last call."""
    out, t_best = None, float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def matmul_seconds(n: int, repeat: int = 3) -> float:
    """Best time of one complex ``n x n`` matrix product (the unit of the printed ratios)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    b = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    return best_of(lambda: a @ b, repeat)[0]
