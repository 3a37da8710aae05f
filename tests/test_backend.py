"""Backend dispatch (cpu/gpu) and the device code paths.

The device branches are exercised on the CPU with a stand-in for CuPy (NumPy behind CuPy's extra
names); the real GPU comparison is marked ``gpu`` and skipped without CuPy and a CUDA device.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.linalg
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
    ns._scipy_linalg = scipy.linalg  # what cupyx.scipy.linalg is to CuPy
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
        # an ensemble on the GPU without one: the same line, and no run directory written
        import tempfile
        from pathlib import Path

        run = Path(tempfile.mkdtemp()) / "run"
        argv = ["run", str(run), "--L", "5", "--alpha", "30", "--samples", "1"]
        assert main([*argv, "--backend", "gpu", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "backend='gpu' is not allowed here" in err and len(err.strip().splitlines()) == 1
        assert not run.exists()


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


def test_floquet_unitary_built_by_the_circuit_on_the_device() -> None:
    """U_F from the gate circuit applied to 1 where the array module computes equals the one
    built on the host: the same products in the same order, so to a few rounding errors of
    the L - 1 gate products (each entry a sum of at most 4**(L-1) terms of modulus <= 1)."""
    model = FloquetModel(L=7, alpha=30.0)
    u = model.unitary(4)
    ud = model.unitary_on(4, fake_cupy())
    tol = 8 * (model.L - 1) * np.finfo(float).eps
    np.testing.assert_allclose(ud, u, rtol=0, atol=tol)
    x = np.random.default_rng(1).standard_normal((model.N, 5)) + 0j
    np.testing.assert_allclose(model.circuit(4, fake_cupy())(x), u @ x, rtol=0, atol=tol * 8)


def test_cholesky_slow_modes_on_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Cholesky route of the slow modes runs on the device (potrf and two triangular solves
    per sweep there, the small Rayleigh-Ritz problems on the host) and gives the CPU route's
    modes; a failed factorisation (an indefinite K) gives way to the dense solver."""
    v = spectrum.diagonalize_unitary(FloquetModel(L=7, alpha=30.0).unitary(1)).V
    s = bath.rate_matrix(v)
    monkeypatch.setattr(bath, "CHOLESKY_MIN_STATES", 64)
    calls: list[bool] = []
    real = bath._slow_subspace_cholesky

    def spy(s_: np.ndarray, k: int) -> object:
        out = real(s_, k)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(bath, "_slow_subspace_cholesky", spy)
    ref = bath.slowest_modes(s)
    monkeypatch.setattr(bath, "array_module", lambda a: fake_cupy())
    dev = bath.slowest_modes(s)
    assert calls == [True, True]  # both runs kept the Cholesky route
    np.testing.assert_allclose(dev.c, ref.c, rtol=0, atol=1e-10)
    assert abs(dev.Gamma - ref.Gamma) <= max(dev.floor, ref.floor) + 1e-12 * ref.Gamma
    # an indefinite K: the device factor has a non-finite diagonal, the route returns None
    assert real(-np.abs(s), 4) is None


def test_device_pipeline_builds_the_unitary_on_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """``analyze_sample(..., backend=gpu)`` of the Floquet model builds U_F by
    ``unitary_on`` (never ``operator``, the host build) and hands the certificate the device
    circuit."""
    model = FloquetModel(L=6, alpha=30.0)
    ref = analyze_sample(model, 0, method="auto")
    built: list[str] = []
    monkeypatch.setattr(
        FloquetModel, "operator", lambda self, k: built.append("host") or self.unitary(k)
    )
    real = FloquetModel.unitary_on
    monkeypatch.setattr(
        FloquetModel, "unitary_on", lambda self, k, xp: built.append("device") or real(self, k, xp)
    )
    monkeypatch.setattr(bath, "array_module", lambda a: fake_cupy())
    dev = analyze_sample(model, 0, method="auto", backend=Backend("gpu", fake_cupy()))
    assert built == ["device"]
    assert dev.meta["backend"] == "gpu"
    np.testing.assert_allclose(dev.theta, ref.theta, rtol=0, atol=1e-12)
    assert (dev.mu, dev.nu) == (ref.mu, ref.nu)
    assert dev.certificate.eigen_residual <= 1e-12


