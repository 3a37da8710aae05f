"""Brought-your-own operators: a user-supplied unitary or Hamiltonian in place of the model.

Matrices are in the computational basis of the conventions, section 1 (site 1 the most
significant bit, site ``L`` -- the one the bath couples to -- the least significant), so their
size must be ``2**L``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = [
    "DEFAULT_TOL",
    "chain_length",
    "check_hermitian",
    "check_model_operator",
    "check_unitary",
    "load_matrix",
]

#: Default tolerance on ``max|U^dagger U - 1|`` and ``max|H - H^dagger|`` (relative to ``max|H|``).
DEFAULT_TOL = 1e-10


def chain_length(n: int, what: str = "matrix") -> int:
    """``L`` such that ``n == 2**L`` (``L >= 2``), or an :class:`InputError`."""
    L = int(n).bit_length() - 1
    if n < 4 or 2**L != n:
        raise InputError(
            f"{what} of size {n}x{n} is not allowed: the size must be 2**L x 2**L with L >= 2"
        )
    return L


def _as_square(m: object, what: str) -> np.ndarray:
    try:
        a = np.asarray(m)
    except (TypeError, ValueError) as exc:  # ragged nested lists and the like
        raise InputError(f"{what} is not allowed: not an array ({exc})") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"{what} of shape {a.shape} is not allowed: it must be a square 2-D array")
    if not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{what} of dtype {a.dtype} is not allowed: it must be numeric")
    a = a.astype(np.complex128, copy=False)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{what} is not allowed: it contains NaN or infinite entries")
    return a


def check_unitary(u: object, tol: float = DEFAULT_TOL) -> tuple[np.ndarray, float]:
    """Validate a unitary of size ``2**L``; returns it as complex128 and ``max|U^dagger U - 1|``."""
    a = _as_square(u, "unitary")
    chain_length(a.shape[0], "unitary")
    err = float(np.max(np.abs(a.conj().T @ a - np.eye(a.shape[0]))))
    if not err <= tol:
        raise InputError(
            f"unitary is not allowed: max|U^dagger U - 1| = {err:.3g} exceeds the tolerance {tol:g}"
        )
    return a, err


def check_hermitian(h: object, tol: float = DEFAULT_TOL) -> np.ndarray:
    """Validate a Hermitian matrix of size ``2**L``; returns it as complex128."""
    a = _as_square(h, "Hamiltonian")
    chain_length(a.shape[0], "Hamiltonian")
    scale = max(float(np.max(np.abs(a))), 1e-300)
    err = float(np.max(np.abs(a - a.conj().T))) / scale
    if not err <= tol:
        raise InputError(
            f"Hamiltonian is not allowed: max|H - H^dagger|/max|H| = {err:.3g} exceeds {tol:g}"
        )
    return 0.5 * (a + a.conj().T)


def load_matrix(path: str | os.PathLike[str], what: str = "matrix") -> np.ndarray:
    """Load a ``.npy`` file (or the single array of a ``.npz``), with one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file {str(p)!r} is not allowed: no such file")
    try:
        obj = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise InputError(
            f"{what} file {str(p)!r} is not allowed: not a readable .npy/.npz array ({exc})"
        ) from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        names = list(obj.keys())
        if len(names) != 1:
            raise InputError(
                f"{what} file {str(p)!r} is not allowed: a .npz must hold exactly one array, "
                f"found {len(names)}"
            )
        obj = obj[names[0]]
    return np.asarray(obj)


def check_model_operator(model: object, sample: int = 0) -> None:
    """Check that a model's sample ``sample`` is what its ``kind`` promises, of size ``2**L``.

    Builds the operator (or, for a model that declares sectors, its sector blocks) and raises a
    one-line :class:`InputError` naming the model if it has the wrong shape, is not finite, is
    not Hermitian (``kind="hamiltonian"``) or not unitary (``kind="unitary"``) to
    :data:`DEFAULT_TOL`.  The ensemble runner calls it once for a user model before computing,
    so that a model which cannot work stops the run at once.
    """
    L = model.L  # type: ignore[attr-defined]
    kind = model.kind  # type: ignore[attr-defined]
    name = f"model {model.family!r} at L={L}"  # type: ignore[attr-defined]
    n = 2**L
    try:
        sectors = model.sectors() if kind == "hamiltonian" else None  # type: ignore[attr-defined]
        if sectors is not None:
            blocks = model.sector_blocks(sample)  # type: ignore[attr-defined]
            sizes = sorted(int(np.size(s)) for s in sectors)
            if sum(sizes) != n:
                raise InputError(
                    f"{name} is not allowed: its sectors hold {sum(sizes)} states, not 2**L = {n}"
                )
            for s, b in zip(sectors, blocks, strict=False):
                a = np.asarray(b)
                if a.shape != (len(s), len(s)):
                    raise InputError(
                        f"{name} is not allowed: a sector block of shape {a.shape} for a sector "
                        f"of {len(s)} states"
                    )
                _check_kind(a, kind, name)
            return
        op = np.asarray(model.operator(sample))  # type: ignore[attr-defined]
    except InputError:
        raise
    except Exception as exc:  # a user model may raise anything
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(
            f"{name} is not allowed: building sample {sample} failed ({msg})"
        ) from None
    if op.shape != (n, n):
        raise InputError(
            f"{name} is not allowed: its operator has shape {op.shape}, it must be "
            f"2**L x 2**L = {n}x{n}"
        )
    _check_kind(op, kind, name)


def _check_kind(a: np.ndarray, kind: str, name: str) -> None:
    if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
        raise InputError(
            f"{name} is not allowed: its operator has non-numeric or non-finite entries"
        )
    if kind == "hamiltonian":
        scale = max(float(np.max(np.abs(a))), 1e-300) if a.size else 1.0
        err = float(np.max(np.abs(a - a.conj().T))) / scale if a.size else 0.0
        if not err <= DEFAULT_TOL:
            raise InputError(
                f"{name} is not allowed: kind='hamiltonian' but max|H - H^dagger|/max|H| = "
                f"{err:.3g} exceeds {DEFAULT_TOL:g}"
            )
    else:
        err = float(np.max(np.abs(a.conj().T @ a - np.eye(a.shape[0])))) if a.size else 0.0
        if not err <= DEFAULT_TOL:
            raise InputError(
                f"{name} is not allowed: kind='unitary' but max|U^dagger U - 1| = {err:.3g} "
                f"exceeds {DEFAULT_TOL:g}"
            )
