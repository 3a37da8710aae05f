"""Run configuration: TOML files, flags override, bad input -> one-line error, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mbl_avalanche
from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import load_run, make_config
from mbl_avalanche.ensemble.config import CONFIG_KEYS, RunConfig
from mbl_avalanche.errors import InputError


def _toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(text)
    return p


def test_toml_config_and_flags_override(tmp_path):
    p = _toml(
        tmp_path,
        "L = [6, 7]\nalpha = [30, 1.5]\nsamples = 5\nseed = 11\n"
        'layer_order = "even_first"\nworkers = 2\nsave_arrays = true\n',
    )
    cfg = make_config(p)
    assert cfg.L == (6, 7) and cfg.alpha == (30.0, 1.5) and cfg.samples == 5 and cfg.seed == 11
    assert cfg.layer_order == "even_first" and cfg.workers == 2 and cfg.save_arrays is True
    cfg = make_config(p, samples=9, L=[8], seed=None)
    assert cfg.samples == 9 and cfg.L == (8,) and cfg.seed == 11
    assert RunConfig(**cfg.to_dict()) == cfg
    assert set(cfg.to_dict()) == set(CONFIG_KEYS)


def test_config_file_drives_the_cli(tmp_path):
    p = _toml(tmp_path, "L = [5]\nalpha = [2.0]\nsamples = 3\n")
    assert (
        main(["run", str(tmp_path / "o"), "--config", str(p), "--samples", "2", "--no-progress"])
        == 0
    )
    df = load_run(tmp_path / "o")
    assert df["sample"].tolist() == [0, 1] and set(df.alpha) == {2.0}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("L = [6\nalpha = [1]\nsamples = 2\n", "is not valid TOML"),
        ("L = [6]\nalpha = [1]\nsamples = 2\nsampels = 3\n", "config key 'sampels'"),
        ("L = [6]\nalpha = [1]\nsamples = -4\n", "samples=-4 is not allowed"),
        ("L = [6]\nalpha = [1]\nsamples = 2.5\n", "samples=2.5 is not allowed"),
        ('L = [6]\nalpha = ["x"]\nsamples = 2\n', "alpha='x' is not allowed"),
        ("L = [1]\nalpha = [1]\nsamples = 2\n", "L=1 is not allowed"),
        ("L = [6]\nalpha = [0]\nsamples = 2\n", "alpha=0 is not allowed"),
        ("L = [6]\nalpha = [1]\nsamples = 2\nworkers = -1\n", "workers=-1 is not allowed"),
        ("L = [6]\nalpha = [1]\nsamples = 2\nsave_arrays = 1\n", "save_arrays=1 is not allowed"),
        ('L = [6]\nalpha = [1]\nsamples = 2\nlayer_order = "up"\n', "layer_order='up'"),
        ('L = [6]\nalpha = [1]\nsamples = 2\nmethod = "qr"\n', "method='qr' is not allowed"),
        ("alpha = [1]\nsamples = 2\n", "L not given"),
    ],
)
def test_bad_config_is_a_clear_error_with_exit_code_2(tmp_path, capsys, text, match):
    p = _toml(tmp_path, text)
    with pytest.raises(InputError, match=match):
        make_config(p)
    assert main(["run", str(tmp_path / "o"), "--config", str(p), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert match.split("'")[0].split("=")[0] in err and "Traceback" not in err
    assert err.startswith("mbl-avalanche: error: ") and err.count("\n") == 1


def test_bad_flags_exit_code_2(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["run", out, "--L", "6", "--alpha", "1", "--samples", "-3"]) == 2
    assert "samples=-3 is not allowed: it must be an integer >= 0" in capsys.readouterr().err
    assert main(["run", out, "--L", "6", "--alpha", "1", "--samples", "2", "--shard", "2/2"]) == 2
    assert "shard=2/2 is not allowed" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                out,
                "--L",
                "6",
                "--alpha",
                "1",
                "--samples",
                "2",
                "--config",
                str(tmp_path / "missing.toml"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", out, "--L", "6", "--alpha", "1", "--samples", "many"])
    assert e.value.code == 2


def test_reused_outdir_must_have_the_same_physics(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["run", out, "--L", "5", "--alpha", "1", "--samples", "1", "--no-progress"]) == 0
    assert main(["run", out, "--L", "5", "--alpha", "1", "--samples", "1", "--seed", "3"]) == 2
    assert "seed=3 is not allowed for OUTDIR" in capsys.readouterr().err


def test_negative_samples_in_a_subprocess_exit_2_without_traceback(tmp_path):
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(Path(mbl_avalanche.__file__).resolve().parents[1]),
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbl_avalanche",
            "run",
            str(tmp_path / "o"),
            "--L",
            "6",
            "--alpha",
            "1",
            "--samples",
            "-1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr == (
        "mbl-avalanche: error: samples=-1 is not allowed: it must be an integer >= 0\n"
    )
