"""``mbl-avalanche inspect`` draws a real figure; bad plot paths are one-line errors."""

from __future__ import annotations

import numpy as np
from matplotlib.image import imread

from mbl_avalanche.cli import main


def test_inspect_png(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["inspect", "--L", "6", "--alpha", "30", "--sample", "3", "--plot", str(out)]) == 0
    assert "near-resonant set" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 300 and np.std(img) > 0.05


def test_inspect_unitary_file_pdf(tmp_path):
    from mbl_avalanche import FloquetModel

    np.save(tmp_path / "U.npy", FloquetModel(L=5, alpha=10).unitary(0))
    out = tmp_path / "u.pdf"
    assert main(["inspect", "--unitary", str(tmp_path / "U.npy"), "--plot", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:] and len(data) > 5000


def test_inspect_bad_plot_path(tmp_path, capsys):
    assert main(["inspect", "--L", "4", "--alpha", "3", "--plot", str(tmp_path / "x.txt")]) == 2
    assert main(["inspect", "--L", "4", "--alpha", "3", "--plot", "/no/such/dir/x.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err
