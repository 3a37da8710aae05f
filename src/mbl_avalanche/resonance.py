"""The near-resonant eigenstate set {A, B, A', B'}: identification, demixing, resonance location.

Paper sections "Near-resonant eigenstate set" and "Numerical observations" (Figs. 3, 4) and the
conventions, section 3.  Given the eigenvectors ``V``, the slowest mode ``c`` and the top pair
``(mu, nu)`` of ``D_mn`` (all from :mod:`mbl_avalanche.bath`):

* partners ``gamma'`` for ``gamma in {mu, nu}``: the eigenstate ``n != gamma`` maximising
  ``|<gamma|X_L|n>|`` (the l-bit next to the bath flipped);
* ``Z_jump(m, n) = |<m|Z_L|n>|**2 / sum_j |<m|E_j|n>|**2``;
* Z case (``Z_jump(mu, nu) >= 1/2``): ``A = mu, B = nu``.  XY case: ``{A, B}`` is whichever of
  ``{mu', nu}`` and ``{mu, nu'}`` has the smaller quasienergy splitting (modulo ``2 pi``); the
  labels are chosen so that the top pair is ``{A, B'}`` (paper Fig. 3a); a candidate whose two
  states coincide (``mu' = nu``, seen in thermal samples) is no pair, and if both coincide
  ``{A, B} = {mu, nu}``.  Then ``A' = partner(A)``, ``B' = partner(B)``; a pair of the set that
  falls on one eigenstate has no demixing angle (NaN).

Demixing (Ref. [16]; conventions, section 3): in ``span{|A>, |B>}`` the orthonormal pair
``|a>, |b>`` maximising ``sum_i (<a|Z_i|a>**2 + <b|Z_i|b>**2)``.  Writing ``|a>`` by its Bloch
vector ``n`` (north pole ``|A>``, south pole ``|B>``) and each ``Z_i`` restricted to the span as
``h_i0 1 + h_i . sigma``, the measure is ``const + 2 n^T (sum_i h_i h_i^T) n``: ``n`` is the top
eigenvector of a 3x3 matrix.  The demixing angle is the polar angle of ``n`` folded into
``[0, pi/2]``; for a weak resonance ``|A> = |a> - eps |b>`` with ``eps = angle / 2`` (Eq. 7).
Other measures can be plugged in (:data:`DEMIXING_MEASURES`).

The resonance location ``x`` is the largest site ``i`` (closest to the bath) at which ``|a>`` and
``|b>`` have opposite signs of ``<Z_i>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize as sopt

from . import bath
from ._repr import compact_repr
from .basis import z_signs
from .errors import InputError
from .spectrum import phase_distance

__all__ = [
    "DEMIXING_MEASURES",
    "EIGVEC_ERROR_SCALE",
    "PAIRS",
    "POLARISATION_TOL",
    "Demixing",
    "Resonance",
    "bit_string",
    "demix",
    "four_state_set",
    "half_chain_entropy",
    "partner",
    "rate_element",
    "resonance_location",
    "x_row",
    "z_measure_form",
    "z_profile",
    "zjump",
]

#: Relative eigenvector error per unit of inverse splitting seen in float64 (conventions,
#: section 4).
EIGVEC_ERROR_SCALE = 1e-15

#: Polarisations ``|<Z_i>|`` at or below this have no sign (rounding of normalised states is
#: ``~ L eps``); a site where either demixed state is unpolarised is not a flip.
POLARISATION_TOL = 1e-12

PAIRS = (("A", "B"), ("Ap", "B"), ("A", "Bp"), ("Ap", "Bp"))


def x_row(v: np.ndarray, g: int) -> np.ndarray:
    """``<g|X_L|n>`` for all ``n`` (O(N**2)): ``conj(v0_g) . V1 + conj(v1_g) . V0``."""
    return v[0::2, g].conj() @ v[1::2] + v[1::2, g].conj() @ v[0::2]


def partner(v: np.ndarray, g: int) -> int:
    """The eigenstate ``n != g`` with the largest ``|<g|X_L|n>|`` (``tau^x_L |g>``)."""
    row = np.abs(x_row(v, g))
    row[g] = -1.0
    return int(np.argmax(row))


def zjump(v: np.ndarray, m: int, n: int) -> float:
    """``|<m|Z_L|n>|**2 / sum_j |<m|E_j|n>|**2`` (NaN if all three vanish)."""
    e2 = np.abs(bath.jump_matrix_elements(v, m, n)) ** 2
    tot = float(e2.sum())
    return float(e2[2]) / tot if tot > 0 else float("nan")


def rate_element(v: np.ndarray, m: int, n: int) -> float:
    """``S_mn`` of Eq. (3) from two eigenvectors (O(N))."""
    return float(np.sum(np.abs(bath.jump_matrix_elements(v, m, n)) ** 2) / 3.0)


# --- demixing ----------------------------------------------------------------------------------


@dataclass
class Demixing:
    """Demixed pair of two eigenstates.

    Attributes
    ----------
    a, b : ndarray
        The demixed orthonormal states (``|a>`` nearer the first input state).
    bloch : ndarray, shape (3,)
        Bloch vector of ``|a>`` with ``|A>`` at the north pole, ``|B>`` at the south pole.
    angle : float
        Demixing angle: polar angle of ``bloch`` folded into ``[0, pi/2]``.
    measure : str
        The localisation measure that was maximised.
    """

    a: np.ndarray
    b: np.ndarray
    bloch: np.ndarray
    angle: float
    measure: str

    __repr__ = compact_repr

    @property
    def epsilon(self) -> float:
        """Mixing ``eps ~ angle / 2`` of Eq. (7)."""
        return 0.5 * self.angle


def _states_from_bloch(
    psi_a: np.ndarray, psi_b: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    th = float(np.arctan2(np.hypot(n[0], n[1]), n[2]))  # accurate for tiny angles, unlike arccos
    ph = np.arctan2(n[1], n[0])
    ca, sa = np.cos(th / 2), np.sin(th / 2)
    a = ca * psi_a + sa * np.exp(1j * ph) * psi_b
    b = -sa * np.exp(-1j * ph) * psi_a + ca * psi_b
    return a, b


def z_measure_form(psi_a: np.ndarray, psi_b: np.ndarray, L: int) -> np.ndarray:
    """``sum_i h_i h_i^T``: the 3x3 form whose top eigenvector is the Z-polarisation optimum."""
    z = z_signs(L)
    aa = (np.abs(psi_a) ** 2) @ z
    bb = (np.abs(psi_b) ** 2) @ z
    ab = (psi_a.conj() * psi_b) @ z  # <A|Z_i|B>
    h = np.stack([ab.real, -ab.imag, 0.5 * (aa - bb)], axis=1)  # (L, 3)
    return h.T @ h


def _demix_z(psi_a: np.ndarray, psi_b: np.ndarray, L: int) -> np.ndarray:
    _, u = np.linalg.eigh(z_measure_form(psi_a, psi_b, L))
    n = u[:, -1]
    return n if n[2] >= 0 else -n


def half_chain_entropy(psi: np.ndarray, L: int) -> float:
    """Von Neumann entanglement entropy of ``psi`` across the middle bond (sites ``<= L//2``)."""
    m = psi.reshape(2 ** (L // 2), -1)
    s = np.linalg.svd(m, compute_uv=False) ** 2
    s = s[s > 1e-300]
    return float(-np.sum(s * np.log(s)))


def _demix_numerical(
    score: Callable[[np.ndarray, np.ndarray], float],
    psi_a: np.ndarray,
    psi_b: np.ndarray,
    L: int,
) -> np.ndarray:
    """Maximise ``score(a, b)`` over the Bloch sphere (multi-start Nelder-Mead)."""

    def neg(x: np.ndarray) -> float:
        n = np.array([np.sin(x[0]) * np.cos(x[1]), np.sin(x[0]) * np.sin(x[1]), np.cos(x[0])])
        a, b = _states_from_bloch(psi_a, psi_b, n)
        return -score(a, b)

    n0 = _demix_z(psi_a, psi_b, L)
    starts = [(np.arccos(np.clip(n0[2], -1, 1)), np.arctan2(n0[1], n0[0]))]
    starts += [(t, p) for t in (0.0, np.pi / 4, np.pi / 2) for p in (0.0, np.pi / 2, np.pi)]
    best = None
    for x0 in starts:
        res = sopt.minimize(
            neg,
            np.array(x0, float),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None  # starts is not empty
    t, p = best.x
    n = np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)])
    return n if n[2] >= 0 else -n


def _entanglement_score(L: int) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda a, b: -(half_chain_entropy(a, L) + half_chain_entropy(b, L))


#: Pluggable demixing measures: name -> function ``(psi_a, psi_b, L) -> Bloch vector``.
DEMIXING_MEASURES: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "z": _demix_z,
    "entanglement": lambda pa, pb, L: _demix_numerical(_entanglement_score(L), pa, pb, L),
}


