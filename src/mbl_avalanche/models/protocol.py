"""What a model is: a named family of random closed systems with named parameters.

Every model of the package -- the built-in ones (:class:`~.floquet.FloquetModel`,
:class:`~.xxz.HeisenbergModel`, :class:`~.planted.PlantedModel`) and a user's own -- is a
:class:`Model`: an instance fixes the chain length ``L``, the root ``seed`` and one value of each
parameter, and sample ``k`` is a pure function of ``(seed, family, L, parameters, k)`` through
:class:`numpy.random.SeedSequence`.  The ensemble runner, the store, the tables, figures, report
and landmark, and the command line take any model through this protocol.

A user model is a subclass that sets the class attributes and implements :meth:`Model.draw` (the
random numbers of one sample) and :meth:`Model.build` (the operator made of them)::

    import numpy as np
    from mbl_avalanche.models import Model, Parameter

    class MyChain(Model):
        family = "mypkg.models:MyChain"          # how --model names it (module:Class)
        kind = "hamiltonian"                      # or "unitary"
        parameters = (Parameter("W", "disorder strength", minimum=0.0),
                      Parameter("J", "coupling", default=1.0))
        scan_parameter = "W"

        def draw(self, rng):
            return {"h": rng.uniform(-1, 1, self.L)}

        def build(self, draws):
            ...  # the 2**L x 2**L Hermitian matrix in the package's basis (site 1 = top bit)

Its samples then run with ``mbl-avalanche run OUT --model mypkg.models:MyChain --param W=1,2,4
--L 6 7 8 --samples 100``; the draws are stored in each record (column ``disorder``), so any sample
can be rebuilt outside the package.  A model with a conserved quantity may also return its
sectors (:meth:`Model.sectors`): a Hamiltonian is then diagonalised block by block.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import InputError, InputTypeError

__all__ = [
    "DEFAULT_SEED",
    "MAX_INDEX",
    "MAX_L",
    "Kind",
    "Model",
    "Parameter",
    "check_L",
    "check_integer",
    "check_number",
    "check_sample",
    "check_seed",
    "describe_range",
    "family_key",
    "float_key",
    "jsonable_draws",
]

Kind = Literal["unitary", "hamiltonian"]

#: Default root seed of the package (any non-negative integer may be given instead).
DEFAULT_SEED = 20230623


def float_key(x: float) -> int:
    """The integer that stands for a float in a seed: the IEEE-754 bits of ``float64(x)``."""
    return int(struct.unpack("<Q", struct.pack("<d", float(x)))[0])


def family_key(family: str) -> int:
    """The integer that stands for a model family in a seed: 64 bits of its name's sha256."""
    return int.from_bytes(hashlib.sha256(family.encode()).digest()[:8], "little")


#: Largest chain length any model accepts: basis indices ``0 .. 2**L - 1`` are 64-bit integers
#: (and one ``2**L x 2**L`` matrix at L = 62 would be ``2**128`` bytes; the memory checks of
#: :mod:`mbl_avalanche.resources` refuse far smaller L on any real machine).
MAX_L = 62

#: Largest seed and sample index: both are stored as signed 64-bit integers in every record.
MAX_INDEX = 2**63 - 1


def _label(name: str, value: object) -> str:
    """``--flag VALUE`` for a command-line flag, ``name=VALUE`` for a keyword."""
    return f"{name} {value!r}" if name.startswith("-") else f"{name}={value!r}"


