"""The planted minimal model as a model family: every sample has a known answer that the whole
pipeline (the analysis, and the ensemble runner over a grid of its parameters) must recover."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbl_avalanche import analyze_sample
from mbl_avalanche.ensemble import load_run, run_ensemble
from mbl_avalanche.errors import InputError
from mbl_avalanche.models import PlantedModel, make_model

EPS = np.finfo(float).eps


@pytest.mark.parametrize("L", [4, 6])
def test_analysis_recovers_the_planted_answer(L):
    for fd in range(L - 1):
        m = PlantedModel(L=L, epsilon=2e-3, flip_distance=fd, seed=9)
        for k in range(2):
            truth = m.planted(k)
            s = analyze_sample(m, k).scalars()
            # the planted pair is the top pair, at the planted location, in the planted case
            assert {s["mu"], s["nu"]} <= set(range(2**L))
            assert s["flip_sites"] == ",".join(map(str, truth.flip_sites))
            assert s["x"] == L - fd
            assert s["case"] == ("Z" if fd == 0 else "XY")
            # AB demixing angle 2 epsilon, to the conditioning of the planted pair's
            # eigenvectors (eps / splitting)
            assert abs(s["angle_AB"] - 2 * m.epsilon) <= 100 * EPS / m.splitting
            # S_AB' = S_A'B up to the in-sector dressing, O(eta^2)
            assert abs(s["ratio_SABp_SApB"] - 1.0) <= m.eta**2
            assert s["cert_flags"] == ""
            rec = json.loads(s["disorder"])
            assert (rec["a"], rec["b"]) == (truth.a, truth.b)


def test_runner_over_a_grid_of_planted_parameters(tmp_path):
    s = run_ensemble(
        tmp_path,
        model="planted",
        params={"epsilon": [1e-3, 4e-3], "flip_distance": [0, 2]},
        L=[5],
        samples=2,
        workers=1,
        progress=False,
    )
    assert s.computed_ok == 8
    df = load_run(tmp_path)
    assert set(df["model"]) == {"planted"} and len(df) == 8
    for r in df.itertuples():
        assert r.x == 5 - r.flip_distance
        assert abs(r.angle_AB - 2 * r.epsilon) <= 100 * EPS / r.splitting
    # the same records again: a pure function of (seed, model, L, parameters, sample)
    again = analyze_sample(PlantedModel(L=5, epsilon=4e-3, flip_distance=2), 1).scalars()
    row = df[(df.epsilon == 4e-3) & (df.flip_distance == 2) & (df["sample"] == 1)].iloc[0]
    assert row["Gamma"] == again["Gamma"] and row["disorder"] == again["disorder"]


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"epsilon": 0.0}, "epsilon=0.0 is not allowed: it must be a finite number > 0"),
        ({"flip_distance": 1.5}, "flip_distance=1.5 is not allowed: it must be an integer >= 0"),
        ({"flip_distance": 4}, "flip_distance=4 is not allowed for L=5"),
    ],
)
def test_bad_planted_parameters(params, needle):
    with pytest.raises(InputError, match=needle):
        make_model("planted", 5, 1, params)
