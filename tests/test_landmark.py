"""The avalanche landmark: known crossings on synthetic tables, intervals, JSON, CLI, figures.

The synthetic tables (:func:`scan_table`) draw, for each parameter value ``p`` and chain length
``L``, ``n`` samples of ``ln Gamma = m(p, L) + N(0, SIGMA)`` with

    m(p, L) = A + sum_{j = L0}^{L - 1} s_j(p),    s_j(p) = -ln 4 - K ln(p / p*_j),

so the exact finite-difference slope between ``j`` and ``j + 1`` is ``s_j(p)``: linear in
``ln p``, it crosses ``-ln 4`` exactly at ``p*_j`` (and interpolation in ``ln p`` is exact).
Larger ``p`` = more negative slope = more disordered, as for ``alpha`` and ``W``.

Tolerances follow from the statistics of these tables: a pair's slope has the standard error
``SIGMA sqrt(2 / n)``; between the two grid points ``u_i < u* < u_i+1`` (``u = ln p``, ``t`` the
fraction of the way) the interpolated crossing has the standard error
``sigma_u = sigma_slope sqrt((1 - t)^2 + t^2) / K`` in ``ln p`` (first order), which is what
the checks compare with.
"""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mbl_avalanche.cli import main
from mbl_avalanche.errors import InputError
from mbl_avalanche.figures.landmark import landmark_figures, symbol, write_landmark_figures
from mbl_avalanche.landmark import SCAN_PARAMETER, Landmark, find_crossing, landmark

LN4 = math.log(4.0)
GRID = (10.0, 15.0, 20.0, 30.0, 40.0, 60.0)
LS = (6, 7, 8, 9, 10)
A = -2.0
K = 1.0
SIGMA = 0.5
N = 1000
N_BOOT = 300


def slope_exact(p: float, pstar: float) -> float:
    return -LN4 - K * math.log(p / pstar)


def scan_table(
    pstar,
    *,
    grid=GRID,
    Ls=LS,
    n=N,
    sigma=SIGMA,
    seed=0,
    parameter="alpha",
    model="floquet",
) -> pd.DataFrame:
    """``pstar``: one crossing for every pair, or a dict ``{j: p*_j}`` (pair ``(j, j + 1)``)."""
    rng = np.random.default_rng(seed)
    star = pstar if isinstance(pstar, dict) else {j: pstar for j in Ls}
    parts = []
    for p in grid:
        for L in Ls:
            m = A + sum(slope_exact(p, star[j]) for j in Ls if j < L)
            parts.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "L": L,
                        parameter: p,
                        "sample": np.arange(n),
                        "Gamma": np.exp(m + rng.normal(0.0, sigma, n)),
                        "status": "ok",
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def sigma_u(pstar: float, grid=GRID, sigma_slope: float = SIGMA * math.sqrt(2 / N)) -> float:
    """First-order standard error of the interpolated crossing in ``ln p`` (module docstring)."""
    u = np.log(grid)
    i = int(np.searchsorted(u, math.log(pstar))) - 1
    t = (math.log(pstar) - u[i]) / (u[i + 1] - u[i])
    return sigma_slope * math.sqrt((1 - t) ** 2 + t**2) / K


@pytest.fixture(scope="module")
def flat_table():
    return scan_table(25.0)


@pytest.fixture(scope="module")
def flat(flat_table):
    return landmark(flat_table, n_boot=N_BOOT, level=0.99, seed=1)


# ------------------------------------------------------------------------ the known answer


def test_crossing_of_every_pair_is_the_planted_one(flat):
    assert flat.model == "floquet" and flat.parameter == "alpha"
    assert [p["L"] for p in flat.pairs] == [[6, 7], [7, 8], [8, 9], [9, 10]]
    su = sigma_u(25.0)  # about 0.016: the crossing is known to ~1.6%
    for pair in flat.pairs:
        assert pair["reason"] is None and pair["note"] is None and pair["unbracketed"] == 0
        # within 4 standard errors (a false failure has probability ~6e-5 per pair)
        assert abs(math.log(pair["crossing"] / 25.0)) < 4 * su, pair
        # the 99% interval covers the planted value (each check misses ~1% of tables)
        assert pair["low"] < 25.0 < pair["high"], pair


