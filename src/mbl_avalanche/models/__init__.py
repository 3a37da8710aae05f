"""Models of the closed system: the protocol, the built-in families and brought-your-own operators.

* :mod:`.protocol` -- what a model is (:class:`Model`, :class:`Parameter`);
* :mod:`.floquet` -- the random-circuit Floquet model (``"floquet"``);
* :mod:`.xxz` -- the random-field XXZ / Heisenberg chain (``"heisenberg"``);
* :mod:`.planted` -- the minimal model with a known answer (``"planted"``);
* :mod:`.registry` -- the families by name, user models as ``module:Class``;
* :mod:`.custom` -- checks for a user-supplied unitary or Hamiltonian matrix.
"""

from .custom import check_hermitian, check_unitary, load_matrix
from .floquet import FloquetModel, sample_seed_sequence
from .planted import PlantedModel
from .protocol import DEFAULT_SEED, Model, Parameter
from .registry import MODELS, make_model, resolve
from .xxz import HeisenbergModel

__all__ = [
    "DEFAULT_SEED",
    "MODELS",
    "FloquetModel",
    "HeisenbergModel",
    "Model",
    "Parameter",
    "PlantedModel",
    "check_hermitian",
    "check_unitary",
    "load_matrix",
    "make_model",
    "resolve",
    "sample_seed_sequence",
]
