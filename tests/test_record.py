"""The record schema: every column named once, every produced column declared, and validated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import haar_unitary
from mbl_avalanche import FloquetModel, analyze, analyze_sample, record, resonance, stats
from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import load_run, run_ensemble
from mbl_avalanche.ensemble.store import read_shard, shard_files, write_shard
from mbl_avalanche.ensemble.tasks import FAIL_ENV
from mbl_avalanche.errors import InputError
from mbl_avalanche.models import HeisenbergModel, PlantedModel
from mbl_avalanche.record import SchemaError


@pytest.fixture(scope="module")
def produced() -> dict[str, set[str]]:
    """The columns each way of producing a record writes."""
    rng = np.random.default_rng(4)
    model = FloquetModel(L=5, alpha=30.0)
    h = rng.standard_normal((32, 32))
    return {
        "fast": set(analyze_sample(model, 0).scalars()),
        "schur": set(analyze_sample(model, 0, method="schur").scalars()),
        "unitary": set(analyze(haar_unitary(32, rng), meta={"source": "U.npy"}).scalars()),
        "hamiltonian": set(analyze(h + h.T, "hamiltonian", meta={"source": "H.npy"}).scalars()),
        "heisenberg": set(analyze_sample(HeisenbergModel(L=5, W=3.0), 0).scalars()),
        "planted": set(analyze_sample(PlantedModel(L=5), 0).scalars()),
    }


def test_every_produced_column_is_declared_and_every_declared_one_is_produced(
    produced, tmp_path, monkeypatch
):
    monkeypatch.setenv(FAIL_ENV, "4:30.0:1")
    run_ensemble(tmp_path, L=[4], alpha=[30.0], samples=2, progress=False)
    df = load_run(tmp_path)
    assert sorted(df.status) == ["failed", "ok"]
    from_runs = set(df.columns)
    everything = set().union(*produced.values(), from_runs)
    assert everything <= set(record.COLUMNS), everything - set(record.COLUMNS)
    # none is dead (user models declared by other tests in this process add their parameters)
    user = {n for fam, names in record.MODEL_PARAMETERS.items() if ":" in fam for n in names}
    declared = set(record.COLUMNS) - (user - everything)
    assert declared <= everything, declared - everything


def test_records_of_each_path_validate(produced):
    model = FloquetModel(L=5, alpha=1.0)
    record.validate(analyze_sample(model, 2).scalars(), require="sample")
    with pytest.raises(SchemaError, match="columns missing: backend, exact_certificate, Gamma,"):
        record.validate({"L": 5, "kind": "unitary"}, require="sample")
    assert produced["fast"] - produced["schur"] == {
        "fast_residual_fro",
        "fast_orthonormality_fro",
        "fast_residual_bound",
        "fast_clusters",
    }


def test_validate_names_the_problem():
    good = {"L": 5, "alpha": 1.0, "sample": 0, "status": "failed"}
    record.validate(good, require="key")
    with pytest.raises(SchemaError, match="column 'Gama' is not in the record schema"):
        record.validate({**good, "Gama": 1.0}, require="key")
    with pytest.raises(SchemaError, match=r"column 'sample' = 1\.5 is not of dtype int"):
        record.validate({**good, "sample": 1.5}, require="key")
    with pytest.raises(SchemaError, match="column 'R' = True is not of dtype float"):
        record.validate({**good, "R": True}, require="key")
    with pytest.raises(SchemaError, match="columns missing: seed"):
        record.validate(good, require="run")
    record.validate({**good, "R": float("nan"), "x": None}, require="key")  # NaN and None: ok


def test_column_lookups_fail_loudly_for_unknown_names():
    assert record.column("R") == "R" and record.column("lnGamma") == "lnGamma"
    with pytest.raises(SchemaError, match="column 'R_top' is not in the record schema"):
        record.column("R_top")
    import pandas as pd

    df = pd.DataFrame({"R": [0.1]})
    with pytest.raises(SchemaError):
        stats.numeric(df, "R_top")
    assert np.isnan(stats.numeric(df, "Gamma")).all()  # declared but absent: all NaN


def test_schema_facts():
    assert list(record.PAIRS) == ["".join(p) for p in resonance.PAIRS]
    assert set(record.VOLATILE) == {c for c in record.COLUMNS if c.startswith("time_")} | {
        "host",
        "wall_time",
        "shard",
    }
    assert all(c.stage in record.STAGES for c in record.COLUMNS.values())
    assert all(c.meaning for c in record.COLUMNS.values())
    md = record.columns_markdown()
    # the reference documents the built-in schema (not user models declared by other tests)
    user = {n for fam, names in record.MODEL_PARAMETERS.items() if ":" in fam for n in names}
    builtin = {n for fam, names in record.MODEL_PARAMETERS.items() if ":" not in fam for n in names}
    for name in [*record.COLUMNS, *record.DERIVED]:
        if name in user - builtin:
            assert f"| `{name}` |" not in md, name
            continue
        assert f"| `{name}` |" in md, name


def test_shards_carry_the_record_version_and_newer_ones_are_refused(tmp_path):
    run_ensemble(tmp_path, L=[4], alpha=[1.0], samples=1, progress=False)
    (p,) = shard_files(tmp_path)
    header, recs = read_shard(p)
    assert header["record_version"] == record.RECORD_VERSION
    newer = write_shard(tmp_path, "x", "R", 4, 1.0, [dict(recs[0], sample=5)])
    text = newer.read_text().replace(
        f'"record_version":{record.RECORD_VERSION}', f'"record_version":{record.RECORD_VERSION + 1}'
    )
    lines = text.splitlines()
    import hashlib

    body = ("\n".join(lines[:-1]) + "\n").encode()
    lines[-1] = json.dumps(
        {"end": True, "records": 1, "sha256": hashlib.sha256(body).hexdigest()},
        separators=(",", ":"),
    )
    newer.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="newer than this package"):
        read_shard(newer)
    with pytest.raises(InputError, match="upgrade mbl-avalanche"):
        run_ensemble(tmp_path, L=[4], alpha=[1.0], samples=1, progress=False)
    assert newer.exists()  # never quarantined as corrupt


def test_table_dtypes_follow_the_schema_with_holes(tmp_path, monkeypatch):
    monkeypatch.setenv(FAIL_ENV, "4:1.0:0")
    run_ensemble(tmp_path, L=[4], alpha=[1.0], samples=2, progress=False)
    df = load_run(tmp_path)
    assert str(df["mu"].dtype) == "Int64" and df["mu"].isna().sum() == 1  # failed: no mu
    assert str(df["trusted_AB"].dtype) == "boolean"
    assert str(df["sample"].dtype) == "int64" and str(df["Gamma"].dtype) == "float64"


def test_sample_json_columns_are_the_schema(capsys):
    assert main(["sample", "--L", "5", "--alpha", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) <= set(record.COLUMNS)
    record.validate({k: v for k, v in out.items() if v is not None}, require="sample")


def test_result_objects_have_short_reprs():
    r = analyze_sample(FloquetModel(L=8, alpha=30.0), 0)
    for obj in (r, r.certificate, r.resonance, r.spectrum, r.resonance.demixings["AB"]):
        text = repr(obj)
        assert len(text) < 1200, (type(obj).__name__, len(text))
        assert "ndarray" in text or type(obj).__name__ == "Certificate"
    assert "Gamma=" in repr(r) and "case=" in repr(r)


def _rewrite_header(path, **changes):
    """Rewrite a shard's header and recompute its checksum (an intact shard of another kind)."""
    import hashlib

    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header.update(changes)
    lines[0] = json.dumps(header, separators=(",", ":"))
    body = ("\n".join(lines[:-1]) + "\n").encode()
    footer = {"end": True, "records": len(lines) - 2, "sha256": hashlib.sha256(body).hexdigest()}
    path.write_text("\n".join(lines[:-1]) + "\n" + json.dumps(footer) + "\n")


