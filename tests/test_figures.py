"""Paper figures: produced from real and synthetic tables, valid PNG/PDF, robust to gaps, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from mbl_avalanche.cli import main
from mbl_avalanche.errors import InputError
from mbl_avalanche.figures import FIGURES, make_figures
from mbl_avalanche.stats import Regimes
from synthetic_tables import synthetic_table

ALL = [name for name, _ in FIGURES]
RESONANCE_FIGS = {"fig4_resonant_set", "fig4cd_angle_distributions", "x_over_L", "zjump_mu_nu"}


def check_png(path) -> None:
    """A real, non-trivial PNG: signature, size, decodes to a non-constant image."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 15_000, (path, len(data))
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500, img.shape
    rgb = img[..., :3]
    assert rgb.std() > 0.03
    # a drawn figure has both ink and background
    assert (rgb.mean(axis=2) < 0.5).mean() > 0.003
    assert (rgb.mean(axis=2) > 0.9).mean() > 0.3


def check_pdf(path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-1."), path
    assert data.rstrip().endswith(b"%%EOF"), path
    assert b"/Page" in data and len(data) > 5_000, (path, len(data))


@pytest.fixture(scope="module")
def real_df():
    """Real samples (L = 5, 6, 7; alpha = 30 and 1), as the ensemble store would hold them."""
    from mbl_avalanche import FloquetModel, analyze_sample

    rows = [
        analyze_sample(FloquetModel(L, a), k).scalars()
        for L in (5, 6, 7)
        for a in (30.0, 1.0)
        for k in range(16)
    ]
    return pd.DataFrame(rows)


def test_all_figures_from_real_samples(tmp_path, real_df):
    recs = {r.name: r for r in make_figures(real_df, tmp_path)}
    assert set(recs) == set(ALL)
    has_res = "ratio_SABp_SApB" in real_df.columns
    expect = set(ALL) if has_res else set(ALL) - RESONANCE_FIGS
    assert {n for n, r in recs.items() if r.paths} == expect
    for name in expect:
        png, pdf = recs[name].paths
        assert png == tmp_path / f"{name}.png" and pdf == tmp_path / f"{name}.pdf"
        check_png(png)
        check_pdf(pdf)


def test_all_figures_from_synthetic_table(tmp_path):
    df, _ = synthetic_table(seed=7, n=120, Ls=(6, 7, 8))
    recs = make_figures(df, tmp_path, formats=("png",))
    assert [r.name for r in recs if r.paths] == ALL
    for r in recs:
        check_png(r.paths[0])


def test_pdf_is_reproducible(tmp_path, real_df):
    a = make_figures(real_df, tmp_path / "a", only=["fig2_R"], formats=("pdf",))
    b = make_figures(real_df, tmp_path / "b", only=["fig2_R"], formats=("pdf",))
    assert a[0].paths[0].read_bytes() == b[0].paths[0].read_bytes()


def test_missing_columns_are_skipped_with_a_note(tmp_path, real_df):
    core = real_df[["L", "alpha", "R"]]
    recs = {r.name: r for r in make_figures(core, tmp_path, formats=("png",))}
    assert recs["fig2_R"].paths
    for name in set(ALL) - {"fig2_R"}:
        assert not recs[name].paths and recs[name].note.startswith("skipped:"), name
    assert "Gamma" in recs["lnGamma_vs_L"].note or "lnGamma" in recs["lnGamma_vs_L"].note
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig2_R.png"]


def test_nan_entries_and_no_mbl_data(tmp_path, real_df):
    df = real_df.copy()
    df.loc[::3, "R"] = np.nan
    df.loc[::4, "Gamma"] = np.nan
    if "angle_AB" in df.columns:
        df.loc[::2, ["angle_AB", "x_over_L", "zjump_mu_nu"]] = np.nan
    recs = make_figures(df, tmp_path / "nan", formats=("png",))
    assert sum(bool(r.paths) for r in recs) >= 3
    thermal = real_df[real_df["alpha"] == 1.0]
    few = ["fig2_R", "lnGamma_vs_L", "fig4_resonant_set"]
    recs = {r.name: r for r in make_figures(thermal, tmp_path / "th", formats=("png",), only=few)}
    assert recs["fig2_R"].paths and recs["lnGamma_vs_L"].paths
    assert "no MBL samples" in recs["fig4_resonant_set"].note
    # the regime split can be overridden: call alpha = 1 "MBL"
    recs = {
        r.name: r
        for r in make_figures(
            thermal,
            tmp_path / "ov",
            formats=("png",),
            regimes=Regimes(mbl=(1.0,)),
            only=["fig4_resonant_set"],
        )
    }
    if "ratio_SABp_SApB" in real_df.columns:
        assert recs["fig4_resonant_set"].paths


def test_fig4_selection(tmp_path):
    df, _ = synthetic_table(seed=8, n=60, Ls=(6, 7))
    recs = make_figures(df, tmp_path, only=["fig4_resonant_set"], fig4_L=6, formats=("png",))
    assert recs[0].paths
    # a selection that matches no sample is an error before anything is drawn (as the report's)
    with pytest.raises(InputError, match=r"L=11 .*the L values present are 6, 7"):
        make_figures(df, tmp_path / "new", only=["fig4_resonant_set"], fig4_L=11)
    assert not (tmp_path / "new").exists()


def test_cli_figures(tmp_path, real_df, capsys):
    real_df.to_parquet(tmp_path / "t.parquet")
    assert (
        main(
            [
                "figures",
                str(tmp_path / "t.parquet"),
                "--out",
                str(tmp_path / "f"),
                "--format",
                "png",
                "--only",
                "fig2_R",
                "lnGamma_vs_L",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "fig2_R.png" in out
    check_png(tmp_path / "f" / "fig2_R.png")
    assert not (tmp_path / "f" / "fig2_R.pdf").exists()
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["fig2_R.png", "lnGamma_vs_L.png"]
    real_df[["L", "alpha"]].to_csv(tmp_path / "bare.csv", index=False)
    assert main(["figures", str(tmp_path / "bare.csv")]) == 2
    assert "no figure could be drawn" in capsys.readouterr().err
    assert main(["figures", str(tmp_path / "t.parquet"), "--thermal-alpha-max", "50"]) == 2


def test_figures_and_report_from_a_real_run(tmp_path, capsys):
    """The whole chain on a small real run: run -> figures -> report (CLI, no stand-ins)."""
    import json

    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                str(out),
                "--L",
                "5",
                "6",
                "--alpha",
                "30",
                "1",
                "--samples",
                "8",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "figures",
                str(out),
                "--only",
                "fig2_R",
                "fig4_resonant_set",
                "lnGamma_vs_L",
                "x_over_L",
            ]
        )
        == 0
    )
    for name in ("fig2_R", "fig4_resonant_set", "lnGamma_vs_L", "x_over_L"):
        check_png(out / "figures" / f"{name}.png")
        check_pdf(out / "figures" / f"{name}.pdf")
    assert main(["report", str(out), "--n-boot", "50"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["table"]["rows"] == 32
    c = {x["key"]: x for x in rep["claims"]}
    assert c["R_le_half"]["n"] == 16
    assert c["zjump_bimodal"]["selection"] == "alpha=30, L=6" and c["zjump_bimodal"]["n"] == 8
    capsys.readouterr()
