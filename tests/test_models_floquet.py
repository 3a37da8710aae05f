"""The random-circuit Floquet model against an independent Kronecker-product construction."""

from __future__ import annotations

import numpy as np
import pytest

from mbl_avalanche import FloquetModel, InputError
from mbl_avalanche.models.floquet import (
    apply_two_site_gate,
    draw_disorder,
    gate_from_hamiltonian,
    sample_seed_sequence,
)


def kron_all(ops):
    out = np.ones((1, 1), dtype=complex)
    for op in ops:
        out = np.kron(out, op)
    return out


def kron_unitary(model: FloquetModel, sample: int) -> np.ndarray:
    """U_F = W_even W_odd D as a product of 2^L x 2^L Kronecker-built matrices (reference)."""
    L = model.L
    phases, gates = model.gates(sample)
    d = kron_all([np.diag(np.exp(1j * phases[i])) for i in range(L)])
    eye2 = np.eye(2)

    def layer(bonds):
        w = np.eye(2**L, dtype=complex)
        for b in bonds:
            ops = [eye2] * (b - 1) + [gates[b - 1]] + [eye2] * (L - b - 1)
            w = kron_all(ops) @ w
        return w

    w_odd = layer(range(1, L, 2))
    w_even = layer(range(2, L, 2))
    if model.layer_order == "odd_first":
        return w_even @ w_odd @ d
    return w_odd @ w_even @ d


@pytest.mark.parametrize("L", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("layer_order", ["odd_first", "even_first"])
def test_unitary_equals_kronecker_product(L, layer_order):
    model = FloquetModel(L=L, alpha=2.5, seed=11, layer_order=layer_order)
    u = model.unitary(3)
    ref = kron_unitary(model, 3)
    assert np.max(np.abs(u - ref)) < 1e-13
    assert np.max(np.abs(u.conj().T @ u - np.eye(2**L))) < 1e-13


def test_basis_convention_site1_most_significant():
    # A gate on bond (1,2) of L=3 acts on the two most significant bits.
    L = 3
    g = np.diag([1, 1, 1, -1]).astype(complex)  # CZ on sites 1,2
    m = apply_two_site_gate(np.eye(8, dtype=complex), g, L, 1)
    # index n = 4 s1 + 2 s2 + s3 ; -1 where s1 = s2 = 1: n = 6, 7
    assert np.allclose(np.diag(m), [1, 1, 1, 1, 1, 1, -1, -1])


def test_samples_are_pure_functions_of_seed_L_alpha_index():
    m = FloquetModel(L=5, alpha=30, seed=7)
    u7 = m.unitary(7)
    # recomputing alone, after other samples, or from a fresh model gives the same sample
    for k in (0, 3, 9):
        m.unitary(k)
    assert np.array_equal(u7, FloquetModel(L=5, alpha=30, seed=7).unitary(7))
    assert not np.allclose(u7, m.unitary(8))
    assert not np.allclose(u7, FloquetModel(L=5, alpha=30, seed=8).unitary(7))
    assert not np.allclose(u7, FloquetModel(L=5, alpha=31, seed=7).unitary(7))
    ss = sample_seed_sequence(7, 5, 30.0, 7)
    assert ss.entropy == 7 and ss.spawn_key[0] == 5 and ss.spawn_key[2] == 7


def test_knobs_do_not_change_the_draws():
    a = FloquetModel(L=4, alpha=10, seed=1).disorder(2)
    b = FloquetModel(L=4, alpha=10, seed=1, gue_scale=3.0, layer_order="even_first").disorder(2)
    assert np.array_equal(a.phases, b.phases)
    assert np.array_equal(a.bond_hamiltonians, b.bond_hamiltonians)
    h = a.bond_hamiltonians
    assert np.allclose(gate_from_hamiltonian(h, 60.0, 2.0), gate_from_hamiltonian(h, 30.0, 1.0))


def test_gue_and_cue_statistics():
    rng = np.random.default_rng(123)
    hs, dphi = [], []
    for _ in range(1500):
        d = draw_disorder(rng, 2)
        hs.append(d.bond_hamiltonians[0])
        dphi.append(d.phases[:, 0] - d.phases[:, 1])
    hs = np.array(hs)
    # Hermitian; density exp(-tr H^2): Var(H_ii) = 1/2, E|H_jk|^2 = 1/2 (j != k)
    assert np.allclose(hs, hs.conj().transpose(0, 2, 1))
    diag = hs[:, np.arange(4), np.arange(4)].real
    off = hs[:, 0, 1:].ravel()
    assert abs(diag.var() - 0.5) < 0.05
    assert abs(np.mean(np.abs(off) ** 2) - 0.5) < 0.05
    assert abs(np.mean(off.real**2) - np.mean(off.imag**2)) < 0.04
    # CUE(2) eigenphase repulsion: E|e^{i phi0} - e^{i phi1}|^2 = 3 (2 for independent phases)
    gap2 = np.abs(np.exp(1j * np.array(dphi).ravel()) - 1) ** 2
    assert abs(gap2.mean() - 3.0) < 0.1
    # the two phases are given to |0>, |1> in random order: no preferred sign of the difference
    frac = np.mean(np.sin(np.array(dphi).ravel()) > 0)
    assert 0.45 < frac < 0.55


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(L=1, alpha=1.0),
        dict(L=4, alpha=0.0),
        dict(L=4, alpha=-2.0),
        dict(L=4, alpha=float("nan")),
        dict(L=4, alpha=1.0, gue_scale=0.0),
        dict(L=4, alpha=1.0, layer_order="sideways"),
        dict(L=4, alpha=1.0, seed=-1),
    ],
)
def test_bad_parameters_raise_input_error(kwargs):
    with pytest.raises(InputError, match="not allowed"):
        FloquetModel(**kwargs)


def test_negative_sample_index():
    with pytest.raises(InputError, match="sample=-1"):
        FloquetModel(L=3, alpha=1.0).unitary(-1)


def test_circuit_on_many_columns_is_the_dense_product_for_any_thread_count():
    """The column-blocked circuit (blocks of CIRCUIT_COLUMNS, shared by the BLAS threads) is
    U_F X; the blocks are computed alike whatever the thread count (bit-identical)."""
    from threadpoolctl import threadpool_limits

    from mbl_avalanche.models.floquet import CIRCUIT_COLUMNS

    L = 7
    model = FloquetModel(L=L, alpha=4.0, seed=5)
    rng = np.random.default_rng(2)
    k = 3 * CIRCUIT_COLUMNS + 5  # several blocks and a short last one
    x = rng.standard_normal((2**L, k)) + 1j * rng.standard_normal((2**L, k))
    ref = kron_unitary(model, 1) @ x
    out = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            out[threads] = (model.circuit(1)(x), model.unitary(1))
    y, u = out[1]
    # rounding of 2 (L - 1) gate products of unit-norm columns, eps ~ 1.1e-16 each
    assert np.max(np.abs(y - ref)) < 10 * L * np.finfo(float).eps * np.sqrt(2**L) * 4
    assert np.array_equal(out[2][0], y) and np.array_equal(out[2][1], u)
    # one column at a time (the unblocked path) gives the same numbers
    cols = np.column_stack([model.circuit(1)(x[:, j : j + 1])[:, 0] for j in range(k)])
    assert np.max(np.abs(cols - y)) < 1e-13
    assert np.max(np.abs(u - kron_unitary(model, 1))) < 1e-13