def _no_pair(psi: np.ndarray, measure: str) -> Demixing:
    """The "demixing" of a state with itself (two labels of the set on one eigenstate): none."""
    nan3 = np.full(3, np.nan)
    return Demixing(a=psi, b=psi, bloch=nan3, angle=float("nan"), measure=measure)


def demix(psi_a: np.ndarray, psi_b: np.ndarray, measure: str = "z") -> Demixing:
    """Demix two orthonormal eigenstates (conventions, section 3).

    Parameters
    ----------
    psi_a, psi_b : ndarray, shape (2**L,)
        Orthonormal states in the computational basis.
    measure : str
        ``"z"`` (default): maximise ``sum_i <a|Z_i|a>**2 + <b|Z_i|b>**2`` (closed form);
        ``"entanglement"``: minimise the sum of the half-chain entanglement entropies of ``|a>``
        and ``|b>`` (numerical).  More in :data:`DEMIXING_MEASURES`.

    Returns
    -------
    Demixing
        The demixed pair; its ``angle`` does not depend on the phases of the inputs.
    """
    L = int(psi_a.shape[0]).bit_length() - 1
    try:
        finder = DEMIXING_MEASURES[measure]
    except KeyError:
        raise InputError(
            f"measure={measure!r} is not allowed: choose one of {sorted(DEMIXING_MEASURES)}"
        ) from None
    n = np.asarray(finder(psi_a, psi_b, L), dtype=float)
    n /= np.linalg.norm(n)
    a, b = _states_from_bloch(psi_a, psi_b, n)
    angle = float(np.arctan2(np.hypot(n[0], n[1]), abs(n[2])))
    return Demixing(a=a, b=b, bloch=n, angle=angle, measure=measure)