def check_integer(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]``, or a one-line error naming it.

    Only integers are integers: a float (``1.5``, also ``2.0``), a string or a bool raises
    :class:`~mbl_avalanche.errors.InputTypeError`; an integer out of range raises
    :class:`~mbl_avalanche.errors.InputError`.
    """
    lo = "" if minimum is None else f" >= {minimum}"
    hi = "" if maximum is None else f" <= {maximum}"
    allowed = f"an integer{lo}{' and' if lo and hi else ''}{hi}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(f"{_label(name, value)} is not allowed: it must be {allowed}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise InputError(f"{_label(name, value)} is not allowed: it must be {allowed}")
    return v


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    minimum_open: bool = False,
    integer: bool = False,
) -> float:
    """``value`` as a finite ``float`` in the allowed range, or a one-line error naming it.

    The package's one validator of real parameters (model parameters, the bath coupling,
    ...): a value that is not a real number (a string, a bool, ``None``, a complex number, an
    array) raises :class:`~mbl_avalanche.errors.InputTypeError`; NaN, infinities and values out
    of range raise :class:`~mbl_avalanche.errors.InputError`.  ``integer``: the value must also
    be integral (``2.0`` is allowed: command-line parameters arrive as floats).
    """
    allowed = describe_range(minimum, maximum, minimum_open, integer)
    if isinstance(value, bool | str | bytes | complex | np.complexfloating) or value is None:
        raise InputTypeError(f"{_label(name, value)} is not allowed: it must be {allowed}")
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise InputTypeError(f"{_label(name, value)} is not allowed: it must be {allowed}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InputTypeError(
            f"{_label(name, value)} is not allowed: it must be {allowed}"
        ) from None
    bad = not math.isfinite(v) or (integer and not v.is_integer())
    if minimum is not None:
        bad |= v <= minimum if minimum_open else v < minimum
    if maximum is not None:
        bad |= v > maximum
    if bad:
        raise InputError(f"{_label(name, value)} is not allowed: it must be {allowed}")
    return v


def describe_range(
    minimum: float | None = None,
    maximum: float | None = None,
    minimum_open: bool = False,
    integer: bool = False,
) -> str:
    """``"a finite number >= 0"`` style text of what :func:`check_number` allows."""
    kind = "an integer" if integer else "a finite number"
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if minimum_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    return kind + (" " + " and ".join(parts) if parts else "")


def check_L(L: object) -> int:
    """Validate a chain length (an integer, ``2 <= L <= MAX_L``)."""
    if isinstance(L, bool) or not isinstance(L, int | np.integer):
        raise InputTypeError(f"L={L!r} is not allowed: L must be an integer >= 2")
    if not 2 <= int(L) <= MAX_L:
        raise InputError(
            f"L={L!r} is not allowed: L must be an integer with 2 <= L <= {MAX_L} (basis "
            "indices are 64-bit integers)"
            if int(L) > MAX_L
            else f"L={L!r} is not allowed: L must be an integer >= 2"
        )
    return int(L)


def check_sample(sample: object) -> int:
    """Validate a sample index (an integer, ``0 <= sample <= 2**63 - 1``)."""
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer):
        raise InputTypeError(f"sample={sample!r} is not allowed: it must be an integer >= 0")
    if int(sample) < 0:
        raise InputError(f"sample={sample!r} is not allowed: it must be an integer >= 0")
    if int(sample) > MAX_INDEX:
        raise InputError(f"sample={sample!r} is not allowed: it must be <= 2**63 - 1")
    return int(sample)


def check_seed(seed: object) -> int:
    """Validate a root seed (an integer, ``0 <= seed <= 2**63 - 1``; ``1.5`` is not an
    integer and raises :class:`~mbl_avalanche.errors.InputTypeError`)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputTypeError(f"seed={seed!r} is not allowed: it must be an integer >= 0")
    if int(seed) < 0:
        raise InputError(f"seed={seed!r} is not allowed: it must be an integer >= 0")
    if int(seed) > MAX_INDEX:
        raise InputError(f"seed={seed!r} is not allowed: it must be <= 2**63 - 1")
    return int(seed)


@dataclass(frozen=True)
class Parameter:
    """A named parameter of a model family.

    Attributes
    ----------
    name : str
        Its name: the keyword of the model, the ``--NAME`` or ``--param NAME=...`` option and
        the record column.
    meaning : str
        What it is (shown in help texts and in the column reference).
    default : float or None
        Its value when not given (``None``: it must be given).
    minimum, maximum : float or None
        Allowed range (``minimum_open``: ``> minimum`` instead of ``>=``).
    integer : bool
        Whether the values are integers.
    """

    name: str
    meaning: str
    default: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    minimum_open: bool = False
    integer: bool = False

    def check(self, value: object) -> float | int:
        """``value`` as this parameter's type, or a one-line error (:func:`check_number`)."""
        v = check_number(
            self.name,
            value,
            minimum=self.minimum,
            maximum=self.maximum,
            minimum_open=self.minimum_open,
            integer=self.integer,
        )
        return int(v) if self.integer else v

    def describe(self) -> str:
        """``"a finite number >= 0"`` style text of what is allowed."""
        return describe_range(self.minimum, self.maximum, self.minimum_open, self.integer)


def jsonable_draws(draws: Mapping[str, Any]) -> dict[str, Any]:
    """Draws as JSON-able values (arrays as nested lists, complex as ``[re, im]`` pairs)."""
    out: dict[str, Any] = {}
    for k, v in draws.items():
        a = np.asarray(v)
        if np.iscomplexobj(a):
            a = np.stack([a.real, a.imag], axis=-1)
        out[k] = a.tolist()
    return out


