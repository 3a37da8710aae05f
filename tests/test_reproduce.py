"""``reproduce``: presets, the calls made to the ensemble runner, figures and report at the end.

The runner's ``run_ensemble`` and ``load_run`` are replaced by stand-ins with the same contract
(``run_ensemble(outdir, L=, alpha=, samples=, seed=, workers=, progress=)`` and
``load_run(outdir) -> DataFrame``), which compute real samples for ``L <= 6`` only, so that the
test stays fast and records the calls; the real runner is exercised by its own tests and by
``tests/test_figures.py::test_figures_and_report_from_a_real_run``.
"""

from __future__ import annotations

import types
from pathlib import Path

import pandas as pd
import pytest

from mbl_avalanche import ensemble
from mbl_avalanche.cli import main
from mbl_avalanche.errors import InputError, NotARunDirectory
from mbl_avalanche.figures import paper
from mbl_avalanche.reproduce import PRESETS, Block, estimate_quick_minutes, plan, run_blocks


@pytest.fixture
def fake_runner(monkeypatch):
    calls = []

    def run_ensemble(outdir, *, L, alpha, samples, seed, workers, progress=None):
        from mbl_avalanche import FloquetModel, analyze_sample

        calls.append(
            dict(
                outdir=Path(outdir),
                L=list(L),
                alpha=list(alpha),
                samples=samples,
                seed=seed,
                workers=workers,
                progress=progress,
            )
        )
        Path(outdir).mkdir(parents=True, exist_ok=True)
        path = Path(outdir) / "table.parquet"
        old = pd.read_parquet(path) if path.exists() else pd.DataFrame()
        rows = [
            analyze_sample(FloquetModel(l, a, seed=seed), k).scalars()
            for l in L
            if l <= 6
            for a in alpha
            for k in range(samples)
        ]
        new = pd.concat([old, pd.DataFrame(rows)], ignore_index=True)
        if len(new):
            new = new.drop_duplicates(subset=["L", "alpha", "sample"])
            new.to_parquet(path)

    def load_run(outdir):
        path = Path(outdir) / "table.parquet"
        if not path.exists():
            raise NotARunDirectory(f"{outdir} is not a run directory")
        return pd.read_parquet(path)

    monkeypatch.setattr(ensemble, "run_ensemble", run_ensemble)
    monkeypatch.setattr(ensemble, "load_run", load_run)
    return calls


def test_presets_match_the_issue():
    (quick,) = PRESETS["quick"]
    assert quick.L == (6, 7, 8, 9) and quick.alpha == (30.0, 1.0)
    # "finishes within 15 minutes on 2 cores", with room for start-up, figures and report
    assert estimate_quick_minutes(2) < 10
    paper = PRESETS["paper"]
    assert max(max(b.L) for b in paper) == 12
    assert all(b.alpha == (30.0, 1.0) for b in paper)
    assert next(b for b in paper if 11 in b.L).samples == 10_000
    assert plan("paper", samples=3) == tuple(Block(b.L, b.alpha, 3, b.subdir) for b in paper)
    with pytest.raises(InputError, match="preset 'huge'"):
        plan("huge")
    with pytest.raises(InputError, match="samples=0"):
        plan("quick", samples=0)


def test_run_blocks_calls_the_runner(tmp_path, fake_runner):
    done = run_blocks(tmp_path, plan("paper", samples=2), seed=5, workers=2)
    assert [d for d, _ in done] == [tmp_path, tmp_path]
    assert [c["L"] for c in fake_runner] == [[6, 7, 8, 9, 10, 11], [12]]
    assert all(c["seed"] == 5 and c["workers"] == 2 and c["samples"] == 2 for c in fake_runner)
    with pytest.raises(InputError, match="workers=0"):
        run_blocks(tmp_path, plan("quick"), workers=0, runner=lambda *a, **k: None)