def test_gpu_run_plans_workers_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """``backend = "gpu"``: ``per_gpu`` workers on every visible GPU (auto: several samples in
    flight where one cannot fill a device, as its memory allows), pinned by ordinal."""
    import io

    from mbl_avalanche import resources
    from mbl_avalanche.ensemble import runner

    gib = 2**30
    monkeypatch.setattr(runner, "gpu_devices", lambda: [("2", 80 * gib), ("5", 80 * gib)])
    log = io.StringIO()
    cfg = runner.make_config(L=[9], alpha=[30.0], samples=10, backend="gpu")
    assert runner.plan_gpu_workers(cfg, 9, log) == (8, 1, ("2", "5"))
    assert runner.plan_gpu_workers(cfg, 12, log) == (4, 1, ("2", "5"))
    assert runner.plan_gpu_workers(cfg, 14, log) == (2, 1, ("2", "5"))
    cfg3 = runner.make_config(L=[9], alpha=[30.0], samples=10, backend="gpu", per_gpu=3)
    assert runner.plan_gpu_workers(cfg3, 9, log)[0] == 6
    capped = runner.make_config(L=[9], alpha=[30.0], samples=10, backend="gpu", workers=3)
    assert runner.plan_gpu_workers(capped, 9, log)[0] == 3
    # device memory: at L = 15 (8 matrices of 16 GiB) one sample needs more than 80 GiB; still 1
    assert resources.samples_per_gpu(15, 80 * gib) == 1
    assert resources.samples_per_gpu(12, 3 * gib) == 1  # 8 x 256 MiB = 2 GiB: one fits
    with pytest.raises(InputError, match="backend='tpu' is not allowed"):
        runner.make_config(L=[9], alpha=[30.0], samples=1, backend="tpu")


def test_local_workers_are_pinned_one_device_each() -> None:
    """The local executor's workers each see one GPU (``CUDA_VISIBLE_DEVICES``), in turn."""
    from mbl_avalanche.ensemble.executors import LocalExecutor

    ex = LocalExecutor(2, devices=("5", "7"))
    try:
        probe = "__import__('time').sleep(1.0) or __import__('os').environ['CUDA_VISIBLE_DEVICES']"
        seen = [f.result(timeout=120) for f in [ex.pool.submit(eval, probe) for _ in range(2)]]
    finally:
        ex.pool.shutdown(cancel_futures=True)
    assert sorted(seen) == ["5", "7"]


def test_gpu_ensemble_through_the_runner_matches_cpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """``run_ensemble(..., backend="gpu")`` (CuPy stand-in, one device, one sample in flight:
    this process) records ``backend = "gpu"`` and the CPU run's physics; through a Dask cluster
    of threads the task carries the backend to the worker."""
    from pathlib import Path

    from mbl_avalanche import backend as backend_mod
    from mbl_avalanche.ensemble import load_run, run_ensemble, runner

    out = Path(str(tmp_path))
    grid = dict(L=[6], alpha=[30.0], samples=3, progress=False)
    run_ensemble(out / "cpu", **grid)
    monkeypatch.setattr(backend_mod, "_import_cupy", fake_cupy)
    monkeypatch.setattr(runner, "gpu_devices", lambda: [("0", 80 * 2**30)])
    s = run_ensemble(out / "gpu", backend="gpu", per_gpu=1, **grid)
    assert s.executor == "inline" and s.computed_ok == 3
    cpu, gpu = load_run(out / "cpu"), load_run(out / "gpu")
    assert set(gpu["backend"]) == {"gpu"} and set(cpu["backend"]) == {"cpu"}
    np.testing.assert_array_equal(gpu["mu"], cpu["mu"])
    np.testing.assert_allclose(gpu["Gamma"], cpu["Gamma"], rtol=1e-6, atol=0)
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
    ):
        d = run_ensemble(
            out / "dask", backend="gpu", dask_scheduler=cluster.scheduler_address, **grid
        )
    assert d.executor == "dask" and d.computed_ok == 3
    assert set(load_run(out / "dask")["backend"]) == {"gpu"}


def test_run_blocks_covers_every_block_once_and_restores_the_blas_threads() -> None:
    from mbl_avalanche.backend import blas_threads, run_blocks

    for threads in (1, 2):
        with threadpool_limits(threads):
            seen: list[tuple[int, int]] = []

            def fn(b: int, seen: list[tuple[int, int]] = seen) -> None:
                seen.append((b, blas_threads()))  # list.append is atomic under the GIL

            run_blocks(fn, range(17))
            assert sorted(b for b, _ in seen) == list(range(17))
            assert all(t == 1 for _, t in seen)  # one BLAS thread inside the blocks
            assert blas_threads() == threads  # and the caller's limit afterwards


def test_run_blocks_reraises_the_error_of_a_block() -> None:
    from mbl_avalanche.backend import blas_threads, run_blocks

    def fn(b: int) -> None:
        if b == 3:
            raise ValueError("block 3")

    for threads in (1, 2):
        with threadpool_limits(threads):
            with pytest.raises(ValueError, match="block 3"):
                run_blocks(fn, range(8))
            assert blas_threads() == threads
