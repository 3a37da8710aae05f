"""The computational basis of the chain and its diagonal site operators (conventions, section 1).

Basis states ``|s_1 ... s_L>`` with ``s_i = 0`` meaning ``Z_i = +1`` and ``s_i = 1`` meaning
``Z_i = -1``; basis index ``n = sum_i s_i 2**(L - i)``: site 1 is the most significant bit and
site ``L`` (the one the bath couples to) the least significant.  Every operator and state of the
package is written in this basis.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bits", "z_signs"]


def bits(L: int) -> np.ndarray:
    """``s[n, i-1] = s_i(n)``: the bit of site ``i`` in basis state ``n`` (shape ``(2**L, L)``)."""
    n = np.arange(2**L)
    return (n[:, None] >> (L - 1 - np.arange(L))[None, :]) & 1


def z_signs(L: int) -> np.ndarray:
    """``z[n, i-1] = <n|Z_i|n> = 1 - 2 s_i(n)`` for basis index ``n`` (site 1 most significant)."""
    return 1.0 - 2.0 * bits(L)