def test_fit_over_the_largest_L(flat):
    fit = flat.fit
    assert fit["L"] == [8, 10] and fit["Ls"] == [8, 9, 10] and fit["top"] == 3
    # three equidistant L with equal errors: the slope is (m(10) - m(8)) / 2, standard error
    # SIGMA / sqrt(2 n)
    su = sigma_u(25.0, sigma_slope=SIGMA / math.sqrt(2 * N))
    assert abs(math.log(fit["crossing"] / 25.0)) < 4 * su
    assert fit["low"] < 25.0 < fit["high"]
    assert [r["alpha"] for r in fit["slopes"]] == list(GRID)
    for r in fit["slopes"]:
        assert r["slope"] == pytest.approx(slope_exact(r["alpha"], 25.0), abs=4 * r["slope_err"])
        assert r["slope_err"] == pytest.approx(SIGMA / math.sqrt(2 * N), rel=0.1)


def test_typical_rates_and_slopes_tables(flat):
    typ = flat.typical
    assert list(typ.columns) == ["alpha", "L", "n", "mean_lnGamma", "low", "high", "sem"]
    assert len(typ) == len(GRID) * len(LS) and (typ["n"] == N).all()
    exact = [
        A + sum(slope_exact(p, 25.0) for j in LS if j < L)
        for p, L in zip(typ.alpha, typ.L, strict=True)
    ]
    assert np.all(np.abs(typ["mean_lnGamma"] - exact) < 4 * typ["sem"])
    assert np.allclose(typ["sem"], SIGMA / math.sqrt(N), rtol=0.1)  # chi distribution: ~2% sd
    assert np.all((typ["low"] < typ["mean_lnGamma"]) & (typ["mean_lnGamma"] < typ["high"]))
    sl = flat.slopes
    assert list(sl.columns) == ["alpha", "L1", "L2", "slope", "low", "high", "sem", "n1", "n2"]
    assert len(sl) == len(GRID) * (len(LS) - 1)
    exact = np.array([slope_exact(p, 25.0) for p in sl["alpha"]])
    assert np.all(np.abs(sl["slope"] - exact) < 4 * sl["sem"])


def test_interval_width_follows_the_statistics(flat_table):
    res = landmark(flat_table, n_boot=N_BOOT, level=0.95, seed=2)
    z = NormalDist().inv_cdf(0.975)
    su = sigma_u(25.0)
    for pair in res.pairs:
        width = math.log(pair["high"] / pair["low"])
        # the 2.5% and 97.5% quantiles of 300 resamples of one table: the ratio scatters by
        # about 10% (seen over 40 tables: sd 0.10), so 4 sd either side
        assert 0.6 < width / (2 * z * su) < 1.4, pair
    typ = res.typical
    w = (typ["high"] - typ["low"]) / (2 * z * typ["sem"])
    assert w.between(0.6, 1.4).all()


def test_drift_pairs_cross_at_their_own_values():
    star = {6: 14.0, 7: 20.0, 8: 28.0, 9: 40.0}
    res = landmark(scan_table(star, seed=3), n_boot=N_BOOT, level=0.99, seed=4)
    got = [p["crossing"] for p in res.pairs]
    assert got == sorted(got)  # the landmark drifts up with L
    for pair in res.pairs:
        p0 = star[pair["L"][0]]
        assert abs(math.log(pair["crossing"] / p0)) < 4 * sigma_u(p0), pair
        assert pair["low"] < p0 < pair["high"]
    # the fit over L = 8..10 has slope (s_8 + s_9) / 2: it crosses at sqrt(28 * 40)
    p_fit = math.sqrt(28.0 * 40.0)
    su = sigma_u(p_fit, sigma_slope=SIGMA / math.sqrt(2 * N))
    assert abs(math.log(res.fit["crossing"] / p_fit)) < 4 * su


