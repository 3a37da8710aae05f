"""User models through the model protocol: a model class defined in this file runs through
the analysis, the ensemble runner (in this process and in worker processes) and the command line
as ``--model test_models_user:IsingChain``; bad models and parameters are one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mbl_avalanche import analyze, analyze_sample
from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import drop_volatile, load_run, run_ensemble
from mbl_avalanche.errors import InputError
from mbl_avalanche.models import Model, Parameter, make_model, resolve

EPS = np.finfo(float).eps
X = np.array([[0.0, 1.0], [1.0, 0.0]])
Z = np.array([[1.0, 0.0], [0.0, -1.0]])


def site(op, i, L):
    return np.kron(np.kron(np.eye(2 ** (i - 1)), op), np.eye(2 ** (L - i)))


class IsingChain(Model):
    """Mixed-field Ising chain ``sum Z_i Z_{i+1} + g sum X_i + W sum u_i Z_i`` (no symmetry)."""

    family = "test_models_user:IsingChain"
    kind = "hamiltonian"
    parameters = (
        Parameter("W", "disorder strength", minimum=0.0),
        Parameter("g", "transverse field", default=0.9),
    )
    scan_parameter = "W"
    regimes = (0.5, 6.0)

    def draw(self, rng):
        return {"u": rng.uniform(-1.0, 1.0, self.L)}

    def build(self, draws):
        L = self.L
        h = sum(site(Z, i, L) @ site(Z, i + 1, L) for i in range(1, L))
        h = h + sum(
            self.g * site(X, i, L) + self.W * draws["u"][i - 1] * site(Z, i, L)
            for i in range(1, L + 1)
        )
        return h


class ZZChain(Model):
    """A user model with a conserved quantity: ``sum (X X + Y Y)/4 + W u_i Z_i / 2``, built
    densely, with its S^z sectors declared (blocks cut from the dense matrix by default)."""

    family = "test_models_user:ZZChain"
    kind = "hamiltonian"
    parameters = (Parameter("W", "disorder strength", minimum=0.0),)
    scan_parameter = "W"

    def draw(self, rng):
        return {"u": rng.uniform(-1.0, 1.0, self.L)}

    def build(self, draws):
        from mbl_avalanche.models.xxz import xxz_hamiltonian

        return xxz_hamiltonian(self.L, self.W * draws["u"], 0.0)

    def sectors(self):
        n = np.arange(2**self.L)
        pop = np.array([bin(int(i)).count("1") for i in n])
        return [n[pop == k] for k in range(self.L + 1)]


class NotHermitian(IsingChain):
    family = "test_models_user:NotHermitian"

    def build(self, draws):
        return np.triu(super().build(draws)) + 0.1 * np.eye(2**self.L, k=1)


class WrongSize(IsingChain):
    family = "test_models_user:WrongSize"

    def build(self, draws):
        return np.eye(2 ** (self.L - 1))


class NotAModel:
    pass


def test_user_model_analysis_and_record():
    m = make_model("test_models_user:IsingChain", 5, 7, {"W": 2.0})
    assert isinstance(m, IsingChain) and m.g == 0.9
    r = analyze_sample(m, 3)
    ref = analyze(m.operator(3), "hamiltonian")
    assert r.Gamma == pytest.approx(ref.Gamma, rel=1e-9)
    s = r.scalars()
    assert s["model"] == "test_models_user:IsingChain" and s["W"] == 2.0 and s["g"] == 0.9
    assert s["sample"] == 3 and s["seed"] == 7


def test_user_model_with_sectors_is_analysed_block_by_block():
    m = make_model("test_models_user:ZZChain", 6, 7, {"W": 3.0})
    r = analyze_sample(m, 1)
    assert r.meta["method"] == "eigh-sectors"
    ref = analyze(m.operator(1), "hamiltonian")
    cond = np.max(np.abs(ref.spectrum.theta)) / min(
        r.certificate.min_splitting, ref.certificate.min_splitting
    )
    tol = 10 * (r.certificate.gamma_floor + ref.certificate.gamma_floor)
    assert abs(r.Gamma - ref.Gamma) <= tol + ref.Gamma * EPS * (16 + 10 * cond)


def test_ensemble_of_a_user_model_inline_and_in_worker_processes(tmp_path):
    grid = dict(
        model="test_models_user:IsingChain",
        params={"W": [0.5, 4.0], "g": [0.9]},
        L=[4, 5],
        samples=3,
        chunk=1,
        progress=False,
    )
    s1 = run_ensemble(tmp_path / "inline", workers=1, **grid)
    s2 = run_ensemble(tmp_path / "pool", workers=2, **grid)
    assert s1.computed_ok == s2.computed_ok == 12 and s2.executor == "local"
    a = drop_volatile(load_run(tmp_path / "inline"))
    b = drop_volatile(load_run(tmp_path / "pool"))
    key = ["L", "W", "sample"]
    pd.testing.assert_frame_equal(
        a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    )
    assert set(a["model"]) == {"test_models_user:IsingChain"} and set(a["g"]) == {0.9}
    row = a[(a.L == 5) & (a.W == 4.0) & (a["sample"] == 2)].iloc[0]
    direct = analyze_sample(IsingChain(5, seed=row["seed"], W=4.0), 2)
    assert row["Gamma"] == direct.Gamma
    # resumable like any run: nothing is recomputed
    again = run_ensemble(tmp_path / "inline", workers=1, **grid)
    assert again.computed_ok == 0 and again.already_done == 12


def test_user_model_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = [
        "run",
        str(out),
        "--model",
        "test_models_user:IsingChain",
        "--param",
        "W=1,3",
        "--param",
        "g=0.7",
        "--L",
        "4",
        "5",
        "--samples",
        "2",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    df = load_run(out)
    assert len(df) == 8 and set(df["W"]) == {1.0, 3.0} and set(df["g"]) == {0.7}
    capsys.readouterr()
    assert main(["landmark", str(out), "--json", "--n-boot", "20"]) == 0
    assert '"parameter": "W"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["--model", "nosuchpkg.models:Chain", "--param", "W=1"],
            "model='nosuchpkg.models:Chain' is not allowed: cannot import it",
        ),
        (
            ["--model", "test_models_user:Missing", "--param", "W=1"],
            "model='test_models_user:Missing' is not allowed: cannot import it",
        ),
        (
            ["--model", "test_models_user:NotAModel", "--param", "W=1"],
            "it must be a subclass of mbl_avalanche.models.Model",
        ),
        (["--model", "bogus"], "model='bogus' is not allowed: use one of floquet, heisenberg"),
        (
            ["--model", "test_models_user:NotHermitian", "--param", "W=1"],
            "kind='hamiltonian' but max|H - H^dagger|/max|H|",
        ),
        (
            ["--model", "test_models_user:WrongSize", "--param", "W=1"],
            "its operator has shape (8, 8), it must be 2**L x 2**L = 16x16",
        ),
        (
            ["--model", "test_models_user:IsingChain", "--param", "J=1"],
            "parameter 'J' is not allowed for model 'test_models_user:IsingChain'",
        ),
        (
            ["--model", "test_models_user:IsingChain"],
            "W not given: set --W (or --param W=...)",
        ),
        (
            ["--model", "test_models_user:IsingChain", "--param", "W=-2"],
            "W=-2.0 is not allowed: it must be a finite number >= 0",
        ),
        (["--model", "heisenberg", "--W", "-1"], "W=-1.0 is not allowed"),
        (["--model", "heisenberg", "--W", "2", "--alpha", "30"], "alpha is not allowed for model"),
        (["--model", "heisenberg", "--param", "Delta"], "--param"),
    ],
)
def test_bad_models_and_parameters_are_one_line_errors(tmp_path, capsys, args, needle):
    out = tmp_path / "bad"
    rc = main(["run", str(out), "--L", "4", "--samples", "1", "--workers", "1", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not any(out.glob("shards/*")) if out.exists() else True


def test_resolve_refuses_a_builtin_family_name():
    class Impostor(IsingChain):
        family = "heisenberg"

    with pytest.raises(InputError, match="that of a built-in model"):
        resolve(Impostor)


def test_the_worked_example_of_the_models_guide_runs(tmp_path, monkeypatch, capsys):
    """docs/guide/models.md: its mypkg/models.py, written out as it stands, runs as documented."""
    import re
    import sys
    from pathlib import Path

    guide = (Path(__file__).parents[1] / "docs" / "guide" / "models.md").read_text()
    code = re.search(r"```python\n# file: mypkg/models.py\n(.*?)```", guide, re.S).group(1)
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mypkg", raising=False)
    monkeypatch.delitem(sys.modules, "mypkg.models", raising=False)
    m = make_model("mypkg.models:MyChain", 5, 1, {"W": 2.0})
    H = m.operator(0)
    assert H.shape == (32, 32) and np.array_equal(H, H.T)
    assert analyze_sample(m, 0).Gamma > 0
    out = tmp_path / "mine"
    argv = [
        "run",
        str(out),
        "--model",
        "mypkg.models:MyChain",
        "--param",
        "W=0.5,8",
        "--L",
        "4",
        "5",
        "--samples",
        "2",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert len(load_run(out)) == 8