def test_intact_shards_of_another_schema_are_refused_everywhere(tmp_path):
    from mbl_avalanche.table import load_table

    for name in ("a", "b"):
        run_ensemble(tmp_path / name, L=[4], alpha=[1.0], samples=2, chunk=2, progress=False)
    (p,) = shard_files(tmp_path / "b")
    _rewrite_header(p, record_version="2")
    with pytest.raises(InputError, match="record_version='2' is not an integer"):
        load_table(tmp_path)  # a folder of runs: the bad one is not silently left out
    _rewrite_header(p, record_version=record.RECORD_VERSION)
    lines = p.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["Gamma"] = "fast"
    lines[1] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    _rewrite_header(p)
    with pytest.raises(InputError, match="is not of dtype float"):
        run_ensemble(tmp_path / "b", L=[4], alpha=[1.0], samples=2, chunk=2, progress=False)
    assert p.exists() and not (tmp_path / "b" / "shards" / "corrupt").exists()
    assert main(["table", str(tmp_path / "b")]) == 2


def test_a_folder_that_is_not_a_run_is_said_so(tmp_path, capsys):
    from mbl_avalanche.errors import NotARunDirectory

    (tmp_path / "x").mkdir()
    with pytest.raises(NotARunDirectory, match="not a run directory"):
        load_run(tmp_path / "x")
    assert main(["table", str(tmp_path / "x")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_renamed_functions_still_work_with_a_deprecation_warning(tmp_path):
    from mbl_avalanche.analysis import circuit_apply
    from mbl_avalanche.report import load_table

    model = FloquetModel(L=4, alpha=3.0)
    with pytest.warns(DeprecationWarning, match="model.circuit"):
        apply = circuit_apply(model, 0)
    x = np.eye(16, dtype=complex)
    np.testing.assert_allclose(apply(x), model.unitary(0), rtol=0, atol=1e-15)
    run_ensemble(tmp_path, L=[4], alpha=[1.0], samples=1, progress=False)
    with pytest.warns(DeprecationWarning, match="mbl_avalanche.table.load_table"):
        assert len(load_table(tmp_path)) == 1
