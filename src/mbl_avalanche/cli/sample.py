"""``mbl-avalanche sample``: analyse one sample and print a summary or JSON."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..analysis import Kind, SampleResult, analyze, analyze_sample
from ..errors import InputError
from ..models.custom import chain_length, load_matrix
from ..models.protocol import DEFAULT_SEED, Model, check_L
from ..models.registry import make_model
from ..resources import check_memory
from ..spectrum import UNITARY_SOLVERS

__all__ = [
    "about_file",
    "add_model_arguments",
    "add_source_arguments",
    "check_matrix_L",
    "check_no_model_options",
    "format_summary",
    "jsonable",
    "model_from_args",
    "register",
    "run",
    "sample_from_args",
]


def add_model_arguments(p: argparse.ArgumentParser, L_help: str = "chain length (>= 2)") -> None:
    """Arguments that choose one sample of a model: the model, ``L``, its parameters, ``sample``,
    ``seed`` and the Floquet knobs."""
    p.add_argument(
        "--model",
        default="floquet",
        help="model: floquet (default), heisenberg, planted, or a user model module:Class",
    )
    p.add_argument("--L", type=int, default=None, help=L_help)
    p.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="Floquet disorder parameter (alpha/gue_scale >= 1e-6)",
    )
    p.add_argument("--W", type=float, default=None, help="Heisenberg disorder strength (>= 0)")
    p.add_argument("--Delta", type=float, default=None, help="Heisenberg anisotropy (default 1)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter of the model (repeatable), e.g. --param epsilon=1e-3",
    )
    p.add_argument("--sample", type=int, default=0, help="sample index (>= 0), default 0")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="root seed")
    p.add_argument("--gue-scale", type=float, default=1.0, help="scale of the bond GUE matrices")
    p.add_argument(
        "--layer-order",
        choices=("odd_first", "even_first"),
        default="odd_first",
        help="bond layer applied first after D (default odd_first: U_F = W_even W_odd D)",
    )


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments that choose one sample: the model's ``(L, alpha, sample, seed)`` or a file."""
    add_model_arguments(p)
    p.add_argument(
        "--method",
        choices=tuple(UNITARY_SOLVERS),
        default="auto",
        help="unitary eigensolver: auto (fast, checked, Schur fallback; default), fast, schur",
    )
    p.add_argument(
        "--backend",
        choices=("cpu", "gpu"),
        default="cpu",
        help="run the eigensolver, rates and slowest mode on the cpu (default) or a CUDA gpu "
        "(needs CuPy: pip install 'mbl-avalanche[gpu]')",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--unitary", metavar="U.npy", help="analyse this unitary (2**L x 2**L)")
    src.add_argument("--hamiltonian", metavar="H.npy", help="analyse this Hermitian matrix")


def sample_from_args(args: argparse.Namespace, **kwargs: Any) -> SampleResult:
    """Run the analysis that the source arguments ask for."""
    kwargs.setdefault("method", getattr(args, "method", "auto"))
    kwargs.setdefault("backend", getattr(args, "backend", "cpu"))
    if kwargs["backend"] == "gpu":
        from ..backend import get_backend

        get_backend("gpu")  # one-line InputError if CuPy or the device is missing
    if args.unitary or args.hamiltonian:
        path = args.unitary or args.hamiltonian
        kind: Kind = "unitary" if args.unitary else "hamiltonian"
        m = load_matrix(path, kind)
        L = check_matrix_L(args, m, kind)
        check_memory(L)
        with about_file(f"--{kind}", path):  # the matrix's checks, told which file they judged
            return analyze(m, kind, meta={"source": str(path)}, **kwargs)
    model = model_from_args(args)
    check_memory(model.L, model=model.family)
    return analyze_sample(model, args.sample, **kwargs)


@contextmanager
def about_file(flag: str, path: object) -> Iterator[None]:
    """Prefix a one-line :class:`InputError` about a matrix with the flag and file it came from."""
    try:
        yield
    except InputError as exc:
        raise InputError(f"{flag} {str(path)!r}: {exc}") from None


def check_matrix_L(args: argparse.Namespace, m: np.ndarray, kind: str) -> int:
    """``L`` of a matrix given by ``--unitary``/``--hamiltonian`` (its size must be ``2**L``);
    ``--L``, if also given, must agree with it (one-line :class:`InputError` otherwise)."""
    flag = f"--{kind}"
    what = "Hamiltonian" if kind == "hamiltonian" else "unitary"
    path = getattr(args, kind, None)
    check_no_model_options(args, flag, path)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(
            f"{flag} {str(path)!r} is not allowed: its array has shape {m.shape}, it must be "
            "a square 2**L x 2**L matrix"
        )
    with about_file(flag, path):
        L = chain_length(int(m.shape[0]), what)
    if getattr(args, "L", None) is not None and args.L != L:
        raise InputError(
            f"--L {args.L} is not allowed with {flag} {str(path)!r}: its matrix is "
            f"{m.shape[0]}x{m.shape[1]}, i.e. L={L} (leave out --L or give --L {L})"
        )
    return L


#: The options that choose a sample of a model, with their defaults: with ``--unitary`` or
#: ``--hamiltonian`` the matrix is the sample, so none of them may be given another value.
MODEL_OPTIONS: tuple[tuple[str, str, object], ...] = (
    ("model", "--model", "floquet"),
    ("alpha", "--alpha", None),
    ("W", "--W", None),
    ("Delta", "--Delta", None),
    ("param", "--param", None),
    ("sample", "--sample", 0),
    ("seed", "--seed", DEFAULT_SEED),
    ("gue_scale", "--gue-scale", 1.0),
    ("layer_order", "--layer-order", "odd_first"),
)


def check_no_model_options(args: argparse.Namespace, flag: str, path: object) -> None:
    """With a matrix from a file, an option that chooses a model's sample would be silently
    ignored: a one-line :class:`InputError` names it instead."""
    for attr, option, default in MODEL_OPTIONS:
        value = getattr(args, attr, default)
        if value != default and value is not None:
            shown = " ".join(value) if isinstance(value, list) else value
            raise InputError(
                f"{option} {shown} is not allowed with {flag} {str(path)!r}: the matrix is the "
                f"sample (leave out {option})"
            )


def model_from_args(args: argparse.Namespace) -> Model:
    """The model of one sample that ``--model``, ``--L`` and the parameter options ask for."""
    from .run import parse_param

    name = getattr(args, "model", "floquet")
    if name is None:
        name = "floquet"
    if not name.strip():
        raise InputError(f"--model {name!r} is not allowed: give a model name (floquet, ...)")
    if args.L is None:
        raise InputError("--L is required (or give --unitary / --hamiltonian)")
    if name == "floquet" and args.alpha is None:
        raise InputError("--L and --alpha are required (or give --unitary / --hamiltonian)")
    L = check_L(args.L)
    params: dict[str, Any] = {}
    for key in ("alpha", "W", "Delta"):
        if getattr(args, key, None) is not None:
            params[key] = getattr(args, key)
    for item in getattr(args, "param", None) or []:
        key, values = parse_param(item)
        if len(values) != 1 or key in params:
            raise InputError(f"--param {item!r} is not allowed: give one value per parameter")
        params[key] = values[0]
    if name == "floquet":
        params.update(gue_scale=args.gue_scale, layer_order=args.layer_order)
    return make_model(name, L, args.seed, params)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="analyse one disorder sample (or a brought-your-own U or H)",
        description="Eigenstates, slowest mode, Gamma, R and the accuracy certificate of one "
        "sample of the random-circuit Floquet model, or of a unitary/Hamiltonian from a .npy file.",
    )
    add_source_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=run)


