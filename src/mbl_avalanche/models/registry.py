"""The model families by name: the built-in ones and user models given as ``module:Class``.

:func:`resolve` turns a name into a :class:`~.protocol.Model` subclass (importing a user model,
checking it and declaring its parameter columns in the record schema); :func:`make_model` builds
an instance from string-keyed parameters, with one-line errors naming what is allowed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .. import record
from ..errors import InputError
from .floquet import FloquetModel
from .planted import PlantedModel
from .protocol import Model
from .xxz import HeisenbergModel

__all__ = ["MODELS", "make_model", "model_names", "resolve"]

#: The built-in model families.
MODELS: dict[str, type[Model]] = {
    "floquet": FloquetModel,
    "heisenberg": HeisenbergModel,
    "planted": PlantedModel,
}


def model_names() -> list[str]:
    """Names of the built-in families."""
    return list(MODELS)


def resolve(name: str | type[Model]) -> type[Model]:
    """The model class called ``name``: a built-in family or an importable ``module:Class``.

    A user class must subclass :class:`~.protocol.Model` and set ``kind`` and ``parameters``;
    its ``family`` is set to ``name`` if empty.  Its parameters become record columns
    (:func:`mbl_avalanche.record.declare_model`).  Raises :class:`InputError` with one line.
    """
    if isinstance(name, type):
        cls = name
        spec = cls.family or f"{cls.__module__}:{cls.__qualname__}"
    else:
        spec = str(name)
        if spec in MODELS:
            return MODELS[spec]
        if ":" not in spec:
            raise InputError(
                f"model={spec!r} is not allowed: use one of {', '.join(MODELS)} or an importable "
                "user model 'module:Class'"
            )
        module, _, qual = spec.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # a user module may raise anything on import
            msg = " ".join(str(exc).split()) or type(exc).__name__
            raise InputError(f"model={spec!r} is not allowed: cannot import it ({msg})") from None
        cls = obj
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise InputError(
            f"model={spec!r} is not allowed: it must be a subclass of mbl_avalanche.models.Model"
        )
    if cls.kind not in ("unitary", "hamiltonian"):
        raise InputError(
            f"model={spec!r} is not allowed: its kind={cls.kind!r} must be 'unitary' or "
            "'hamiltonian'"
        )
    if not cls.family:
        cls.family = spec
    if cls.family in MODELS and MODELS[cls.family] is not cls:
        raise InputError(
            f"model={spec!r} is not allowed: its family name {cls.family!r} is "
            "that of a built-in model"
        )
    try:
        record.declare_model(
            cls.family,
            [
                record.Column(p.name, "int" if p.integer else "float", "model", p.meaning)
                for p in cls.parameters
            ],
        )
    except record.SchemaError as exc:
        raise InputError(f"model={spec!r} is not allowed: {exc}") from None
    return cls


def make_model(name: str | type[Model], L: int, seed: int, params: dict[str, Any]) -> Model:
    """An instance of model ``name`` at chain length ``L`` with ``params`` (validated)."""
    cls = resolve(name)
    if cls is FloquetModel:
        unknown = [k for k in params if k not in ("alpha", "gue_scale", "layer_order")]
        if unknown:
            raise InputError(
                f"parameter {unknown[0]!r} is not allowed for model 'floquet': its parameters "
                "are alpha (and the knobs gue_scale, layer_order)"
            )
        if "alpha" not in params:
            raise InputError(
                "parameter 'alpha' of model 'floquet' is not given: it must be a finite number > 0"
            )
        return FloquetModel(L=L, seed=seed, **params)
    return cls(L, seed, **params)