def test_grid_that_does_not_bracket_the_landmark():
    below = landmark(scan_table(5.0, n=200), n_boot=100)  # every p above p*: MBL side
    for pair in below.pairs:
        assert pair["crossing"] is None and pair["low"] is None and pair["high"] is None
        assert pair["reason"].startswith("slope below -ln 4 at every alpha: MBL side only")
        assert "below alpha=10" in pair["reason"]
    assert below.fit["crossing"] is None and "MBL side only" in below.fit["reason"]
    above = landmark(scan_table(200.0, n=200), n_boot=100)  # every p below p*: thermal side
    for pair in above.pairs:
        assert pair["crossing"] is None
        assert "thermal side only, the landmark lies above alpha=60" in pair["reason"]
    d = above.to_dict()
    assert all(p["crossing"] is None for p in d["pairs"])


def test_interval_left_out_when_most_resamples_do_not_bracket():
    """Slopes within 1% of a standard error of -ln 4 on both sides of the crossing: a resample
    brackets it only if both slopes keep their side, probability ~1/4."""
    rng = np.random.default_rng(7)
    n, sd = 200, 1.0
    se = sd * math.sqrt(2 / n)
    rows = []
    for p, eps in ((10.0, 0.01 * se), (20.0, -0.01 * se)):
        for L in (6, 7):
            x = rng.normal(0, sd, n)
            target = -5.0 + (0.0 if L == 6 else -LN4 + eps)
            lg = x - x.mean() + target  # the cell mean is exactly target
            rows.append(pd.DataFrame({"L": L, "alpha": p, "Gamma": np.exp(lg)}))
    res = landmark(pd.concat(rows, ignore_index=True), n_boot=200, seed=0)
    (pair,) = res.pairs
    assert pair["crossing"] == pytest.approx(math.sqrt(200.0), rel=1e-9)
    assert pair["unbracketed"] > 100  # ~150 expected; binomial sd ~6
    assert pair["low"] is None and pair["high"] is None
    assert (
        f"not bracketed in {pair['unbracketed']} of 200 resamples (more than half)"
        in (pair["note"])
    )


def test_several_crossings_take_the_smallest_parameter():
    # slopes -1, -2, -1, -2, -2.5, -3 on the grid (noise 0.01): crossings in (10, 15),
    # (15, 20) and (20, 30)
    target = {10.0: -1.0, 15.0: -2.0, 20.0: -1.0, 30.0: -2.0, 40.0: -2.5, 60.0: -3.0}
    rng = np.random.default_rng(1)
    rows = []
    for p, s in target.items():
        for L in (6, 7):
            lg = -3.0 + (s if L == 7 else 0.0) + rng.normal(0, 0.01, 50)
            rows.append(pd.DataFrame({"L": L, "alpha": p, "Gamma": np.exp(lg)}))
    res = landmark(pd.concat(rows, ignore_index=True), n_boot=100)
    (pair,) = res.pairs
    assert "crosses -ln 4 3 times" in pair["note"] and "smallest alpha" in pair["note"]
    # f = slope + ln 4 goes from 0.386 to -0.614 between 10 and 15: interpolated in ln p
    t = (LN4 - 1.0) / 1.0
    expect = math.exp(math.log(10) + t * (math.log(15) - math.log(10)))
    se_u = 0.01 * math.sqrt(2 / 50) * math.log(1.5)  # slope error x du / df, df = 1
    assert abs(math.log(pair["crossing"] / expect)) < 4 * se_u * math.hypot(1 - t, t)
    assert pair["low"] < pair["crossing"] < pair["high"] < 15.0


