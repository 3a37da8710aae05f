"""The random-field XXZ (Heisenberg) chain (conventions, section 1b; Sels, PRB 106, L020202).

Conventions
-----------
* ``H = sum_{i<L} (S^x_i S^x_{i+1} + S^y_i S^y_{i+1} + Delta S^z_i S^z_{i+1}) + sum_i h_i S^z_i``
  with ``S = sigma / 2`` (exchange ``J = 1``), open chain, ``Delta = 1`` (Heisenberg) by default;
  ``h_i`` independent and uniform in ``[-W, W]``.
* Basis and bit order of conventions, section 1: ``|s_1 ... s_L>``, ``s_i = 0`` means
  ``S^z_i = +1/2``; index ``n = sum_i s_i 2**(L - i)`` (site 1 the most significant bit, the bath
  at site ``L``).  ``S^x S^x + S^y S^y = (S^+ S^- + S^- S^+) / 2`` flips an anti-aligned pair with
  amplitude ``1/2``.
* Total ``S^z`` is conserved: ``H`` is block diagonal in the sectors of fixed number ``n`` of
  down spins (``s_i = 1``), of sizes ``binom(L, n)`` (:meth:`HeisenbergModel.sectors`), and is
  real symmetric.

Randomness
----------
Sample ``k`` draws ``u = rng.uniform(-1, 1, L)`` from ``SeedSequence(seed, spawn_key=(family_key(
"heisenberg"), L, k))`` and sets ``h_i = W u_i``: the same ``u`` at every ``W`` and ``Delta``
(common random numbers), so that a sample changes smoothly along a scan.  The record stores the
fields ``h_i`` (column ``disorder``, ``{"h": [...]}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..resources import check_allocation, check_matrix_memory
from .protocol import Kind, Model, Parameter

__all__ = ["HeisenbergModel", "xxz_block", "xxz_hamiltonian"]


def _popcount(n: np.ndarray) -> np.ndarray:
    """Number of set bits of each (non-negative) integer."""
    count = np.zeros_like(n)
    m = n.copy()
    while np.any(m):
        count += m & 1
        m >>= 1
    return count


def xxz_block(states: np.ndarray, L: int, h: np.ndarray, delta: float) -> np.ndarray:
    """``H`` restricted to the basis states ``states`` (a sorted set closed under ``H``).

    Returns the real symmetric ``len(states) x len(states)`` block; ``states`` may be all
    ``2**L`` states or one sector of fixed magnetisation.
    """
    states = np.asarray(states, dtype=np.int64)
    k = states.size
    check_matrix_memory(L, "the XXZ Hamiltonian", itemsize=8, rows=k)
    shifts = L - 1 - np.arange(L)  # site i (1-based) is bit L - i
    bits = (states[:, None] >> shifts[None, :]) & 1
    z = 0.5 - bits  # S^z_i = +1/2 for s_i = 0
    out = np.zeros((k, k))
    diag = z @ np.asarray(h, dtype=float) + delta * np.sum(z[:, :-1] * z[:, 1:], axis=1)
    out[np.arange(k), np.arange(k)] = diag
    for i in range(L - 1):  # bond (i+1, i+2), bits shifts[i], shifts[i+1]
        flip = bits[:, i] != bits[:, i + 1]
        src = np.flatnonzero(flip)
        mask = (1 << int(shifts[i])) | (1 << int(shifts[i + 1]))
        dst = np.searchsorted(states, states[src] ^ mask)
        out[src, dst] = 0.5
    return out


def xxz_hamiltonian(L: int, h: np.ndarray, delta: float = 1.0) -> np.ndarray:
    """The dense ``2**L x 2**L`` random-field XXZ Hamiltonian (real)."""
    check_matrix_memory(L, "the XXZ Hamiltonian", itemsize=8)
    return xxz_block(np.arange(2**L), L, h, delta)


class HeisenbergModel(Model):
    """The random-field XXZ chain at one ``(L, W, Delta)`` (model family ``"heisenberg"``).

    Parameters
    ----------
    L : int
        Number of spins (``>= 2``).
    W : float
        Disorder strength (a finite number ``>= 0``): ``h_i`` uniform in ``[-W, W]``.  The
        usual ED crossover is near ``W = 3.5 - 4``; the avalanche landmark lies far above it.
    Delta : float
        Anisotropy (a finite number; default 1: the Heisenberg chain).
    seed : int
        Root seed.

    Examples
    --------
    >>> H = HeisenbergModel(L=6, W=5.0).operator(sample=3)
    >>> H.shape
    (64, 64)
    """

    family: ClassVar[str] = "heisenberg"
    kind: ClassVar[Kind] = "hamiltonian"
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("W", "disorder strength: h_i uniform in [-W, W]", minimum=0.0),
        Parameter("Delta", "anisotropy of the S^z S^z coupling (1: Heisenberg)", default=1.0),
    )
    scan_parameter: ClassVar[str] = "W"
    regimes: ClassVar[tuple[float, float] | None] = (1.0, 8.0)

    W: float
    Delta: float

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``u``: ``L`` numbers uniform in ``[-1, 1]`` (``h = W u``)."""
        return {"u": rng.uniform(-1.0, 1.0, self.L)}

    def fields(self, sample: int) -> np.ndarray:
        """The random fields ``h_i``, ``i = 1..L``, of sample ``sample``."""
        return self.W * self.draws(sample)["u"]

    def build(self, draws: Mapping[str, np.ndarray]) -> np.ndarray:
        """The dense Hamiltonian of one sample from its draws."""
        return xxz_hamiltonian(self.L, self.W * np.asarray(draws["u"]), self.Delta)

    def sectors(self) -> list[np.ndarray]:
        """Basis indices of the sectors with ``n = 0..L`` down spins (sizes ``binom(L, n)``)."""
        # the basis indices and their bit counts: four 2**L int64 vectors at the peak
        check_allocation(self.L, "the sectors of the XXZ chain", 4 * 8 * 2**self.L)
        n = np.arange(2**self.L, dtype=np.int64)
        pc = _popcount(n)
        return [n[pc == k] for k in range(self.L + 1)]

    def sector_blocks(self, sample: int) -> list[np.ndarray]:
        """The diagonal blocks of ``H`` in :meth:`sectors`, built directly (no ``N x N`` array)."""
        h = self.fields(sample)
        return [xxz_block(s, self.L, h, self.Delta) for s in self.sectors()]

    def disorder_record(self, sample: int) -> dict[str, Any]:
        """The fields ``h_i`` of sample ``sample``: ``{"h": [h_1, ..., h_L]}``."""
        return {"h": self.fields(sample).tolist()}
