"""mbl-avalanche: avalanches and many-body resonances in MBL chains coupled to a Markovian bath.

Reproduces and extends Ha, Morningstar & Huse, PRL 130, 250405 (2023).  Data flows one way:
model -> spectrum -> bath (slowest mode) -> resonance -> ensemble -> store -> figures/report.
"""

from ._version import __version__
from .analysis import Certificate, SampleResult, analyze, analyze_sample
from .errors import InputError
from .models import DEFAULT_SEED, FloquetModel

__all__ = [
    "DEFAULT_SEED",
    "Certificate",
    "FloquetModel",
    "InputError",
    "SampleResult",
    "__version__",
    "analyze",
    "analyze_sample",
]