def bit_string(psi: np.ndarray, L: int) -> str:
    """The dominant computational-basis state of ``psi`` as ``s_1 s_2 ... s_L``.

    Weights ``|psi_n|**2`` within :data:`POLARISATION_TOL` of the largest are a tie, resolved
    by the smallest basis index, so that equal superpositions do not depend on rounding.
    """
    w = np.abs(psi) ** 2
    n = int(np.flatnonzero(w >= w.max() - POLARISATION_TOL)[0])
    return format(n, f"0{L}b")


def z_profile(psi: np.ndarray, L: int) -> np.ndarray:
    """``<psi|Z_i|psi>`` for ``i = 1..L``."""
    return (np.abs(psi) ** 2) @ z_signs(L)


def resonance_location(a: np.ndarray, b: np.ndarray, L: int) -> float:
    """Largest site ``i`` where ``<a|Z_i|a>`` and ``<b|Z_i|b>`` have opposite signs; NaN if none.

    A polarisation within :data:`POLARISATION_TOL` of zero has no sign (e.g. a demixing angle of
    exactly ``pi/2``, where ``|a>`` is an equal superposition and ``<a|Z_i|a> ~ 1e-33``): such a
    site is not counted, so ``x`` does not depend on the rounding of the BLAS kernels.
    """
    za, zb = z_profile(a, L), z_profile(b, L)
    polarised = (np.abs(za) > POLARISATION_TOL) & (np.abs(zb) > POLARISATION_TOL)
    sites = np.flatnonzero(polarised & (za * zb < 0))
    return float(sites[-1] + 1) if sites.size else float("nan")


# --- the four-state set ------------------------------------------------------------------------


