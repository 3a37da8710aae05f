"""Backend dispatch (cpu/gpu) and the device code paths.

The device branches are exercised on the CPU with a stand-in for CuPy (NumPy behind CuPy's extra
names); the real GPU comparison is marked ``gpu`` and skipped without CuPy and a CUDA device.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mbl_avalanche import bath, spectrum
from mbl_avalanche.analysis import analyze_sample
from mbl_avalanche.backend import Backend, get_backend, gpu_available
from mbl_avalanche.errors import InputError
from mbl_avalanche.models.floquet import FloquetModel


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def fake_cupy() -> types.SimpleNamespace:
    """NumPy dressed with the CuPy-only names the backend uses."""
    ns = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    ns.asnumpy = np.asarray
    ns.cuda = types.SimpleNamespace(
        Stream=types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None))
    )
    ns.get_default_memory_pool = lambda: types.SimpleNamespace(free_all_blocks=lambda: None)
    return ns


def test_get_backend() -> None:
    assert get_backend("cpu").name == "cpu" and get_backend("cpu").xp is np
    with pytest.raises(InputError, match="backend='tpu' is not allowed"):
        get_backend("tpu")


@pytest.mark.skipif(gpu_available(), reason="a GPU is present")
def test_gpu_backend_without_cupy_is_a_clear_input_error() -> None:
    with pytest.raises(InputError, match="backend='gpu' is not allowed here"):
        get_backend("gpu")


def test_device_branch_of_fast_solver_matches_cpu() -> None:
    u = FloquetModel(L=7, alpha=30.0).unitary(2)
    dev = Backend("gpu", fake_cupy())
    g = spectrum.diagonalize_unitary(u, method="auto", backend=dev)
    c = spectrum.diagonalize_unitary(u, method="auto", backend="cpu")
    assert g.method == c.method == "fast"
    np.testing.assert_allclose(g.theta, c.theta, rtol=0, atol=1e-12)
    assert np.max(np.abs(np.abs(np.sum(g.V.conj() * c.V, axis=0)) - 1)) < 1e-9
    assert spectrum.orthonormality_error(g.V) < 1e-12
    assert spectrum.eigen_residual(u, g) < 1e-12
    # the full Hermitian part on the device, lower triangle on the CPU: same lower triangle
    hd = spectrum.rotated_hermitian_part(u, 0.3, dev)
    hc = spectrum.rotated_hermitian_part(u, 0.3, "cpu")
    np.testing.assert_allclose(np.tril(hd), np.tril(hc), rtol=0, atol=1e-15)
    np.testing.assert_allclose(hd, hd.conj().T, rtol=0, atol=0)


def test_device_branch_of_bath_matches_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    v = spectrum.diagonalize_unitary(FloquetModel(L=7, alpha=30.0).unitary(1)).V
    s = bath.rate_matrix(v)
    ref = bath.slowest_modes(s)
    top_ref = bath.top_contributions(s, ref.c, k=3)
    monkeypatch.setattr(bath, "array_module", lambda a: fake_cupy())
    # the device rate matrix (two products) equals the CPU one (zgemm, blocked upper half of B)
    np.testing.assert_allclose(bath.rate_matrix(v), s, rtol=0, atol=1e-15)
    dev = bath.slowest_modes(s)
    np.testing.assert_allclose(dev.c, ref.c, rtol=0, atol=1e-8)
    assert abs(dev.Gamma - ref.Gamma) <= 1e-8 * ref.Gamma
    top = bath.top_contributions(s, dev.c, k=3)
    assert [t[:2] for t in top] == [t[:2] for t in top_ref]
    np.testing.assert_allclose([t[2] for t in top], [t[2] for t in top_ref], rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("L", [8, 9, 10])
def test_gpu_matches_cpu(L: int) -> None:
    model = FloquetModel(L=L, alpha=30.0)
    for k in range(2):
        c = analyze_sample(model, k, method="auto", backend="cpu")
        g = analyze_sample(model, k, method="auto", backend="gpu")
        assert g.meta["backend"] == "gpu" and g.meta["method"] in ("fast", "fast->schur")
        assert g.certificate.orthonormality_error <= 1e-12
        assert g.certificate.eigen_residual <= 1e-12
        np.testing.assert_allclose(g.theta, c.theta, rtol=0, atol=1e-12)
        if c.certificate.ok and g.certificate.ok:
            assert (g.mu, g.nu) == (c.mu, c.nu)
            assert abs(g.Gamma - c.Gamma) <= 1e-5 * c.Gamma


def test_cli_method_and_backend(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mbl_avalanche.cli import main

    assert main(["sample", "--L", "5", "--alpha", "30", "--method", "schur", "--json"]) == 0
    out_s = json.loads(capsys.readouterr().out)
    assert main(["sample", "--L", "5", "--alpha", "30", "--method", "fast", "--json"]) == 0
    out_f = json.loads(capsys.readouterr().out)
    assert out_s["method"] == "schur" and out_f["method"] == "fast"
    assert out_f["backend"] == "cpu"
    assert abs(out_f["Gamma"] - out_s["Gamma"]) <= 1e-6 * out_s["Gamma"]
    if not gpu_available():
        assert main(["sample", "--L", "5", "--alpha", "30", "--backend", "gpu"]) == 2
        err = capsys.readouterr().err
        assert "backend='gpu' is not allowed here" in err and len(err.strip().splitlines()) == 1


def test_device_pipeline_matches_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole analysis through the device branches (CuPy stand-in) equals the CPU one."""
    model = FloquetModel(L=7, alpha=30.0)
    ref = analyze_sample(model, 3, method="auto")
    monkeypatch.setattr(bath, "array_module", lambda a: fake_cupy())
    dev = analyze_sample(model, 3, method="auto", backend=Backend("gpu", fake_cupy()))
    assert dev.meta["backend"] == "gpu" and dev.meta["method"] == "fast"
    assert isinstance(dev.V, np.ndarray)
    np.testing.assert_allclose(dev.theta, ref.theta, rtol=0, atol=1e-12)
    assert (dev.mu, dev.nu) == (ref.mu, ref.nu)
    assert abs(dev.Gamma - ref.Gamma) <= 1e-6 * ref.Gamma
    assert dev.certificate.orthonormality_error <= 1e-12
    assert dev.certificate.eigen_residual <= 1e-12
