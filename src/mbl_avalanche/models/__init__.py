"""Models of the closed system: the built-in Floquet circuit and brought-your-own operators."""

from .custom import check_hermitian, check_unitary, load_matrix
from .floquet import DEFAULT_SEED, FloquetModel, sample_seed_sequence

__all__ = [
    "DEFAULT_SEED",
    "FloquetModel",
    "check_hermitian",
    "check_unitary",
    "load_matrix",
    "sample_seed_sequence",
]