@dataclass
class Resonance:
    """The near-resonant eigenstate set of one sample and its diagnostics (paper Figs. 3-4).

    All indices are eigenstate indices (ascending quasienergy order); pair keys are ``"AB"``,
    ``"ApB"``, ``"ABp"``, ``"ApBp"`` (``p`` marks a prime).  :meth:`scalars` flattens it into
    the record columns of :mod:`mbl_avalanche.record`.

    Attributes
    ----------
    case : {"Z", "XY"}
        ``"Z"`` if ``Z_jump(mu, nu) >= 1/2`` (then ``{A, B} = {mu, nu}``), else ``"XY"`` (the
        top pair is ``{A, B'}``).
    zjump_mu_nu : float
        ``Z_jump(mu, nu)``.
    mu_p, nu_p : int
        Partners ``mu'``, ``nu'`` (largest ``|<g|X_L|n>|``).
    states : dict of str to int
        ``{"A": ..., "B": ..., "Ap": ..., "Bp": ...}``.
    S, D : ndarray, shape (4, 4)
        ``S_mn`` (Eq. 3) and ``D_mn`` (Eq. 4) among ``(A, B, A', B')`` in that order.
    zjumps : dict of str to float
        ``Z_jump`` of the pairs ``AB``, ``ABp``, ``ApB``.
    splittings : dict of str to float
        Quasienergy splitting ``delta`` of each of the four pairs (modulo ``2 pi``).
    demixings : dict of str to Demixing
        The demixed pair of each of the four pairs.
    dc : dict of str to float
        ``dc_AAp = c_A - c_A'``, ``dc_BBp = c_B - c_B'``, ``dc_mu_nu = |c_mu - c_nu|``.
    fractions : dict of str to float
        ``frac_four`` (share of ``2**L Gamma`` within the set) and ``frac_top1..8`` (the largest
        1, 2, 4, 8 ``D_mn``; NaN without the rate matrix).
    x : float
        Resonance location (largest site where the demixed ``|a>, |b>`` have opposite
        ``<Z_i>``; NaN if none).
    bits_a, bits_b : str
        Dominant basis states of ``|a>`` and ``|b>`` (``s_1 ... s_L``).
    flip_sites : list of int
        Sites where ``bits_a`` and ``bits_b`` differ (1-based).
    top_pairs : list of (int, int, float)
        The 8 largest ``(m, n, D_mn)``.
    L : int
        Chain length.
    theta, c : ndarray or None
        Quasienergies and slowest mode (for :meth:`table`).
    state_bits : dict of str to str
        Dominant basis state of each of ``A, B, A', B'``.
    """

    case: str
    zjump_mu_nu: float
    mu_p: int
    nu_p: int
    states: dict[str, int]
    S: np.ndarray
    D: np.ndarray
    zjumps: dict[str, float]
    splittings: dict[str, float]
    demixings: dict[str, Demixing]
    dc: dict[str, float]
    fractions: dict[str, float]
    x: float
    bits_a: str
    bits_b: str
    flip_sites: list[int]
    top_pairs: list[tuple[int, int, float]] = field(default_factory=list)
    L: int = 0
    theta: np.ndarray | None = None
    c: np.ndarray | None = None
    state_bits: dict[str, str] = field(default_factory=dict)

    __repr__ = compact_repr

    def angle(self, pair: str) -> float:
        """Demixing angle of a pair ``"AB"``, ``"ApB"``, ``"ABp"`` or ``"ApBp"``."""
        return self.demixings[pair].angle

    def angle_trusted(self, pair: str) -> bool:
        """Whether the splitting of ``pair`` resolves its angle (eigenvector error ``1e-15/delta``
        below 1% of the angle, or below 1e-9 for a vanishing angle)."""
        err = EIGVEC_ERROR_SCALE / max(self.splittings[pair], 1e-300)
        return bool(err <= max(0.01 * self.angle(pair), 1e-9))

    def scalars(self) -> dict[str, Any]:
        """Flat dict of the resonance scalars (the column contract of the ensemble store)."""
        st, s, d = self.states, self.S, self.D
        idx = {"A": 0, "B": 1, "Ap": 2, "Bp": 3}

        def ratio(p: float, q: float) -> float:
            return p / q if q > 0 else float("nan")

        out: dict[str, Any] = dict(
            case=self.case, zjump_mu_nu=self.zjump_mu_nu, mu_p=self.mu_p, nu_p=self.nu_p
        )
        out.update({k: int(v) for k, v in st.items()})
        for p, q in PAIRS:
            out[f"S_{p}{q}"] = float(s[idx[p], idx[q]])
            out[f"D_{p}{q}"] = float(d[idx[p], idx[q]])
        out["ratio_SABp_SApB"] = ratio(out["S_ABp"], out["S_ApB"])
        out["ratio_SAB_SABp"] = ratio(out["S_AB"], out["S_ABp"])
        out["ratio_SAB_SApB"] = ratio(out["S_AB"], out["S_ApB"])
        out.update({f"zjump_{k}": v for k, v in self.zjumps.items()})
        out.update(self.dc)
        out.update(self.fractions)
        for p, q in PAIRS:
            out[f"angle_{p}{q}"] = self.angle(p + q)
            out[f"split_{p}{q}"] = self.splittings[p + q]
            out[f"trusted_{p}{q}"] = self.angle_trusted(p + q)
        out.update(
            x=self.x,
            x_over_L=self.x / self.L if self.L else float("nan"),
            bits_a=self.bits_a,
            bits_b=self.bits_b,
            flip_sites=",".join(str(i) for i in self.flip_sites),
        )
        return out

    def table(self) -> str:
        """The four-state set as a readable table (for ``mbl-avalanche sample``)."""
        names = ("A", "B", "A'", "B'")
        keys = ("A", "B", "Ap", "Bp")
        lines = [
            f"  near-resonant set: {self.case} case   Z_jump(mu,nu) = {self.zjump_mu_nu:.4f}   "
            f"x = {self.x:g}   |a> = {self.bits_a}   |b> = {self.bits_b}   "
            f"flipped sites: {','.join(map(str, self.flip_sites)) or '-'}",
            f"    {'state':<6}{'index':>7}{'theta':>18}{'c':>12}  bits",
        ]
        for nm, k in zip(names, keys, strict=True):
            n = self.states[k]
            th = float(self.theta[n]) if self.theta is not None else float("nan")
            cv = float(self.c[n]) if self.c is not None else float("nan")
            bits = self.state_bits.get(k, "")
            lines.append(f"    {nm:<6}{n:>7d}{th:>+18.12f}{cv:>+12.6f}  {bits}")
        lines.append("    S_mn (rows/cols A B A' B'):")
        lines += ["      " + " ".join(f"{v:10.3e}" for v in row) for row in self.S]
        lines.append("    D_mn:")
        lines += ["      " + " ".join(f"{v:10.3e}" for v in row) for row in self.D]
        lines.append(
            "    demixing angle / splitting:  "
            + "   ".join(
                f"{p.replace('p', chr(39))}: {self.angle(p):.3e} / {self.splittings[p]:.2e}"
                + ("" if self.angle_trusted(p) else " (untrusted)")
                for p in ("AB", "ApB", "ABp", "ApBp")
            )
        )
        lines.append(
            "    share of 2^L Gamma: four-state set {:.3f}; top-1/2/4/8 pairs "
            "{:.3f} {:.3f} {:.3f} {:.3f}".format(
                self.fractions["frac_four"],
                self.fractions["frac_top1"],
                self.fractions["frac_top2"],
                self.fractions["frac_top4"],
                self.fractions["frac_top8"],
            )
        )
        return "\n".join(lines)