def test_cells_below_double_precision_are_left_out(flat_table, flat):
    """A cell where many Gamma are flagged below precision (their values only upper bounds) is
    left out: here the alpha = 60, L = 10 cell, 40% flagged, with its flagged Gamma inflated
    (as the real ones are); the landmark is then that of the table without the cell."""
    t = flat_table.copy()
    t["cert_gamma_below_precision"] = False
    cell = (t["alpha"] == 60.0) & (t["L"] == 10)
    hit = t.index[cell][: int(0.4 * N)]
    t.loc[hit, "cert_gamma_below_precision"] = True
    t.loc[hit, "Gamma"] *= 1e6
    r = landmark(t, n_boot=N_BOOT, level=0.99, seed=1)
    assert r.excluded == [{"alpha": 60.0, "L": 10, "n": N, "below_precision": 0.4}]
    assert r.dropped == {"below_precision": N}
    ref = landmark(flat_table[~cell], n_boot=N_BOOT, level=0.99, seed=1)
    strip = [{k: v for k, v in p.items() if k != "note"} for p in r.pairs]
    assert strip == [{k: v for k, v in p.items() if k != "note"} for p in ref.pairs]
    assert r.pairs[:3] == flat.pairs[:3]
    assert "alpha = 60 (40% at L = 10) left out: Gamma below double precision" in r.pairs[3]["note"]
    assert "alpha = 60 (40% at L = 10)" in r.fit["note"]
    assert r.to_dict()["excluded"][0]["below_precision"] == 0.4
    # the share is a choice: at or below it the cell stays, and then biases the last pair
    kept = landmark(t, n_boot=N_BOOT, level=0.99, seed=1, max_below_precision=0.4)
    assert kept.excluded == []
    sl = kept.slopes
    biased = sl[(sl.alpha == 60.0) & (sl.L1 == 9)]["slope"].iloc[0]
    assert biased > -LN4  # the deep-MBL cell looks thermal: a spurious second crossing
    assert "crosses -ln 4 2 times" in kept.pairs[3]["note"]
    # a few flagged samples (under 5%) keep the cell
    t.loc[hit[40:], "cert_gamma_below_precision"] = False
    assert landmark(t, n_boot=20, seed=1).excluded == []
    with pytest.raises(InputError, match=r"max_below_precision=1\.5 is not allowed"):
        landmark(t, max_below_precision=1.5)


def test_find_crossing():
    x, c = find_crossing([1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -1.0, -2.0], target=-1.5)
    assert c == 3 and x == pytest.approx(math.sqrt(2.0))  # halfway in ln p
    x, c = find_crossing([1.0, 2.0, 3.0], [-1.0, -2.0, -3.0], target=-1.5, log=False)
    assert (x, c) == (pytest.approx(1.5), 1)
    x, c = find_crossing([-1.0, 0.0, 1.0], [0.0, -LN4, -3.0])  # a grid value: exact
    assert (x, c) == (0.0, 1)
    x, c = find_crossing([1.0, 2.0], [-3.0, -4.0])
    assert math.isnan(x) and c == 0
    with pytest.raises(InputError, match="increasing"):
        find_crossing([2.0, 1.0], [0.0, -3.0])


# ------------------------------------------------------------------------ rows and models


def test_failed_rows_and_nonpositive_gamma_are_ignored(flat_table):
    clean = landmark(flat_table, n_boot=50, seed=3)
    bad = pd.DataFrame(
        {
            "model": "floquet",
            "L": [6, 7, 8, 9, 10, 6, 7, 8],
            "alpha": [10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 60.0, np.nan],
            "sample": 10**6,
            "Gamma": [1.0, 1.0, 0.0, -1.0, np.nan, np.inf, 1.0, 1.0],
            "status": ["failed", "failed", "ok", "ok", "ok", "ok", "failed", "ok"],
        }
    )
    dirty = landmark(pd.concat([flat_table, bad], ignore_index=True), n_boot=50, seed=3)
    pd.testing.assert_frame_equal(dirty.typical, clean.typical)
    assert dirty.pairs == clean.pairs and dirty.fit == clean.fit
    assert dirty.dropped == {"status": 3, "alpha": 1, "Gamma": 4}
    assert clean.dropped == {}