def test_reproduce_quick_end_to_end(tmp_path, fake_runner, capsys, monkeypatch):
    keep = ("fig2_R", "fig4_resonant_set", "lnGamma_vs_L")  # all figures: tests/test_figures.py
    monkeypatch.setattr(paper, "FIGURES", tuple(f for f in paper.FIGURES if f[0] in keep))
    out = tmp_path / "run"
    argv = ["reproduce", str(out), "--samples", "6", "--workers", "1", "--n-boot", "50"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "samples failed" not in text
    assert "estimated:" in text and "ensemble: 12 samples" in text
    assert fake_runner[0] == dict(
        outdir=out,
        L=[6, 7, 8, 9],
        alpha=[30.0, 1.0],
        samples=6,
        seed=20230623,
        workers=1,
        progress=None,
    )
    for name in ("fig2_R.png", "fig2_R.pdf", "lnGamma_vs_L.png"):
        assert (out / "figures" / name).stat().st_size > 5000
    assert (out / "report.md").exists() and (out / "report.json").exists()
    # run again: the same call to the (resumable) runner, nothing duplicated
    monkeypatch.setattr(paper, "FIGURES", paper.FIGURES[:1])
    assert main([*argv, "--no-progress"]) == 0
    assert fake_runner[1]["progress"] is False
    assert len(pd.read_parquet(out / "table.parquet")) == 12


def test_reproduce_paper_layout_and_dry_run(tmp_path, fake_runner, capsys, monkeypatch):
    monkeypatch.setattr(paper, "FIGURES", paper.FIGURES[:1])
    assert main(["reproduce", "--preset", "paper", str(tmp_path / "p"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "L = 6,7,8,9,10,11" in text and "samples = 10000" in text and "L = 12" in text
    assert fake_runner == [] and not (tmp_path / "p").exists()
    # both blocks go into one run directory
    assert (
        main(
            [
                "reproduce",
                "--preset",
                "paper",
                str(tmp_path / "p"),
                "--samples",
                "3",
                "--workers",
                "1",
                "--n-boot",
                "20",
            ]
        )
        == 0
    )
    assert [c["outdir"] for c in fake_runner] == [tmp_path / "p"] * 2
    assert (tmp_path / "p" / "figures" / "fig2_R.png").exists()


def test_folder_of_runs_and_failed_samples(tmp_path, fake_runner, capsys):
    """A folder of run directories is read as one table; failed samples are left out."""
    ens = ensemble
    ens.run_ensemble(tmp_path / "a", L=[5], alpha=[30.0], samples=3, seed=1, workers=1)
    ens.run_ensemble(tmp_path / "b", L=[6], alpha=[30.0], samples=2, seed=1, workers=1)
    b = pd.read_parquet(tmp_path / "b" / "table.parquet")
    b["status"] = ["ok", "failed"]
    b.to_parquet(tmp_path / "b" / "table.parquet")
    from mbl_avalanche.table import load_table

    df = load_table(tmp_path)
    assert sorted(zip(df["L"], df["sample"], strict=True)) == [(5, 0), (5, 1), (5, 2), (6, 0)]
    assert main(["report", str(tmp_path), "--n-boot", "20"]) == 0
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "holds no finished samples" in err or "not a run directory" in err


def test_interrupted_run_stops_before_figures(tmp_path, monkeypatch, capsys):
    calls = []

    def runner(outdir, **kw):
        calls.append(kw)
        return types.SimpleNamespace(interrupted=True, computed_failed=0)

    monkeypatch.setattr(ensemble, "run_ensemble", runner)
    assert main(["reproduce", "--preset", "paper", str(tmp_path / "r")]) == 130
    assert len(calls) == 1 and "run the same command again" in capsys.readouterr().out
    assert not (tmp_path / "r" / "figures").exists()


def test_reproduce_bad_input(tmp_path, fake_runner, capsys):
    assert main(["reproduce", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers 0 is not allowed" in capsys.readouterr().err
    assert main(["reproduce", str(tmp_path), "--samples", "-1"]) == 2
    (tmp_path / "f").write_text("")
    assert main(["reproduce", str(tmp_path / "f")]) == 2
    assert fake_runner == []


def test_run_blocks_with_the_real_runner(tmp_path):
    """The call made by ``reproduce`` matches the real runner: it computes, then resumes."""
    from mbl_avalanche.table import load_table

    blocks = [Block(L=(5,), alpha=(30.0, 1.0), samples=3), Block(L=(4,), alpha=(30.0,), samples=2)]
    (d1, s1), (d2, s2) = run_blocks(tmp_path, blocks, workers=1, progress=False)
    assert d1 == d2 == tmp_path and s1.computed_ok == 6 and s2.computed_ok == 2
    df = load_table(tmp_path)
    assert sorted(zip(df["L"], df["alpha"], df["sample"], strict=True)) == sorted(
        [(5, a, k) for a in (30.0, 1.0) for k in range(3)] + [(4, 30.0, 0), (4, 30.0, 1)]
    )
    (_, again), _ = run_blocks(tmp_path, blocks, workers=1, progress=False)
    assert again.computed_ok == 0 and again.already_done == 6


def test_landmark_presets_scan_both_models():
    floquet, heis = PRESETS["landmark"]
    assert (floquet.model, floquet.subdir, heis.model, heis.subdir) == (
        "floquet",
        "floquet",
        "heisenberg",
        "heisenberg",
    )
    assert floquet.L == heis.L == (6, 7, 8, 9, 10)
    # the scans bracket the paper's alpha = 30 and the Heisenberg range W = 4..40
    assert min(floquet.alpha) < 30 < max(floquet.alpha) and floquet.points() == len(floquet.alpha)
    _W = heis.grid()["W"]
    assert heis.grid() == {"W": _W, "Delta": (1.0,)}
    assert min(_W) <= 4 and max(_W) >= 30 and heis.points() == len(_W)
    quick = PRESETS["landmark-quick"]
    # "a quick version that runs in minutes here": the cost model's estimate on 2 cores
    minutes = sum(b.core_seconds() for b in quick) / 2 / 60
    assert minutes < 5
    full = sum(b.core_seconds() for b in PRESETS["landmark"])
    assert full > 20 * sum(b.core_seconds() for b in quick)
    # the cost of a block is the model's own table times its grid points
    from mbl_avalanche.resources import sample_seconds

    assert heis.core_seconds() == pytest.approx(
        1000 * len(_W) * sum(sample_seconds(L, 1, "heisenberg") for L in heis.L)
    )


def test_run_blocks_passes_the_model_and_its_grid(tmp_path):
    calls = []

    def runner(outdir, **kw):
        calls.append((Path(outdir), kw))
        return types.SimpleNamespace(interrupted=False, computed_failed=0)

    run_blocks(tmp_path, plan("landmark", samples=7), seed=3, workers=2, runner=runner)
    (d1, k1), (d2, k2) = calls
    assert d1 == tmp_path / "floquet" and d2 == tmp_path / "heisenberg"
    assert k1 == dict(
        L=[6, 7, 8, 9, 10], alpha=list(PRESETS["landmark"][0].alpha), samples=7, seed=3, workers=2
    )
    assert k2["model"] == "heisenberg" and k2["params"]["Delta"] == [1.0]
    assert k2["params"]["W"] == list(PRESETS["landmark"][1].grid()["W"])
    assert (k2["samples"], k2["seed"], k2["workers"]) == (7, 3, 2)


def test_reproduce_landmark_end_to_end(tmp_path, monkeypatch, capsys):
    """The landmark preset with the real runner on a small grid: both models' folders get the
    landmark (JSON equal to ``mbl-avalanche landmark --json``), its figures and the report;
    the summary lists both; a second call computes nothing."""
    import json

    small = (
        Block(L=(4, 5, 6), alpha=(5.0, 30.0, 80.0), samples=4, subdir="floquet"),
        Block(
            L=(4, 5, 6),
            alpha=(),
            samples=4,
            subdir="heisenberg",
            model="heisenberg",
            params=(("W", (2.0, 10.0, 40.0)), ("Delta", (1.0,))),
        ),
    )
    monkeypatch.setitem(PRESETS, "landmark-quick", small)
    out = tmp_path / "lm"
    argv = [
        "reproduce",
        "--preset",
        "landmark-quick",
        str(out),
        "--workers",
        "1",
        "--n-boot",
        "30",
        "--no-progress",
    ]
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "floquet: L = 4,5,6" in text and "heisenberg: L = 4,5,6  W = 2,10,40  Delta = 1" in text
    assert not out.exists()
    assert main(argv) == 0
    text = capsys.readouterr().out
    for name, par in (("floquet", "alpha"), ("heisenberg", "W")):
        d = out / name
        lm = json.loads((d / "landmark.json").read_text())
        assert lm["model"] == name and lm["parameter"] == par
        assert [p["L"] for p in lm["pairs"]] == [[4, 5], [5, 6]]
        assert (d / "landmark.txt").read_text().startswith("avalanche landmark of")
        for stem in ("landmark_flatness", "landmark_slopes", "landmark_drift"):
            assert (d / "figures" / f"{stem}.png").stat().st_size > 5000
        rep = json.loads((d / "report.json").read_text())
        assert rep["model"] == name and rep["table"]["rows"] == 36
        assert main(["landmark", str(d), "--json", "--n-boot", "30"]) == 0
        assert json.loads(capsys.readouterr().out) == lm
    summary = (out / "landmark.md").read_text()
    assert "| pair of L | floquet: alpha_c | heisenberg: W_c |" in summary
    assert "| L = 5-6 |" in summary
    assert main(argv) == 0
    assert "36 samples" in capsys.readouterr().out