def four_state_set(
    v: np.ndarray,
    theta: np.ndarray,
    c: np.ndarray,
    s: np.ndarray | None,
    mu: int,
    nu: int,
    gamma: float,
    *,
    periodic: bool = True,
    measure: str = "z",
) -> Resonance:
    """Identify ``{A, B, A', B'}`` and compute every diagnostic of paper Figs. 3-4.

    Parameters
    ----------
    v, theta : ndarray
        Eigenvectors (columns) and quasienergies, ascending.
    c : ndarray
        Slowest mode (``sum c**2 = N``).
    s : ndarray or None
        Rate matrix of Eq. (3); needed for the top-k fractions (else they are NaN).
    mu, nu : int
        Top pair of ``D_mn``.
    gamma : float
        ``Gamma`` of the slowest mode (Eq. 5).
    periodic : bool
        Quasienergies (splittings modulo ``2 pi``) or energies.
    measure : str
        Demixing measure (see :func:`demix`).
    """
    n_dim = v.shape[0]
    L = n_dim.bit_length() - 1

    def split(m: int, n: int) -> float:
        if periodic:
            return float(phase_distance(theta[m], theta[n]))
        return abs(float(theta[m] - theta[n]))

    mu_p, nu_p = partner(v, mu), partner(v, nu)
    zj = zjump(v, mu, nu)
    if zj >= 0.5:
        case = "Z"
        a_idx, b_idx = mu, nu
    else:
        case = "XY"
        # top pair is {A, B'}: either A = mu, B = nu' or A = nu, B = mu' (the one of smaller
        # splitting); a candidate whose two states coincide (mu' = nu: the top pair is itself
        # a bath-spin flip, seen in thermal samples) is no pair, and if both coincide the top
        # pair itself is {A, B}
        cands = [(a, b) for a, b in ((mu, nu_p), (nu, mu_p)) if a != b]
        if cands:
            a_idx, b_idx = min(cands, key=lambda ab: split(*ab))
        else:
            a_idx, b_idx = mu, nu
    ap_idx, bp_idx = partner(v, a_idx), partner(v, b_idx)
    states = {"A": a_idx, "B": b_idx, "Ap": ap_idx, "Bp": bp_idx}
    order = [a_idx, b_idx, ap_idx, bp_idx]
    s4 = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if order[i] != order[j]:
                s4[i, j] = rate_element(v, order[i], order[j])
    d4 = s4 * (c[order][:, None] - c[order][None, :]) ** 2

    def pair_zjump(m: int, n: int) -> float:
        return zjump(v, m, n) if m != n else float("nan")

    zjumps = {
        "AB": pair_zjump(a_idx, b_idx),
        "ABp": pair_zjump(a_idx, bp_idx),
        "ApB": pair_zjump(ap_idx, b_idx),
    }
    psi = {k: v[:, i] for k, i in states.items()}
    demixings = {
        p + q: demix(psi[p], psi[q], measure)
        if states[p] != states[q]
        else _no_pair(psi[p], measure)
        for p, q in PAIRS
    }
    splittings = {p + q: split(states[p], states[q]) for p, q in PAIRS}
    nrm = n_dim * gamma
    uniq = sorted(set(order))
    four = sum(
        rate_element(v, m, n) * (c[m] - c[n]) ** 2
        for i, m in enumerate(uniq)
        for n in uniq[i + 1 :]
    )
    fractions = {"frac_four": four / nrm if nrm > 0 else float("nan")}
    top: list[tuple[int, int, float]] = []
    if s is not None:
        top = bath.top_contributions(s, c, 8)
        for k in (1, 2, 4, 8):
            fractions[f"frac_top{k}"] = (
                sum(t[2] for t in top[:k]) / nrm if nrm > 0 else float("nan")
            )
    else:
        fractions.update({f"frac_top{k}": float("nan") for k in (1, 2, 4, 8)})
    dem = demixings["AB"]
    x = resonance_location(dem.a, dem.b, L)
    bits_a, bits_b = bit_string(dem.a, L), bit_string(dem.b, L)
    flips = [i + 1 for i in range(L) if bits_a[i] != bits_b[i]]
    dc = {
        "dc_AAp": float(c[a_idx] - c[ap_idx]),
        "dc_BBp": float(c[b_idx] - c[bp_idx]),
        "dc_mu_nu": float(abs(c[mu] - c[nu])),
    }
    return Resonance(
        case=case,
        zjump_mu_nu=zj,
        mu_p=mu_p,
        nu_p=nu_p,
        states=states,
        S=s4,
        D=d4,
        zjumps=zjumps,
        splittings=splittings,
        demixings=demixings,
        dc=dc,
        fractions=fractions,
        x=x,
        bits_a=bits_a,
        bits_b=bits_b,
        flip_sites=flips,
        top_pairs=top,
        L=L,
        theta=theta,
        c=c,
        state_bits={k: bit_string(p, L) for k, p in psi.items()},
    )