def test_models_and_parameters():
    flo = scan_table(25.0, n=100, grid=(10.0, 30.0), Ls=(6, 7))
    heis = scan_table(8.0, n=100, grid=(4.0, 16.0), Ls=(6, 7), parameter="W", model="heisenberg")
    both = pd.concat([flo, heis], ignore_index=True)
    with pytest.raises(InputError, match=r"several models \(floquet, heisenberg\)"):
        landmark(both, n_boot=20)
    h = landmark(both, model="heisenberg", n_boot=20)
    assert (
        (h.model, h.parameter)
        == ("heisenberg", SCAN_PARAMETER["heisenberg"])
        == (
            "heisenberg",
            "W",
        )
    )
    assert h.values == [4.0, 16.0]
    su = sigma_u(8.0, grid=(4.0, 16.0), sigma_slope=SIGMA * math.sqrt(2 / 100))
    assert abs(math.log(h.pairs[0]["crossing"] / 8.0)) < 4 * su
    with pytest.raises(InputError, match="model='xxz' is not in the table"):
        landmark(both, model="xxz")
    with pytest.raises(InputError, match=r"'W' is not in the table \(columns: model, L, alpha"):
        landmark(flo, "W")
    with pytest.raises(InputError, match="not a column of the record schema"):
        landmark(flo.assign(foo=1.0), "foo")
    two_delta = heis.assign(Delta=np.where(heis["sample"] % 2 == 0, 1.0, 0.5))
    with pytest.raises(InputError, match="several values of Delta"):
        landmark(two_delta)
    # a table without a model column is a Floquet table (record version 1)
    old = landmark(flo.drop(columns=["model", "status"]), n_boot=20)
    assert (old.model, old.parameter) == ("floquet", "alpha")
    with pytest.raises(InputError, match="no column 'Gamma'"):
        landmark(flo.drop(columns="Gamma"))
    for kw, msg in (
        ({"top": 1}, "top=1"),
        ({"n_boot": 0}, "n_boot=0"),
        ({"n_boot": 10**7}, r"n_boot=10000000 is not allowed: it must be an integer >= 1 and <= "),
        ({"n_boot": 2.5}, "n_boot=2.5"),
        ({"level": 1.0}, "level=1.0"),
        ({"seed": -1}, "seed=-1"),
    ):
        with pytest.raises(InputError, match=msg):
            landmark(flo, **kw)


def test_seeds_are_explicit_and_per_cell(flat_table):
    a = landmark(flat_table, n_boot=50, seed=5)
    b = landmark(flat_table, n_boot=50, seed=5)
    c = landmark(flat_table, n_boot=50, seed=6)
    pd.testing.assert_frame_equal(a.typical, b.typical)
    assert a.pairs == b.pairs
    assert not np.allclose(a.typical["low"], c.typical["low"])
    # a cell's resamples do not depend on the other cells of the table
    sub = landmark(flat_table[flat_table["alpha"] != 60.0], n_boot=50, seed=5)
    keep = a.typical[a.typical["alpha"] != 60.0].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub.typical, keep)


def test_top_larger_than_the_table_uses_every_L():
    res = landmark(scan_table(25.0, n=200, Ls=(6, 7)), top=3, n_boot=50)
    assert res.fit["L"] == [6, 7] and "only 2 chain lengths" in res.fit["note"]
    one = landmark(scan_table(25.0, n=50, Ls=(6,)), n_boot=20)
    assert (
        one.pairs == [] and one.fit["crossing"] is None and "a fit needs 2" in (one.fit["reason"])
    )


# ------------------------------------------------------------------------ output