class Model:
    """Base class and protocol of a model family (see the module docstring).

    Attributes
    ----------
    family : str
        Name of the family (``"floquet"``, ``"heisenberg"``, ``"planted"``; a user model's
        ``"module:Class"``), recorded in every record (column ``model``).
    kind : {"unitary", "hamiltonian"}
        What :meth:`operator` returns: a Floquet unitary or a Hermitian matrix, ``2**L`` square,
        in the computational basis (conventions, section 1).
    parameters : tuple of Parameter
        Its named parameters (the axes of an ensemble grid).
    scan_parameter : str
        The disorder parameter of the avalanche landmark (``alpha``, ``W``).
    regimes : (float, float) or None
        Default ``(thermal at or below, MBL at or above)`` thresholds of ``scan_parameter`` for
        figures and report (``None``: no default; give them).
    knobs : tuple of str
        Further identity attributes (convention knobs) recorded with every sample.
    L, seed : int
        Chain length and root seed of the instance (which also has one attribute per
        parameter).

    The first six are class attributes: a user model sets them on its subclass.
    """

    family: ClassVar[str] = ""
    kind: ClassVar[Kind] = "hamiltonian"
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    scan_parameter: ClassVar[str] = ""
    regimes: ClassVar[tuple[float, float] | None] = None
    knobs: ClassVar[tuple[str, ...]] = ()

    L: int
    seed: int

    def __init__(self, L: int, seed: int = DEFAULT_SEED, **params: Any) -> None:
        self.L = check_L(L)
        self.seed = check_seed(seed)
        names = [p.name for p in self.parameters]
        unknown = [k for k in params if k not in names]
        if unknown:
            allowed = ", ".join(names) or "none"
            raise InputError(
                f"parameter {unknown[0]!r} is not allowed for model {self.family!r}: its "
                f"parameters are {allowed}"
            )
        for p in self.parameters:
            if p.name in params:
                value = p.check(params[p.name])
            elif p.default is not None:
                value = p.check(p.default)
            else:
                raise InputError(
                    f"parameter {p.name!r} of model {self.family!r} is not given: it must be "
                    f"{p.describe()} ({p.meaning})"
                )
            setattr(self, p.name, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.point().items())
        return f"{type(self).__name__}(L={self.L}, {args}, seed={self.seed})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.L == other.L
            and self.seed == other.seed
            and self.point() == other.point()
        )

    def __hash__(self) -> int:
        return hash((type(self), self.L, self.seed, tuple(self.point().items())))

    # -- identity ---------------------------------------------------------------------------
    @property
    def N(self) -> int:
        """Hilbert-space dimension ``2**L``."""
        return 2**self.L

    def point(self) -> dict[str, Any]:
        """The parameter values, ``{name: value}`` in declared order."""
        return {p.name: getattr(self, p.name) for p in self.parameters}

    def knob_values(self) -> dict[str, Any]:
        """The convention knobs, ``{name: value}``."""
        return {k: getattr(self, k) for k in self.knobs}

    # -- randomness -------------------------------------------------------------------------
    def seed_sequence(self, sample: int) -> np.random.SeedSequence:
        """The :class:`~numpy.random.SeedSequence` of sample ``sample``.

        Default: ``SeedSequence(seed, spawn_key=(family_key(family), L, sample))``: the same
        random numbers at every parameter value (common random numbers, so a sample varies
        smoothly along a parameter scan); :meth:`build` turns them into the operator.
        """
        return np.random.SeedSequence(
            self.seed, spawn_key=(family_key(self.family), self.L, check_sample(sample))
        )

    def rng(self, sample: int) -> np.random.Generator:
        """The generator of sample ``sample`` (fresh on every call)."""
        return np.random.default_rng(self.seed_sequence(sample))

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The random numbers of one sample, drawn from ``rng`` in a fixed order."""
        raise NotImplementedError(f"{type(self).__name__} must implement draw(rng)")

    def build(self, draws: Mapping[str, np.ndarray]) -> np.ndarray:
        """The operator (``kind``) of one sample from its draws."""
        raise NotImplementedError(f"{type(self).__name__} must implement build(draws)")

    def draws(self, sample: int) -> dict[str, np.ndarray]:
        """The random numbers of sample ``sample``."""
        return self.draw(self.rng(sample))

    # -- the operator -----------------------------------------------------------------------
    def operator(self, sample: int) -> np.ndarray:
        """The dense ``2**L x 2**L`` operator of sample ``sample`` (a unitary or Hermitian)."""
        return np.asarray(self.build(self.draws(sample)))

    def circuit(self, sample: int) -> Callable[[np.ndarray], np.ndarray] | None:
        """``X -> U @ X`` for a unitary model with a cheap application (else ``None``)."""
        return None

    def sectors(self) -> list[np.ndarray] | None:
        """Basis indices of the sectors of a conserved quantity (``None``: none declared).

        A Hamiltonian that commutes with the quantity is block diagonal in these sets; with
        :meth:`sector_blocks` it is then diagonalised block by block.
        """
        return None

    def sector_blocks(self, sample: int) -> list[np.ndarray]:
        """The diagonal blocks of the operator in :meth:`sectors` (default: cut from the dense
        operator)."""
        sec = self.sectors()
        if sec is None:
            raise InputError(f"model {self.family!r} declares no sectors")
        h = self.operator(sample)
        return [h[np.ix_(s, s)] for s in sec]

    # -- the record ---------------------------------------------------------------------------
    def disorder_record(self, sample: int) -> dict[str, Any]:
        """The disorder realisation of sample ``sample`` as a JSON-able dict (default: the
        draws)."""
        return jsonable_draws(self.draws(sample))

    def record_fields(self, sample: int) -> dict[str, Any]:
        """Record columns of sample ``sample``: its parameters, sample index, seed, knobs, the
        model family and the disorder realisation (JSON)."""
        out: dict[str, Any] = dict(self.point())
        out.update(sample=int(sample), seed=int(self.seed), **self.knob_values())
        out["model"] = self.family
        out["disorder"] = json.dumps(self.disorder_record(sample), separators=(",", ":"))
        return out
