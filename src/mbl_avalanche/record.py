"""The schema of a per-sample record: every column named once, with its meaning and its stage.

A *record* is the flat dict of scalars that one analysed disorder sample leaves behind
(:meth:`mbl_avalanche.analysis.SampleResult.scalars`, plus the runner's bookkeeping).  It is what
``mbl-avalanche sample --json`` prints, one line of a shard file of a run directory, and one row of
the table that ``mbl-avalanche table`` exports and that the figures and the report read.  This
module is the only place that says which columns exist:

* :data:`COLUMNS` -- every column of a record, in table order, each a :class:`Column` with its
  dtype, meaning (in the paper's words), unit or convention, the pipeline stage that produces it
  and when it is present;
* :data:`DERIVED` -- the columns that :func:`mbl_avalanche.stats.prepare` adds to a table for
  figures and report (they are never stored);
* :data:`RECORD_VERSION` -- the version of this set of columns, written into the header of every
  shard (``"record_version"``).  Shards written before versioning (package 0.1.0 up to the
  record schema) hold exactly version 1 and are read as such.

Writers validate through :func:`validate` (the runner before a shard is written, the store when it
writes and reads one); :func:`table_dtypes` gives the pandas dtypes of an exported table;
:func:`column` is how figures, report and statistics name a column, so a renamed or removed
column fails loudly; :func:`columns_markdown` generates the column reference of the
documentation.

Stages (the data flow of one sample): ``model`` (the disorder realisation and its identity),
``spectrum`` (eigenstates of the closed system), ``bath`` (rate matrix, slowest mode, ``Gamma``,
``D_mn``, ``R``), ``resonance`` (the near-resonant set ``{A, B, A', B'}``), ``analysis`` (the
composition: kind, timings, flags), ``runner`` (bookkeeping of the ensemble runner) and ``store``
(added when a run directory is read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "COLUMNS",
    "DERIVED",
    "KEY_COLUMNS",
    "MODEL_KNOBS",
    "MODEL_PARAMETERS",
    "PAIRS",
    "RECORD_VERSION",
    "STAGES",
    "VOLATILE",
    "Column",
    "SchemaError",
    "column",
    "column_names",
    "columns_markdown",
    "declare_model",
    "is_volatile",
    "parameters_of",
    "record_key",
    "required_columns",
    "table_dtypes",
    "upgrade",
    "validate",
]

#: Version of the set of columns below; bump it (and teach :func:`upgrade`) when a column is
#: added, removed, renamed or changes meaning.
RECORD_VERSION = 2

Dtype = Literal["int", "float", "bool", "str"]
Presence = Literal["always", "ok", "optional"]

#: Pipeline stages, in data-flow order.
STAGES = ("model", "spectrum", "bath", "resonance", "analysis", "runner", "store", "table")

#: The four pairs of the near-resonant set (paper Fig. 4(c, d)); ``p`` marks a prime.
PAIRS = ("AB", "ApB", "ABp", "ApBp")


class SchemaError(ValueError):
    """A record or a column name that does not follow the schema (a programming error or a file
    written by another version of the package)."""


@dataclass(frozen=True)
class Column:
    """One column of a per-sample record.

    Attributes
    ----------
    name : str
        Column name.
    dtype : {"int", "float", "bool", "str"}
        Python type of the value (``float`` values may be NaN or infinite).
    stage : str
        Pipeline stage that produces it (one of :data:`STAGES`).
    meaning : str
        What it is, in the paper's words where the paper has them.
    unit : str
        Unit or convention (empty when there is nothing to say).
    presence : {"always", "ok", "optional"}
        ``always``: in every record of a run, failed samples included; ``ok``: in every record of
        a successfully analysed sample; ``optional``: only in some (e.g. the fast solver's own
        figures, the near-resonance analysis, a user-supplied operator's source).
    volatile : bool
        Differs between identical computations (host, timings): left out when records are
        compared (:func:`mbl_avalanche.ensemble.drop_volatile`).
    """

    name: str
    dtype: Dtype
    stage: str
    meaning: str
    unit: str = ""
    presence: Presence = "ok"
    volatile: bool = False


def _c(
    name: str,
    dtype: Dtype,
    stage: str,
    meaning: str,
    unit: str = "",
    presence: Presence = "ok",
    volatile: bool = False,
) -> Column:
    return Column(name, dtype, stage, meaning, unit, presence, volatile)


_PRIME = {"AB": "A-B", "ApB": "A'-B", "ABp": "A-B'", "ApBp": "A'-B'"}

_COLUMNS: list[Column] = [
    # -- the sample and its model ------------------------------------------------------------
    _c(
        "L",
        "int",
        "model",
        "chain length (number of spins); the bath couples to site L",
        "sites 1..L",
        "always",
    ),
    _c(
        "alpha",
        "float",
        "model",
        "disorder parameter of the Floquet circuit (bond gates "
        "exp(-i H/alpha)); alpha = 30 is MBL near the avalanche instability, alpha = 1 thermal",
        "",
        "optional",
    ),
    _c("sample", "int", "model", "disorder sample index k", "k >= 0", "always"),
    _c(
        "seed",
        "int",
        "model",
        "root seed; sample k is a pure function of (seed, model, L, parameters, k) through "
        "numpy's SeedSequence (conventions, section 1; Floquet: spawn_key=(L, float64 bits of "
        "alpha, k))",
        "",
        "always",
    ),
    _c(
        "gue_scale",
        "float",
        "model",
        "Floquet: scale of the bond GUE matrices (density exp(-tr H^2 / gue_scale^2))",
        "",
        "optional",
    ),
    _c(
        "layer_order",
        "str",
        "model",
        "Floquet: bond layer applied first after D: 'odd_first' (U_F = W_even W_odd D) or "
        "'even_first'",
        "",
        "optional",
    ),
    _c(
        "model",
        "str",
        "model",
        "model family: 'floquet' (the random circuit), 'heisenberg' (random-field XXZ chain), "
        "'planted' (the minimal model), or 'module:Class' of a user model",
        "",
        "always",
    ),
    _c(
        "W",
        "float",
        "model",
        "XXZ: disorder strength, fields h_i uniform in [-W, W]",
        "units of the exchange J = 1, S = sigma/2",
        "optional",
    ),
    _c("Delta", "float", "model", "XXZ: anisotropy (1: Heisenberg)", "", "optional"),
    _c(
        "epsilon",
        "float",
        "model",
        "planted model: mixing angle of the planted pair",
        "radians",
        "optional",
    ),
    _c(
        "eta", "float", "model", "planted model: strength of the in-sector dressing", "", "optional"
    ),
    _c(
        "splitting",
        "float",
        "model",
        "planted model: quasienergy splitting of the planted pair",
        "radians",
        "optional",
    ),
    _c(
        "flip_distance",
        "int",
        "model",
        "planted model: distance from the bath site of the planted pair's flip closest to it "
        "(the pair differs at sites 1 and L - flip_distance; 0: the Z case)",
        "sites",
        "optional",
    ),
    _c(
        "disorder",
        "str",
        "model",
        "the sample's disorder realisation as a JSON object, from which it can be rebuilt outside "
        "the package (Floquet: one-site phases phi[i][s] and the sha256 of the bond gates; XXZ: "
        "the fields h_i)",
        "JSON",
        "optional",
    ),
    _c(
        "method",
        "str",
        "spectrum",
        "eigensolver used: 'fast', 'schur', 'fast->schur' (the fast "
        "solver failed its check and Schur was used) or 'eigh' (Hamiltonian); in a failed record "
        "the solver that was asked for",
        "",
        "always",
    ),
    _c(
        "backend",
        "str",
        "spectrum",
        "where the eigensolver, rates and slowest mode ran: 'cpu' or 'gpu'",
    ),
    _c(
        "exact_certificate",
        "bool",
        "spectrum",
        "whether the unitarity, orthonormality and "
        "eigen-residual figures are exact max-norms (else randomised Frobenius estimates)",
    ),
    _c(
        "fast_residual_fro",
        "float",
        "spectrum",
        "fast solver: probe estimate of ||U V - V diag(lambda)||_F after the refinement",
        "",
        "optional",
    ),
    _c(
        "fast_orthonormality_fro",
        "float",
        "spectrum",
        "fast solver: probe estimate of ||V^dagger V - 1||_F",
        "",
        "optional",
    ),
    _c(
        "fast_residual_bound",
        "float",
        "spectrum",
        "fast solver: bound of the second-order remainder of the refinement step",
        "",
        "optional",
    ),
    _c(
        "fast_clusters",
        "int",
        "spectrum",
        "fast solver: number of near-degenerate clusters re-diagonalised by Schur",
        "",
        "optional",
    ),
    _c(
        "source",
        "str",
        "model",
        "file or description of a user-supplied operator (instead of "
        "the model's alpha, sample, seed)",
        "",
        "optional",
    ),
    _c(
        "kind",
        "str",
        "analysis",
        "what was diagonalised: 'unitary' (Floquet U_F) or 'hamiltonian'",
        "",
        "always",
    ),
    # -- the bath: rate matrix, slowest mode (Eqs. 3-5) --------------------------------------
    _c(
        "Gamma",
        "float",
        "bath",
        "gap of the slowest mode from 1, from the positive sum of "
        "Eq. (5): Gamma = sum_{m<n} D_mn / 2^L",
        "dimensionless; r_S = 3 gamma Gamma",
    ),
    _c(
        "Gamma_eig",
        "float",
        "bath",
        "the same gap as the smallest eigenvalue of the deflated "
        "Laplacian (kept for comparison; absolute error ~ cert_gamma_resolution)",
    ),
    _c("Gamma2", "float", "bath", "gap of the second slowest mode (Eq. 5 with its eigenvector)"),
    _c(
        "rS_over_gamma",
        "float",
        "bath",
        "relaxation rate of the slowest mode per unit bath "
        "coupling, r_S / gamma = 3 Gamma (first order in gamma)",
        "per period",
    ),
    _c(
        "mu",
        "int",
        "bath",
        "first eigenstate of the pair with the largest D_mn (mu < nu)",
        "eigenstate index, ascending quasienergy",
    ),
    _c(
        "nu",
        "int",
        "bath",
        "second eigenstate of the pair with the largest D_mn",
        "eigenstate index, ascending quasienergy",
    ),
    _c("theta_mu", "float", "spectrum", "quasienergy of mu", "radians in (-pi, pi]"),
    _c("theta_nu", "float", "spectrum", "quasienergy of nu", "radians in (-pi, pi]"),
    _c("c_mu", "float", "bath", "slowest mode c at mu", "sum_n c_n^2 = 2^L"),
    _c("c_nu", "float", "bath", "slowest mode c at nu", "sum_n c_n^2 = 2^L"),
    _c(
        "D_top",
        "float",
        "bath",
        "the largest contribution D_mu,nu = S_mu,nu (c_mu - c_nu)^2 (Eq. 4)",
    ),
    _c(
        "R",
        "float",
        "bath",
        "fraction of the relaxation carried by the top pair, R = D_mu,nu "
        "/ (2^L Gamma) (Fig. 2); R <= 1/2 in the MBL regime",
    ),
    # -- the certificate ---------------------------------------------------------------------
    _c(
        "cert_unitarity_error",
        "float",
        "spectrum",
        "max|U^dagger U - 1| of the input unitary (0 for a Hamiltonian)",
        "exact max-norm or Frobenius estimate (exact_certificate)",
    ),
    _c(
        "cert_orthonormality_error",
        "float",
        "spectrum",
        "max|V^dagger V - 1| of the eigenvectors",
        "exact max-norm or Frobenius estimate (exact_certificate)",
    ),
    _c(
        "cert_eigen_residual",
        "float",
        "spectrum",
        "max_n ||U v_n - exp(i theta_n) v_n|| (or "
        "||H v_n - E_n v_n|| / max|E|); NaN if the input was overwritten",
        "exact max-norm or Frobenius estimate (exact_certificate)",
    ),
    _c(
        "cert_row_sum_error",
        "float",
        "bath",
        "max_n |sum_m S_mn - 1|: completeness and orthonormality of V seen by the rate matrix",
    ),
    _c(
        "cert_gamma_rel_diff",
        "float",
        "bath",
        "|Gamma - Gamma_eig| / Gamma: how far the eigenvalue is from Eq. (5)",
    ),
    _c("cert_gamma_ratio", "float", "bath", "Gamma / Gamma2 (the paper assumes a gap: below 1)"),
    _c(
        "cert_gamma_resolution",
        "float",
        "bath",
        "absolute eigenvalue resolution sqrt(N) eps ||Lap|| of the dense Laplacian eigensolver",
    ),
    _c(
        "cert_gamma_residual",
        "float",
        "bath",
        "a-posteriori residual ||Lap c - Gamma c|| / "
        "||c|| of the slowest mode (cancellation-free form)",
    ),
    _c(
        "cert_gamma_floor",
        "float",
        "bath",
        "estimated absolute error of Gamma: residual^2 / gap + rounding floor of the Ritz matrix",
    ),
    _c(
        "cert_mode_error",
        "float",
        "bath",
        "estimated error (angle) of the slowest mode c",
        "radians",
    ),
    _c(
        "cert_min_splitting",
        "float",
        "spectrum",
        "smallest quasienergy spacing (modulo 2 pi); "
        "eigenvectors of a pair with spacing delta carry an error ~1e-15/delta",
    ),
    _c(
        "cert_degenerate_slow_mode",
        "bool",
        "bath",
        "flag: the slowest mode is not determined "
        "to 1% (cert_mode_error > 0.01), e.g. alpha -> infinity",
    ),
    _c(
        "cert_gamma_below_precision",
        "bool",
        "bath",
        "flag: Gamma below 10 times its floor, not resolved in float64",
    ),
    _c("cert_flags", "str", "analysis", "the raised flags, comma-separated ('' if none)"),
    # -- the near-resonant set (paper Figs. 3-4) ---------------------------------------------
    _c(
        "case",
        "str",
        "resonance",
        "'Z' if Z_jump(mu, nu) >= 1/2 (the resonance flips the bath "
        "site: {A, B} = {mu, nu}), else 'XY' (the top pair is {A, B'})",
        "",
        "optional",
    ),
    _c(
        "zjump_mu_nu",
        "float",
        "resonance",
        "Z_jump(mu, nu) = |<mu|Z_L|nu>|^2 / sum_j |<mu|E_j|nu>|^2",
        "in [0, 1]",
        "optional",
    ),
    _c(
        "mu_p",
        "int",
        "resonance",
        "mu' = the eigenstate n != mu with the largest |<mu|X_L|n>| (tau^x_L mu)",
        "eigenstate index",
        "optional",
    ),
    _c(
        "nu_p",
        "int",
        "resonance",
        "nu' = the eigenstate n != nu with the largest |<nu|X_L|n>|",
        "eigenstate index",
        "optional",
    ),
    _c(
        "A",
        "int",
        "resonance",
        "eigenstate A of the near-resonant pair {A, B}",
        "eigenstate index",
        "optional",
    ),
    _c(
        "B",
        "int",
        "resonance",
        "eigenstate B of the near-resonant pair {A, B}",
        "eigenstate index",
        "optional",
    ),
    _c(
        "Ap",
        "int",
        "resonance",
        "A' = tau^x_L A (the partner of A)",
        "eigenstate index",
        "optional",
    ),
    _c(
        "Bp",
        "int",
        "resonance",
        "B' = tau^x_L B (the partner of B)",
        "eigenstate index",
        "optional",
    ),
]
for _p in PAIRS:
    _COLUMNS.append(
        _c(
            f"S_{_p}",
            "float",
            "resonance",
            f"rate-matrix element S of the {_PRIME[_p]} pair (Eq. 3)",
            "",
            "optional",
        )
    )
    _COLUMNS.append(
        _c(
            f"D_{_p}",
            "float",
            "resonance",
            f"contribution D of the {_PRIME[_p]} pair to the relaxation (Eq. 4)",
            "",
            "optional",
        )
    )
_COLUMNS += [
    _c(
        "ratio_SABp_SApB",
        "float",
        "resonance",
        "S_AB' / S_A'B (Fig. 4(a): peaked near 1)",
        "",
        "optional",
    ),
    _c(
        "ratio_SAB_SABp",
        "float",
        "resonance",
        "S_AB / S_AB' (Fig. 4(b), Z case: near 2)",
        "",
        "optional",
    ),
    _c(
        "ratio_SAB_SApB",
        "float",
        "resonance",
        "S_AB / S_A'B (Fig. 4(b), Z case: near 2)",
        "",
        "optional",
    ),
    _c(
        "zjump_AB",
        "float",
        "resonance",
        "Z_jump(A, B) (Fig. 4(b) inset: near 1 in the Z case)",
        "in [0, 1]",
        "optional",
    ),
    _c(
        "zjump_ABp",
        "float",
        "resonance",
        "Z_jump(A, B') (Fig. 4(a) inset: near 0)",
        "in [0, 1]",
        "optional",
    ),
    _c(
        "zjump_ApB",
        "float",
        "resonance",
        "Z_jump(A', B) (Fig. 4(a) inset: near 0)",
        "in [0, 1]",
        "optional",
    ),
    _c(
        "dc_AAp",
        "float",
        "resonance",
        "c_A - c_A' (small: the slow mode barely changes when the l-bit next to the bath flips)",
        "",
        "optional",
    ),
    _c("dc_BBp", "float", "resonance", "c_B - c_B'", "", "optional"),
    _c("dc_mu_nu", "float", "resonance", "|c_mu - c_nu| (of order 1)", "", "optional"),
    _c(
        "frac_four",
        "float",
        "resonance",
        "share of 2^L Gamma carried by the pairs within {A, B, A', B'}",
        "",
        "optional",
    ),
]
for _k in (1, 2, 4, 8):
    _COLUMNS.append(
        _c(
            f"frac_top{_k}",
            "float",
            "resonance",
            f"share of 2^L Gamma carried by the {_k} largest D_mn",
            "",
            "optional",
        )
    )
for _p in PAIRS:
    _COLUMNS.append(
        _c(
            f"angle_{_p}",
            "float",
            "resonance",
            f"demixing angle of the {_PRIME[_p]} pair (Fig. 4(c, d)); eps ~ angle/2 of Eq. (7)",
            "radians in [0, pi/2]",
            "optional",
        )
    )
    _COLUMNS.append(
        _c(
            f"split_{_p}",
            "float",
            "resonance",
            f"quasienergy splitting delta of the {_PRIME[_p]} pair (modulo 2 pi)",
            "radians in [0, pi]",
            "optional",
        )
    )
    _COLUMNS.append(
        _c(
            f"trusted_{_p}",
            "bool",
            "resonance",
            f"whether the splitting of the "
            f"{_PRIME[_p]} pair resolves its angle (eigenvector error 1e-15/delta "
            "below 1% of the angle)",
            "",
            "optional",
        )
    )
_COLUMNS += [
    _c(
        "x",
        "float",
        "resonance",
        "resonance location: the site closest to the bath where the "
        "demixed |a>, |b> have opposite <Z_i> (NaN if none)",
        "site 1..L",
        "optional",
    ),
    _c(
        "x_over_L",
        "float",
        "resonance",
        "x / L (SM: most probable near 0.8 at the largest L)",
        "",
        "optional",
    ),
    _c(
        "bits_a",
        "str",
        "resonance",
        "dominant basis state of the demixed |a>",
        "s_1 ... s_L, 0 = spin up",
        "optional",
    ),
    _c(
        "bits_b",
        "str",
        "resonance",
        "dominant basis state of the demixed |b>",
        "s_1 ... s_L, 0 = spin up",
        "optional",
    ),
    _c(
        "flip_sites",
        "str",
        "resonance",
        "sites where bits_a and bits_b differ",
        "comma-separated, 1-based",
        "optional",
    ),
]
for _stage, _what in (
    ("build", "building U_F (model)"),
    ("check", "validating the input operator"),
    ("diagonalise", "the eigensolver"),
    ("rates", "the rate matrix S"),
    ("slowest_mode", "the slowest mode"),
    ("rest", "the top pair and the certificate"),
    ("resonance", "the near-resonance analysis"),
):
    _COLUMNS.append(
        _c(
            f"time_{_stage}",
            "float",
            "analysis",
            f"wall time of {_what}",
            "seconds",
            "optional",
            True,
        )
    )
_COLUMNS += [
    _c("status", "str", "runner", "'ok', or 'failed' (the analysis raised)", "", "always"),
    _c("error", "str", "runner", "'Type: message' of a failed sample ('' if ok)", "", "always"),
    _c(
        "blas_threads",
        "int",
        "runner",
        "BLAS threads the sample ran with (they set the "
        "floating-point summation order, so they are part of the result)",
        "",
        "always",
    ),
    _c("host", "str", "runner", "host name of the worker", "", "always", True),
    _c(
        "wall_time",
        "float",
        "runner",
        "wall time of the whole sample on its worker (NaN if the task failed as a whole)",
        "seconds",
        "always",
        True,
    ),
    _c(
        "shard",
        "str",
        "store",
        "shard file the record was read from (added when a run directory is read; not stored)",
        "",
        "optional",
        True,
    ),
]

#: Every column of a per-sample record, by name, in table order.
COLUMNS: dict[str, Column] = {c.name: c for c in _COLUMNS}
if len(COLUMNS) != len(_COLUMNS):  # pragma: no cover - a typo in the list above
    raise RuntimeError("duplicate column names in the record schema")

#: Columns that :func:`mbl_avalanche.stats.prepare` derives for figures and report.
DERIVED: dict[str, Column] = {
    c.name: c
    for c in (
        _c(
            "disorder",
            "float",
            "table",
            "the model's disorder parameter (alpha, W, ...; mbl_avalanche.stats.Regimes.parameter)",
        ),
        _c(
            "regime",
            "str",
            "table",
            "'MBL', 'thermal' or 'intermediate', from alpha (mbl_avalanche.stats.Regimes)",
        ),
        _c("lnGamma", "float", "table", "ln Gamma (NaN where Gamma <= 0)"),
        _c(
            "gap_ratio",
            "float",
            "table",
            "Gamma2 / Gamma (from 1 / cert_gamma_ratio if Gamma2 is missing)",
        ),
        _c(
            "flagged",
            "float",
            "table",
            "1 if any accuracy flag is raised, 0 if none, NaN if the table has no flag columns",
        ),
    )
}

#: Names of the volatile columns (host and timings: they differ between identical runs).
VOLATILE: tuple[str, ...] = tuple(c.name for c in _COLUMNS if c.volatile)


def column(name: str) -> str:
    """``name`` if it is a record column or a derived column, else :class:`SchemaError`.

    Figures, report and statistics name columns through this, so that a column renamed or
    removed from the schema fails at once instead of silently drawing nothing.
    """
    if name in COLUMNS or name in DERIVED:
        return name
    raise SchemaError(f"column {name!r} is not in the record schema (mbl_avalanche.record)")


def column_names(stage: str | None = None) -> list[str]:
    """Names of the record columns (of one ``stage`` if given), in table order."""
    return [c.name for c in _COLUMNS if stage is None or c.stage == stage]


def is_volatile(name: str) -> bool:
    """Whether column ``name`` differs between identical computations."""
    col = COLUMNS.get(name)
    return bool(col is not None and col.volatile) or name.startswith("time_")


def _type_ok(value: Any, dtype: Dtype) -> bool:
    if value is None:
        return True
    if dtype == "float":
        return isinstance(value, float | int) and not isinstance(value, bool)
    if dtype == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if dtype == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


#: Parameter columns of each model family (its grid axes) and its other identity columns (the
#: convention knobs); a record of a run holds all of them.  User models add theirs with
#: :func:`declare_model`.
MODEL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "floquet": ("alpha",),
    "heisenberg": ("W", "Delta"),
    "planted": ("epsilon", "eta", "splitting", "flip_distance"),
}
MODEL_KNOBS: dict[str, tuple[str, ...]] = {"floquet": ("gue_scale", "layer_order")}

#: The columns every stored record holds, whatever its model (a record without ``model`` is of
#: the Floquet model: version 1 knew no other).
KEY_COLUMNS = ("L", "sample", "status")


def declare_model(family: str, parameters: Iterable[Column]) -> None:
    """Declare the parameter columns of a user model family (idempotent).

    A parameter that is already a column must have the same dtype; a new one is added to
    :data:`COLUMNS` (stage ``model``, presence ``optional``).  Raises :class:`SchemaError` for a
    clash.
    """
    params = list(parameters)
    for col in params:
        old = COLUMNS.get(col.name) or DERIVED.get(col.name)
        if old is not None and (old.dtype != col.dtype or old.stage != "model"):
            raise SchemaError(
                f"parameter {col.name!r} of model {family!r} clashes with the record column "
                f"{col.name!r} ({old.dtype}, stage {old.stage}): rename the parameter"
            )
        if old is None:
            COLUMNS[col.name] = Column(
                col.name, col.dtype, "model", col.meaning, col.unit, "optional"
            )
    names = tuple(c.name for c in params)
    known = MODEL_PARAMETERS.get(family)
    if known is not None and known != names:
        raise SchemaError(f"model {family!r} is already declared with parameters {known}")
    MODEL_PARAMETERS[family] = names


def parameters_of(rec: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """``((name, value), ...)`` of the grid parameters of a record's model, in declared order."""
    names = MODEL_PARAMETERS.get(str(rec.get("model", "floquet")), ())
    return tuple((n, rec.get(n)) for n in names)


def record_key(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies a sample in a run: ``(model, L, parameters, sample)``."""
    return (str(rec.get("model", "floquet")), int(rec["L"]), parameters_of(rec), int(rec["sample"]))


Require = Literal["run", "sample", "key"]


def required_columns(rec: Mapping[str, Any], require: Require = "run") -> list[str]:
    """The columns ``rec`` must hold.

    ``"run"``: a record of a run directory as the runner writes it -- every ``always`` column
    (but ``shard``) and, when its ``status`` is ``"ok"``, every ``ok`` column; ``"sample"``: one
    analysed sample (``SampleResult.scalars()``, possibly of a user-supplied operator) -- the
    ``ok`` columns and ``L``, ``kind``; ``"key"``: what the store needs to place a record --
    :data:`KEY_COLUMNS`.
    """
    if require == "key":
        return list(KEY_COLUMNS)
    family = str(rec.get("model", ""))
    model_cols = [*MODEL_PARAMETERS.get(family, ()), *MODEL_KNOBS.get(family, ())]
    if require == "sample":
        return ["L", "kind", *(c.name for c in _COLUMNS if c.presence == "ok")]
    ok = rec.get("status", "ok") == "ok"
    return [
        c.name
        for c in _COLUMNS
        if c.name != "shard" and (c.presence == "always" or (ok and c.presence == "ok"))
    ] + model_cols


def validate(rec: Mapping[str, Any], *, require: Require = "run", where: str = "record") -> None:
    """Check one record against the schema; raise :class:`SchemaError` naming what is wrong.

    Every key must be a column of :data:`COLUMNS` with a value of its dtype (``None`` stands for
    a missing value; floats may be NaN or infinite), and the columns of
    :func:`required_columns` (``require``) must be present.
    """
    for key, value in rec.items():
        col = COLUMNS.get(key)
        if col is None:
            raise SchemaError(
                f"{where}: column {key!r} is not in the record schema (version {RECORD_VERSION})"
            )
        if not _type_ok(value, col.dtype):
            raise SchemaError(f"{where}: column {key!r} = {value!r} is not of dtype {col.dtype}")
    missing = [name for name in required_columns(rec, require) if name not in rec]
    if missing:
        raise SchemaError(f"{where}: columns missing: {', '.join(missing)}")


def upgrade(rec: dict[str, Any], version: int | None) -> dict[str, Any]:
    """A record written with record ``version`` (``None``: before versioning) in today's form.

    Raises :class:`SchemaError` for a version newer than :data:`RECORD_VERSION` (a file written
    by a newer package).
    """
    v = 1 if version is None else int(version)
    if v > RECORD_VERSION:
        raise SchemaError(
            f"record version {v} is newer than this package's "
            f"{RECORD_VERSION}: upgrade mbl-avalanche to read it"
        )
    if v < 1:
        raise SchemaError(f"record version {v} is not known")
    if v < 2:  # version 1 knew only the Floquet circuit
        rec.setdefault("model", "floquet")
    return rec


_PANDAS = {
    "int": ("int64", "Int64"),
    "float": ("float64", "float64"),
    "bool": ("bool", "boolean"),
    "str": ("object", "object"),
}


def table_dtypes(
    columns: Iterable[str], has_missing: Mapping[str, bool] | None = None
) -> dict[str, str]:
    """pandas dtypes of the schema columns among ``columns``.

    An integer or boolean column with missing entries (``has_missing[name]``, e.g. the analysis
    columns of failed samples) gets the nullable ``Int64`` / ``boolean`` dtype; string columns are
    left to pandas (``object`` or ``str``).
    """
    has_missing = has_missing or {}
    out: dict[str, str] = {}
    for name in columns:
        col = COLUMNS.get(name) or DERIVED.get(name)
        if col is None or col.dtype == "str":
            continue
        full, nullable = _PANDAS[col.dtype]
        out[name] = nullable if has_missing.get(name, False) else full
    return out


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def columns_markdown() -> str:
    """The column reference (Markdown) of the documentation, generated from :data:`COLUMNS`."""
    lines = [
        "# Column reference",
        "",
        f"Every column of a per-sample record (record version {RECORD_VERSION}), as stored in a "
        "run directory, printed by `mbl-avalanche sample --json` and exported by "
        "`mbl-avalanche table`, in table order.  Generated from `mbl_avalanche.record`.",
        "",
        "*Presence*: **always** in every record (failed samples included), **ok** in every "
        "successfully analysed sample, **optional** only in some.  *Volatile* columns (host, "
        "timings) differ between identical computations.",
        "",
    ]
    for stage in STAGES:
        cols = [c for c in _COLUMNS if c.stage == stage]
        if not cols:
            continue
        lines += [
            f"## Stage `{stage}`",
            "",
            "| column | dtype | meaning | unit / convention | presence |",
            "|---|---|---|---|---|",
        ]
        for c in cols:
            pres = c.presence + (", volatile" if c.volatile else "")
            lines.append(
                f"| `{c.name}` | {c.dtype} | {_md_escape(c.meaning)} | "
                f"{_md_escape(c.unit)} | {pres} |"
            )
        lines.append("")
    lines += [
        "## Derived by `mbl_avalanche.stats.prepare` (not stored)",
        "",
        "| column | dtype | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{c.name}` | {c.dtype} | {_md_escape(c.meaning)} |" for c in DERIVED.values()]
    return "\n".join(lines) + "\n"