def test_json_form(flat):
    d = flat.to_dict()
    assert list(d) == ["model", "parameter", "pairs", "fit", "slopes", "excluded"]
    assert d["excluded"] == []
    assert (d["model"], d["parameter"]) == ("floquet", "alpha")
    for p in d["pairs"]:
        assert list(p)[:4] == ["L", "crossing", "low", "high"]
        assert set(p) == {"L", "crossing", "low", "high", "unbracketed", "reason", "note"}
        assert isinstance(p["L"], list) and all(isinstance(v, int) for v in p["L"])
        assert all(isinstance(p[k], float) for k in ("crossing", "low", "high"))
    assert {"L", "Ls", "top", "crossing", "low", "high", "reason", "note"} <= set(d["fit"])
    row = d["slopes"][0]
    assert list(row) == ["L", "alpha", "slope", "low", "high", "sem", "n"]
    assert row["L"] == [6, 7] and row["n"] == [N, N]
    text = json.dumps(d, allow_nan=False)  # no NaN or infinity survives
    assert json.loads(text) == d


def test_repr_is_short(flat):
    r = repr(flat)
    assert r.startswith("Landmark(model='floquet', parameter='alpha', L=6..10, 6 values, 6-7: ")
    assert "fit 8-10: " in r and len(r) < 400
    assert isinstance(flat, Landmark)


def test_figures_without_pyplot(flat, tmp_path):
    figs = landmark_figures(flat)
    assert list(figs) == ["landmark_flatness", "landmark_slopes", "landmark_drift"]
    for fig in figs.values():
        assert isinstance(fig, Figure) and fig.canvas.manager is None  # not made by pyplot
    assert figs["landmark_slopes"].axes[0].get_xscale() == "log"
    labels = figs["landmark_flatness"].axes[0].get_legend_handles_labels()[1]
    assert labels[0] == f"{symbol('alpha')} = 10 (n = {N})" and symbol("alpha") == r"$\alpha$"
    paths = write_landmark_figures(flat, tmp_path / "f", formats=("png",))
    assert [p.name for p in paths] == [f"{s}.png" for s in figs]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    # nothing bracketed: the figures still draw, and say so
    none = landmark(scan_table(5.0, n=50, grid=(10.0, 20.0), Ls=(6, 7, 8)), n_boot=20)
    assert len(write_landmark_figures(none, tmp_path / "g", formats=("png",))) == 3


# ------------------------------------------------------------------------ command line


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "t.parquet"
    scan_table({6: 14.0, 7: 20.0, 8: 28.0, 9: 40.0}, n=200, seed=5).to_parquet(path)
    return path


def test_cli_json_and_text(table_file, tmp_path, capsys):
    assert main(["landmark", str(table_file), "--json", "--n-boot", "50"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["parameter"] == "alpha" and [p["L"] for p in d["pairs"]][-1] == [9, 10]
    argv = ["landmark", str(table_file), "--n-boot", "50", "--top", "2"]
    assert main([*argv, "--plot", str(tmp_path / "p"), "--format", "png"]) == 0
    out = capsys.readouterr().out
    assert "     6-7  " in out and "     fit  L = 9, 10" in out and "slopes d ln Gamma_typ" in out
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        "landmark_drift.png",
        "landmark_flatness.png",
        "landmark_slopes.png",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--parameter", "W"], "'W' is not in the table"),
        (["--top", "1"], "--top 1 is not allowed"),
        (["--level", "2"], "--level 2.0 is not allowed"),
        (["--n-boot", "0"], "--n-boot 0 is not allowed"),
        (["--model", "heisenberg"], "model='heisenberg' is not in the table"),
        (["--plot", "{file}/sub"], "--plot"),
    ],
)
def test_cli_bad_input(table_file, tmp_path, capsys, extra, message):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    extra = [e.replace("{file}", str(blocker)) for e in extra]
    assert main(["landmark", str(table_file), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mbl-avalanche: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_missing_run(tmp_path, capsys):
    assert main(["landmark", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
