"""``mbl-avalanche sample``: summary, JSON, brought-your-own files, one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import haar_unitary
from mbl_avalanche.cli import main


def test_summary(capsys):
    assert main(["sample", "--L", "6", "--alpha", "30", "--sample", "7"]) == 0
    out = capsys.readouterr().out
    for word in ("Gamma", "r_S / gamma", "Gamma_2", "R ", "mu =", "nu =", "certificate", "flags"):
        assert word in out


def test_json_matches_api(capsys):
    from mbl_avalanche import FloquetModel, analyze_sample

    argv = ["sample", "--L", "5", "--alpha", "3", "--sample", "2", "--seed", "9", "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    r = analyze_sample(FloquetModel(L=5, alpha=3, seed=9), 2)
    assert d["Gamma"] == pytest.approx(r.Gamma, rel=1e-12)
    assert (d["mu"], d["nu"]) == (r.mu, r.nu)
    assert d["seed"] == 9 and d["sample"] == 2


def test_heisenberg_json_carries_the_fields_to_rebuild_it(capsys):
    """``sample --json`` of the XXZ chain holds h_i: the Hamiltonian rebuilt from them outside
    the package (Kronecker products) gives the same Gamma."""
    from mbl_avalanche import analyze

    argv = [
        "sample",
        "--model",
        "heisenberg",
        "--W",
        "5",
        "--Delta",
        "0.7",
        "--L",
        "5",
        "--sample",
        "2",
        "--json",
    ]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["model"] == "heisenberg" and d["W"] == 5.0 and d["Delta"] == 0.7
    h = np.array(json.loads(d["disorder"])["h"])
    assert h.shape == (5,) and np.all(np.abs(h) <= 5.0)
    sx = np.array([[0, 1], [1, 0]]) / 2
    sy = np.array([[0, -1j], [1j, 0]]) / 2
    sz = np.diag([0.5, -0.5])

    def op(o, i):
        return np.kron(np.kron(np.eye(2**i), o), np.eye(2 ** (4 - i)))

    H = sum(op(a, i) @ op(a, i + 1) * c for i in range(4) for a, c in ((sx, 1), (sy, 1), (sz, 0.7)))
    H = H + sum(h[i] * op(sz, i) for i in range(5))
    r = analyze(H, "hamiltonian")
    assert d["Gamma"] == pytest.approx(r.Gamma, rel=1e-8)


def test_unitary_and_hamiltonian_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    u = haar_unitary(16, rng)
    np.save(tmp_path / "U.npy", u)
    h = u + u.conj().T
    np.save(tmp_path / "H.npy", h)
    assert main(["sample", "--unitary", str(tmp_path / "U.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "unitary"
    assert main(["sample", "--hamiltonian", str(tmp_path / "H.npy")]) == 0
    assert "hamiltonian" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--L", "1", "--alpha", "30"], "L=1"),
        (["--L", "40", "--alpha", "30"], "L=40"),
        (["--L", "6", "--alpha", "0"], "alpha=0"),
        (["--L", "6", "--alpha", "-3"], "alpha=-3"),
        (["--L", "6", "--alpha", "30", "--sample", "-1"], "sample=-1"),
        (["--alpha", "30"], "--L"),
        (["--unitary", "missing.npy"], "missing.npy"),
    ],
)
def test_bad_input_one_line_exit_2(argv, needle, capsys):
    assert main(["sample", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err and "Traceback" not in err


def test_bad_matrix_files(tmp_path, capsys):
    np.save(tmp_path / "big.npy", 2 * np.eye(8))
    np.save(tmp_path / "odd.npy", np.eye(6))
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    for name, needle in [("big", "U^dagger U"), ("odd", "6x6"), ("junk", "readable")]:
        assert main(["sample", "--unitary", str(tmp_path / f"{name}.npy")]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err


@pytest.mark.parametrize("command", ["sample", "inspect", "dynamics"])
@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--alpha", "30"], "--alpha 30.0 is not allowed with --unitary"),
        (["--sample", "3"], "--sample 3 is not allowed with --unitary"),
        (["--seed", "7"], "--seed 7 is not allowed"),
        (["--model", "heisenberg"], "--model heisenberg is not allowed"),
        (["--param", "W=3"], "--param W=3 is not allowed"),
        (["--layer-order", "even_first"], "--layer-order even_first is not allowed"),
    ],
)
def test_model_options_with_a_matrix_file_are_refused(tmp_path, capsys, command, extra, needle):
    """With --unitary the matrix is the sample: an option choosing a model's sample would be
    ignored, so it is a one-line error (exit code 2), not a silently different analysis."""
    np.save(tmp_path / "U.npy", haar_unitary(8, np.random.default_rng(1)))
    argv = [command, "--unitary", str(tmp_path / "U.npy"), *extra]
    if command == "dynamics":
        argv += ["--gamma", "1e-3"]
    if command == "inspect":
        argv += ["--plot", str(tmp_path / "fig.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err and "leave out" in err, err


def test_console_entry_point_exit_code():
    p = subprocess.run(
        [sys.executable, "-m", "mbl_avalanche", "sample", "--L", "3", "--alpha", "nan"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "alpha" in p.stderr
    p = subprocess.run(
        [sys.executable, "-m", "mbl_avalanche", "sample", "--L", "x"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