def jsonable(x: Any) -> Any:
    """Convert numpy scalars/arrays (and non-finite floats) for ``json.dumps``."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def format_summary(r: SampleResult) -> str:
    """A readable multi-line summary of one sample."""
    m = r.meta
    model = m.get("model")
    if model == "floquet" or (model is None and "alpha" in m):
        head = f"L={r.L} alpha={m['alpha']:g} sample={m['sample']} seed={m['seed']}"
    elif model is not None:
        from .. import record

        params = " ".join(f"{k}={m[k]:g}" for k in record.MODEL_PARAMETERS.get(model, ()))
        head = f"L={r.L} {model} {params} sample={m['sample']} seed={m['seed']}"
    else:
        head = f"L={r.L} {r.kind} from {m.get('source', 'array')}"
    c = r.certificate
    lines = [
        head,
        f"  Gamma          = {r.Gamma:.6e}   (Eq. 5; eigenvalue {r.Gamma_eig:.6e})",
        f"  r_S / gamma    = {3 * r.Gamma:.6e}   (r_S = 3 gamma Gamma)",
        f"  Gamma_2        = {r.Gamma2:.6e}   (Gamma/Gamma_2 = {c.gamma_ratio:.4g})",
        f"  R              = {r.R:.6f}   (D_mu,nu / 2^L Gamma)",
        f"  mu = {r.mu:<6d} theta = {r.theta[r.mu]:+.12f}   c = {r.c[r.mu]:+.6f}",
        f"  nu = {r.nu:<6d} theta = {r.theta[r.nu]:+.12f}   c = {r.c[r.nu]:+.6f}",
        "  certificate:",
        f"    eigensolver          {m.get('method', '?')} on {m.get('backend', 'cpu')}",
        f"    unitarity error      {c.unitarity_error:.2e}",
        f"    orthonormality error {c.orthonormality_error:.2e}",
        f"    eigen-residual       {c.eigen_residual:.2e}",
        f"    S row-sum error      {c.row_sum_error:.2e}",
        f"    |Gamma_eq5-Gamma_eig|/Gamma {c.gamma_rel_diff:.2e}",
        f"    slow-mode residual   {c.gamma_residual:.2e}   Gamma floor {c.gamma_floor:.2e}",
        f"    min level spacing    {c.min_splitting:.2e}",
        f"    flags                {', '.join(c.flags) or 'none'}",
    ]
    res = r.resonance
    if res is not None and hasattr(res, "table"):
        lines.append(res.table())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    r = sample_from_args(args)
    if args.json:
        print(json.dumps(jsonable(r.scalars()), indent=2))
    else:
        print(format_summary(r))
    return 0
