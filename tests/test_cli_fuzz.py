"""Bad input everywhere: every subcommand, driven with generated bad values (hypothesis).

For each bad value the contract of the command line (``mbl_avalanche.cli``) is checked: exit code
2, exactly one line on stderr that starts ``mbl-avalanche: error:`` (``mbl-avalanche COMMAND:
error:`` for what argparse itself refuses) and names the offending value or its flag, no
traceback, and nothing written into an existing run directory (its files, sizes and mtimes are
compared before and after).  ``main`` runs in-process; the small run directory is built once.
The plain tests at the end pin each reported case (issue 13, item 3) and the same checks in the
Python API.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbl_avalanche.cli import main
from mbl_avalanche.ensemble import run_ensemble
from mbl_avalanche.errors import InputError, InputTypeError

# a generous example count per subcommand; the whole file runs in well under a minute
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)

ERROR_LINE = re.compile(r"^mbl-avalanche(?: [a-z-]+)?: error: ")


# --------------------------------------------------------------------------------------------
# The prepared run directory and the bad files, once per module
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Files:
    """Paths of the module's fixtures (the run directory and files of every bad kind)."""

    run: Path
    root: Path
    regular: Path  # a regular file (a path "under" it is not a folder)
    empty: Path
    binary: Path
    bad_npy: dict[str, Path]
    bad_toml: dict[str, Path]
    good_png: Path

    def __repr__(self) -> str:
        return f"Files({self.root})"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    root = tmp_path_factory.mktemp("fuzz")
    run = root / "run"
    run_ensemble(run, L=(6,), alpha=(30.0,), samples=2, workers=1, progress=False)
    regular = root / "regular.txt"
    regular.write_text("not a folder\n")
    empty = root / "empty.csv"
    empty.write_bytes(b"")
    binary = root / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    for name in ("binary.parquet", "binary.json", "binary.npy"):
        (root / name).write_bytes(b"\x93NUMPY\xff\x00" + bytes(range(200, 256)))
    u8 = np.eye(8, dtype=complex)
    arrays: dict[str, object] = {
        "vector": np.ones(4),
        "rect": np.ones((2, 4)),
        "three": np.eye(3),
        "scalar": np.array(1.0),
        "cube": np.ones((2, 2, 2)),
        "strings": np.array([["a", "b"], ["c", "d"]]),
        "nonunitary": 2 * np.eye(4),
        "nonhermitian": np.triu(np.ones((4, 4))),
        "nan": np.full((4, 4), np.nan),
        "bool": np.eye(4, dtype=bool),
        "L3": u8,
        "L7": np.eye(128, dtype=complex),
    }
    bad_npy = {}
    for name, a in arrays.items():
        bad_npy[name] = root / f"{name}.npy"
        np.save(bad_npy[name], a)
    bad_npy["objects"] = root / "objects.npy"
    np.save(bad_npy["objects"], np.array([None, 1], dtype=object), allow_pickle=True)
    bad_npy["two"] = root / "two.npz"
    np.savez(bad_npy["two"], a=np.eye(4), b=np.eye(4))
    bad_npy["empty"] = empty
    bad_npy["binary"] = root / "binary.npy"
    bad_npy["folder"] = root
    bad_npy["missing"] = root / "missing.npy"
    grid = "L = [6]\nalpha = [30.0]\nsamples = 2\n"
    tomls = {
        "syntax": "L = [6\n",
        "garbage": "this is not toml at all ===\n",
        "unknown": grid + "bogus = 1\n",
        "L_string": 'L = "six"\nalpha = [30.0]\nsamples = 2\n',
        "L_nested": "L = [[6]]\nalpha = [30.0]\nsamples = 2\n",
        "samples_neg": "L = [6]\nalpha = [30.0]\nsamples = -1\n",
        "samples_float": "L = [6]\nalpha = [30.0]\nsamples = 1.5\n",
        "samples_huge": "L = [6]\nalpha = [30.0]\nsamples = 100000000000\n",
        "params_int": grid + "params = 5\n",
        "params_strings": 'L = [6]\nsamples = 2\nmodel = "heisenberg"\nparams = { W = "a" }\n',
        "method_list": grid + "method = [1]\n",
        "seed_float": grid + "seed = 1.5\n",
        "seed_neg": grid + "seed = -3\n",
        "alpha_zero": "L = [6]\nalpha = [0.0]\nsamples = 2\n",
        "alpha_tiny": "L = [6]\nalpha = [1e-300]\nsamples = 2\n",
        "alpha_nan": "L = [6]\nalpha = [nan]\nsamples = 2\n",
        "threads_neg": grid + "threads = -1\n",
        "workers_neg": grid + "workers = -1\n",
        "model_int": grid + "model = 5\n",
        "dask_int": grid + "dask_scheduler = 5\n",
        "empty": "",
    }
    bad_toml = {}
    for name, text in tomls.items():
        bad_toml[name] = root / f"{name}.toml"
        bad_toml[name].write_text(text)
    bad_toml["binary"] = binary
    bad_toml["npy"] = bad_npy["L3"]
    bad_toml["folder"] = root
    bad_toml["missing"] = root / "missing.toml"
    return Files(run, root, regular, empty, binary, bad_npy, bad_toml, root / "out.png")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: (size, mtime in ns)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st_ = p.stat()
            out[str(p.relative_to(folder))] = (st_.st_size if p.is_file() else 0, st_.st_mtime_ns)
    return out


def call(argv: Sequence[str], capfd) -> tuple[int, str, str]:
    """``main(argv)`` in-process: ``(exit code, stdout, stderr)``; warnings are recorded too."""
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refuses its own values this way
            code = exc.code if isinstance(exc.code, int) else 2
    out, err = capfd.readouterr()
    leaked = [w for w in caught if issubclass(w.category, RuntimeWarning | UserWarning)]
    assert not leaked, f"{argv}: leaked warnings {[str(w.message) for w in leaked]}"
    return code, out, err


def assert_refused(argv: Sequence[str], needles: Sequence[str], files: Files, capfd) -> str:
    """The contract: exit 2, one error line naming a needle, no traceback, run dir untouched."""
    before = snapshot(files.run)
    code, _, err = call(argv, capfd)
    assert snapshot(files.run) == before, f"{argv}: wrote into the run directory"
    assert code == 2, f"{argv}: exit {code}, stderr {err!r}"
    assert "Traceback" not in err, f"{argv}: {err}"
    assert err.endswith("\n") and err.count("\n") == 1, f"{argv}: stderr not one line: {err!r}"
    assert ERROR_LINE.match(err), f"{argv}: {err!r}"
    wanted = [n for n in needles if n]
    assert any(n in err for n in wanted), f"{argv}: none of {wanted} in {err!r}"
    return err


#: What an error about a config file names: the file, or the key whose value is bad.
CONFIG_NEEDLES = [
    "config file",
    "config key",
    "L=",
    "samples=",
    "params",
    "method=",
    "seed=",
    "alpha=",
    "threads=",
    "workers=",
    "model=",
    "dask_scheduler=",
    "W=",
    "not given",
]


def needles_for(flag: str, value: str) -> list[str]:
    """What the error line must name: the flag, ``name=``, or the value (if it says enough)."""
    name = flag.lstrip("-").replace("-", "_")
    out = [flag, f"{name}=", f"{name} "] + ([name] if len(name) >= 4 else [])
    if flag == "--config":
        out += CONFIG_NEEDLES
    v = str(value)
    out.append(f"arguments: {v}")  # argparse: "unrecognized arguments: VALUE"
    if len(v) >= 3 and "\n" not in v:
        out.append(v)
    return out


# --------------------------------------------------------------------------------------------
# Strategies of bad values (as command-line tokens)
# --------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Text as a command line can carry it (no NUL byte).
TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=12)
HUGE = st.integers(min_value=2**63, max_value=10**40).map(str)
NOT_A_NUMBER = st.one_of(
    st.sampled_from(["x", "", "1e", "one", "0x1g", "[1]", "1,2", "--", "\n", "é", "1 2"]),
    TEXT.filter(lambda t: not _is_number(t)),
)
NON_INT = st.one_of(
    NOT_A_NUMBER,
    st.sampled_from(["1.5", "nan", "inf", "1e3", "2.0", "-0.5", "1_000_000x"]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()).map(repr),
)
NON_FINITE = st.sampled_from(["nan", "inf", "-inf", "NaN", "1e999", "-1e999"])


def ints_below(k: int) -> st.SearchStrategy[str]:
    """Integers below ``k`` (and every non-integer)."""
    return st.one_of(st.integers(max_value=k - 1).map(str), NON_INT)


def ints_outside(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(max_value=lo - 1).map(str), st.integers(min_value=hi + 1).map(str), NON_INT
    )


def floats_not_above(x: float) -> st.SearchStrategy[str]:
    """Numbers ``<= x``, non-finite values and non-numbers."""
    return st.one_of(
        st.floats(max_value=x, allow_nan=False, allow_infinity=False).map(repr),
        NON_FINITE,
        NOT_A_NUMBER,
    )


NOT_FINITE_NUMBER = st.one_of(NON_FINITE, NOT_A_NUMBER)


def bad_files(files_attr: str, *names: str):
    """Paths of the prepared bad files (resolved from the fixture at draw time)."""
    return st.sampled_from(names).map(lambda n: (files_attr, n))


@dataclass(frozen=True)
class Case:
    """Base arguments of a subcommand (valid, cheap) and the flag whose value is made bad."""

    base: tuple[str, ...]
    flag: str
    values: st.SearchStrategy
    replace: bool = False  # True: the value replaces a positional placeholder "{}" in base


def resolve(value: object, files: Files) -> str:
    if isinstance(value, tuple):
        kind, name = value
        return str(getattr(files, kind)[name])
    text = str(value)
    for key in ("regular", "root", "run", "empty"):  # the placeholders of the fixed values
        text = text.replace("{" + key + "}", str(getattr(files, key)))
    return text


def build(case: Case, value: object, files: Files) -> tuple[list[str], str]:
    v = resolve(value, files)
    base = [resolve(b, files) for b in case.base]
    if case.replace:
        return [v if b == "@" else b for b in base], v
    return [*base, case.flag, v], v


BAD_PLOT = st.sampled_from(
    ["/proc/x.png", "{regular}/x.png", "{root}/x.txt", "/nonexistent/dir/x.png", "{root}", "x"]
)
BAD_DIR = st.sampled_from(["/proc/x", "{regular}/sub", "{regular}", "/proc/self/nonexistent/a"])
BAD_TABLE = st.one_of(
    st.sampled_from(
        ["{empty}", "{root}/binary.csv", "{root}/binary.parquet", "{root}/binary.json"]
    ),
    st.sampled_from(["{regular}", "{root}/missing.csv", "{root}/two.npz", "/nonexistent"]),
)

SAMPLE = ("sample", "--L", "4", "--alpha", "30")
SAMPLE_CASES = [
    Case(SAMPLE, "--L", st.one_of(ints_below(2), st.integers(31, 10**30).map(str))),
    Case(SAMPLE, "--alpha", st.one_of(floats_not_above(0.0), st.sampled_from(["1e-300", "1e-7"]))),
    Case(SAMPLE, "--sample", st.one_of(ints_below(0), HUGE)),
    Case(SAMPLE, "--seed", st.one_of(ints_below(0), HUGE)),
    Case(
        SAMPLE, "--gue-scale", st.one_of(floats_not_above(0.0), st.sampled_from(["1e9", "1e300"]))
    ),
    Case(
        SAMPLE, "--layer-order", st.one_of(TEXT, st.just("odd")).filter(lambda t: "first" not in t)
    ),
    Case(SAMPLE, "--method", TEXT.filter(lambda t: t not in ("auto", "fast", "schur"))),
    Case(SAMPLE, "--backend", TEXT.filter(lambda t: t != "cpu" and t != "gpu")),
    Case(
        ("sample", "--L", "4", "--alpha", "30"),
        "--model",
        st.one_of(
            st.sampled_from(
                ["bogus", "os:path", "no_such_module_xyz:X", "heisenberg", ":", "a:b:c"]
            ),
            TEXT.filter(lambda t: t not in ("floquet", "planted")),
        ),
    ),
    Case(("sample", "--model", "heisenberg", "--L", "4"), "--W", floats_not_above(-1e-300)),
    Case(("sample", "--model", "heisenberg", "--L", "4", "--W", "3"), "--Delta", NOT_FINITE_NUMBER),
    Case(
        ("sample", "--model", "planted", "--L", "4"),
        "--param",
        st.sampled_from(
            [
                "x",
                "=1",
                "epsilon=",
                "epsilon=abc",
                "epsilon=1,2",
                "1bad=3",
                "epsilon=0",
                "epsilon=nan",
                "flip_distance=5",
                "flip_distance=1.5",
                "bogus=1",
                "eta=-1",
            ]
        )
        | TEXT.filter(lambda t: "=" not in t),
    ),
    Case(
        ("sample",),
        "--unitary",
        bad_files(
            "bad_npy",
            *[
                "vector",
                "rect",
                "three",
                "scalar",
                "cube",
                "strings",
                "nonunitary",
                "nan",
                "objects",
                "two",
                "empty",
                "binary",
                "folder",
                "missing",
                "bool",
            ],
        ),
    ),
    Case(
        ("sample",),
        "--hamiltonian",
        bad_files(
            "bad_npy",
            *[
                "vector",
                "rect",
                "three",
                "strings",
                "nonhermitian",
                "nan",
                "two",
                "empty",
                "binary",
                "missing",
            ],
        ),
    ),
    Case(("sample", "--unitary", ("bad_npy", "L3")), "--L", ints_outside(3, 3)),
]

INSPECT = ("inspect", "--L", "4", "--alpha", "30", "--plot", "{root}/ok.png")
INSPECT_CASES = [
    Case(("inspect", "--L", "4", "--alpha", "30"), "--plot", BAD_PLOT),
    Case(INSPECT, "--currents", ints_outside(1, 1000)),
    Case(INSPECT, "--alpha", floats_not_above(0.0)),
    Case(
        ("inspect", "--plot", "{root}/ok.png", "--unitary", ("bad_npy", "L3")),
        "--L",
        ints_outside(3, 3),
    ),
]

DYN = ("dynamics", "--L", "2", "--alpha", "8", "--gamma", "1e-2")
DYN_CASES = [
    Case(("dynamics", "--L", "2", "--alpha", "8"), "--gamma", floats_not_above(0.0)),
    Case(
        ("dynamics", "--alpha", "8", "--gamma", "1e-2"),
        "--L",
        st.one_of(ints_below(2), st.integers(7, 10**9).map(str)),
    ),
    Case(DYN, "--times", ints_outside(2, 10**5)),
    Case(DYN, "--modes", ints_outside(1, 32)),
    Case(DYN, "--n-relax", st.one_of(floats_not_above(0.0), st.sampled_from(["1e300", "1e200"]))),
    Case(
        DYN,
        "--initial",
        st.one_of(
            st.sampled_from(["bogus", "", "012", "0101", "up "]),
            TEXT.filter(lambda t: t not in ("up", "tau") and not re.fullmatch("[01]{2}", t)),
        ),
    ),
    Case(DYN, "--sweep", st.one_of(floats_not_above(0.0))),
    Case(DYN, "--plot", st.one_of(BAD_PLOT, st.sampled_from(["x.xyz", "{root}/x.jpg2"]))),
    Case(DYN, "--method", TEXT.filter(lambda t: t not in ("auto", "spectral", "step"))),
    Case(
        ("dynamics", "--gamma", "1e-2"),
        "--unitary",
        bad_files(
            "bad_npy", "vector", "three", "nonunitary", "L7", "empty", "binary", "two", "missing"
        ),
    ),
    Case(
        ("dynamics", "--gamma", "1e-2"),
        "--hamiltonian",
        bad_files("bad_npy", "nonhermitian", "three", "L7", "empty", "strings"),
    ),
    Case(
        ("dynamics", "--gamma", "1e-2", "--unitary", ("bad_npy", "L3")), "--L", ints_outside(3, 3)
    ),
]

RUN = ("run", "{run}", "--L", "6", "--alpha", "30", "--samples", "2")
RUN_CASES = [
    Case(RUN, "--samples", st.one_of(ints_below(0), st.integers(10**7 + 1, 10**30).map(str))),
    Case(
        ("run", "{run}", "--alpha", "30", "--samples", "2"),
        "--L",
        st.one_of(ints_below(2), st.integers(63, 10**30).map(str)),
    ),
    Case(
        ("run", "{run}", "--L", "6", "--samples", "2"),
        "--alpha",
        st.one_of(floats_not_above(0.0), st.sampled_from(["1e-300"])),
    ),
    Case(RUN, "--seed", st.one_of(ints_below(0), HUGE)),
    Case(RUN, "--gue-scale", st.one_of(floats_not_above(0.0), st.sampled_from(["1e300"]))),
    Case(RUN, "--method", TEXT.filter(lambda t: t not in ("auto", "fast", "schur"))),
    Case(RUN, "--chunk", ints_below(0)),
    Case(RUN, "--threads", ints_below(0)),
    Case(RUN, "--workers", ints_below(0)),
    Case(RUN, "--claim-timeout", st.one_of(floats_not_above(0.0), st.just("inf"))),
    Case(RUN, "--layer-order", TEXT.filter(lambda t: "first" not in t)),
    Case(
        RUN,
        "--model",
        st.sampled_from(["bogus", "os:path", "no_such_module_xyz:X", "heisenberg", "planted"]),
    ),
    Case(
        RUN,
        "--param",
        st.sampled_from(["x", "=1", "alpha=", "alpha=abc", "W=1", "alpha=30", "1bad=3"]),
    ),
    Case(
        RUN,
        "--shard",
        st.one_of(
            st.sampled_from(["5/2", "x", "1/0", "-1/2", "1", "a/b", "1/2/3", "2/2", "/", ""]),
            TEXT.filter(lambda t: not re.fullmatch(r"\s*\d+\s*/\s*\d+\s*", t)),
        ),
    ),
    Case(
        ("run", "{run}"),
        "--config",
        bad_files(
            "bad_toml",
            *[
                "syntax",
                "garbage",
                "unknown",
                "L_string",
                "L_nested",
                "samples_neg",
                "samples_float",
                "samples_huge",
                "params_int",
                "params_strings",
                "method_list",
                "seed_float",
                "seed_neg",
                "alpha_zero",
                "alpha_tiny",
                "alpha_nan",
                "threads_neg",
                "workers_neg",
                "model_int",
                "dask_int",
                "empty",
                "binary",
                "npy",
                "folder",
                "missing",
            ],
        ),
    ),
    Case(
        ("run", "@", "--L", "6", "--alpha", "30", "--samples", "1", "--no-progress"),
        "OUTDIR",
        st.sampled_from(["/proc/x", "{regular}/sub", "{regular}"]),
        replace=True,
    ),
]

TABLE_CASES = [
    Case(
        ("table", "{run}"),
        "-o",
        st.sampled_from(
            ["/nonexistent/dir/x.parquet", "/proc/x.csv", "{regular}/x.csv", "{run}", "{root}"]
        ),
    ),
    Case(("table", "{run}"), "--format", TEXT.filter(lambda t: t not in ("csv", "parquet"))),
    Case(
        ("table", "@"),
        "OUTDIR",
        st.sampled_from(["{regular}", "{root}/missing", "{empty}", "/proc/x", "{root}/two.npz"]),
        replace=True,
    ),
]

STATUS_CASES = [
    Case(("status", "{run}"), "--workers", ints_below(1)),
    Case(
        ("status", "@"),
        "OUTDIR",
        st.sampled_from(["{regular}", "{root}/missing", "{empty}", "/proc/x", "{root}"]),
        replace=True,
    ),
]

SLURM = ("slurm-script", "{run}", "--L", "6", "--alpha", "30", "--samples", "10", "--array", "2")
SLURM_TIME = re.compile(r"\d+(?::\d+){0,2}|\d+-\d+(?::\d+){0,2}")
SLURM_CASES = [
    Case(
        SLURM,
        "--time",
        st.one_of(
            st.sampled_from(["bogus", "1:60", "1-24", "1-2:3:4:5", "-5", "1h", "", " "]),
            TEXT.filter(lambda t: not SLURM_TIME.fullmatch(t.strip())),
        ),
    ),
    Case(SLURM[:-2], "--array", ints_below(1)),
    Case(SLURM, "--cpus-per-task", st.one_of(ints_below(1), st.integers(10**6, 10**30).map(str))),
    Case(SLURM, "--max-running", ints_below(1)),
    Case(SLURM, "--partition", st.sampled_from(["a b", "", "x\ny", "\t"])),
    Case(
        ("slurm-script", "{run}", "--alpha", "30", "--samples", "10", "--array", "2"),
        "--L",
        st.one_of(ints_below(2), st.integers(20, 62).map(str)),
    ),
    Case(SLURM, "--samples", st.one_of(ints_below(0), st.integers(10**7 + 1, 10**30).map(str))),
    Case(
        ("slurm-script", "{run}", "--array", "2"),
        "--config",
        bad_files("bad_toml", "syntax", "binary", "npy", "samples_huge", "missing", "alpha_tiny"),
    ),
]

FIG = ("figures", "{run}")
FIG_CASES = [
    Case(
        FIG,
        "--fig4-L",
        st.one_of(st.integers(max_value=5).map(str), st.integers(7, 10**6).map(str), NON_INT),
    ),
    Case(
        FIG,
        "--fig4-alpha",
        st.one_of(
            NOT_FINITE_NUMBER, st.floats(-1e6, 29.0).map(repr), st.floats(31.0, 1e300).map(repr)
        ),
    ),
    Case(FIG, "--out", BAD_DIR),
    Case(FIG, "--format", TEXT.filter(lambda t: t not in ("png", "pdf", "svg"))),
    Case(FIG, "--only", TEXT.filter(lambda t: t not in ("fig2_R", "fig4_resonant_set"))),
    Case(FIG, "--model", st.sampled_from(["bogus", "heisenberg", "x\ny"])),
    Case(FIG, "--mbl-min", NOT_FINITE_NUMBER),
    Case(FIG, "--thermal-max", NOT_FINITE_NUMBER),
    Case(FIG, "--mbl-values", NOT_FINITE_NUMBER),
    Case(("figures", "@"), "OUTDIR", BAD_TABLE, replace=True),
]

REPORT = ("report", "{run}")
BOOT_CASES = [
    ("--n-boot", st.one_of(ints_below(1), st.integers(10**6 + 1, 10**30).map(str))),
    ("--level", st.one_of(floats_not_above(0.0), st.floats(min_value=1.0).map(repr))),
    ("--boot-seed", ints_below(0)),
]
REPORT_CASES = [
    *[Case(REPORT, f, v) for f, v in BOOT_CASES],
    Case(
        REPORT,
        "--fig4-L",
        st.one_of(st.integers(max_value=5).map(str), st.integers(7, 10**6).map(str), NON_INT),
    ),
    Case(REPORT, "--fig4-alpha", st.one_of(NOT_FINITE_NUMBER, st.floats(31.0, 1e300).map(repr))),
    Case(REPORT, "--out", BAD_DIR),
    Case(("report", "@"), "OUTDIR", BAD_TABLE, replace=True),
]

LANDMARK = ("landmark", "{run}")
LANDMARK_CASES = [
    *[Case(LANDMARK, f, v) for f, v in BOOT_CASES],
    Case(LANDMARK, "--top", ints_below(2)),
    Case(
        LANDMARK,
        "--max-below-precision",
        st.one_of(
            NOT_FINITE_NUMBER,
            st.floats(max_value=-1e-9).map(repr),
            st.floats(min_value=1.0 + 1e-9).map(repr),
        ),
    ),
    Case(LANDMARK, "--plot", BAD_DIR),
    Case(LANDMARK, "--parameter", st.sampled_from(["bogus", "W", "", "x\ny"])),
    Case(LANDMARK, "--format", TEXT.filter(lambda t: t not in ("png", "pdf", "svg"))),
    Case(("landmark", "@"), "RUN", BAD_TABLE, replace=True),
]

REPRO = ("reproduce", "{root}/repro", "--dry-run")
REPRO_CASES = [
    *[Case(REPRO, f, v) for f, v in BOOT_CASES],
    Case(REPRO, "--samples", st.one_of(ints_below(1), st.integers(2 * 10**6, 10**30).map(str))),
    Case(REPRO, "--workers", ints_below(1)),
    Case(REPRO, "--seed", st.one_of(ints_below(0), HUGE)),
    Case(
        REPRO,
        "--preset",
        TEXT.filter(lambda t: t not in ("quick", "paper", "landmark", "landmark-quick")),
    ),
    Case(("reproduce", "{run}", "--dry-run"), "--samples", ints_below(1)),
    Case(
        ("reproduce", "@", "--dry-run"),
        "OUTDIR",
        st.sampled_from(["{regular}", "{regular}/sub"]),
        replace=True,
    ),
]

ALL_CASES = {
    "sample": SAMPLE_CASES,
    "inspect": INSPECT_CASES,
    "dynamics": DYN_CASES,
    "run": RUN_CASES,
    "table": TABLE_CASES,
    "status": STATUS_CASES,
    "slurm-script": SLURM_CASES,
    "figures": FIG_CASES,
    "report": REPORT_CASES,
    "landmark": LANDMARK_CASES,
    "reproduce": REPRO_CASES,
}


def cases(name: str) -> st.SearchStrategy[tuple[Case, object]]:
    return st.sampled_from(ALL_CASES[name]).flatmap(lambda c: c.values.map(lambda v: (c, v)))


def test_every_subcommand_is_fuzzed():
    from mbl_avalanche.cli import COMMAND_MODULES

    assert sorted(ALL_CASES) == sorted(m.replace("_", "-") for m in COMMAND_MODULES)


@pytest.mark.parametrize("command", sorted(ALL_CASES))
@FUZZ
@given(data=st.data())
def test_bad_values_are_one_line_errors(command, data, files, capfd):
    case, value = data.draw(cases(command), label="case")
    argv, v = build(case, value, files)
    assert_refused(argv, needles_for(case.flag, v), files, capfd)


# --------------------------------------------------------------------------------------------
# The reported cases, one by one (issue 13, item 3)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "{root}/o1", "--config", "{root}/binary.csv"], "not UTF-8"),
        (["run", "{root}/o2", "--config", "{root}/L3.npy"], "not UTF-8"),
        (["table", "{run}", "-o", "/nonexistent/dir/x.parquet"], "/nonexistent/dir"),
        (["figures", "{empty}"], "cannot be read"),
        (["inspect", "--L", "4", "--alpha", "30", "--plot", "/proc/x.png"], "/proc/x.png"),
        (["dynamics", "--L", "2", "--alpha", "8", "--gamma", "1e-3", "--plot", "x.xyz"], "x.xyz"),
        (
            ["run", "{root}/o3", "--L", "6", "--alpha", "30", "--samples", "100000000000"],
            "10,000,000",
        ),
        (["run", "{root}/o3", "--L", "11", "--alpha", "30", "--samples", "2000000"], "1,000,000"),
        (["sample", "--unitary", "{root}/L3.npy", "--L", "5"], "L=3"),
        (["inspect", "--unitary", "{root}/L3.npy", "--L", "5", "--plot", "{root}/a.png"], "L=3"),
        (
            [
                "slurm-script",
                "{root}/s",
                "--L",
                "6",
                "--alpha",
                "30",
                "--samples",
                "4",
                "--array",
                "2",
                "--time",
                "bogus",
            ],
            "--time 'bogus'",
        ),
        (
            [
                "slurm-script",
                "{root}/s",
                "--L",
                "30",
                "--alpha",
                "30",
                "--samples",
                "4",
                "--array",
                "2",
            ],
            "16.0 TiB",
        ),
        (["report", "{run}", "--fig4-L", "99", "--out", "{root}/rep"], "L values present are 6"),
        (["figures", "{run}", "--fig4-L", "99", "--out", "{root}/fig"], "L values present are 6"),
        (["sample", "--L", "4", "--alpha", "1e-300"], "alpha/gue_scale must be >= 1e-06"),
        (["run", "{root}/o4", "--L", "6", "--alpha", "1e-300", "--samples", "2"], "1e-06"),
    ],
)
def test_reported_cases(argv, needle, files, capfd):
    argv = [resolve(a, files) for a in argv]
    err = assert_refused(argv, [needle], files, capfd)
    assert needle in err
    for name in ("o1", "o2", "o3", "o4", "rep", "fig"):
        assert not (files.root / name).exists(), f"{argv} created {name}"


@pytest.mark.parametrize("good", ["90", "30:00", "12:00:00", "2-00", "2-12:30", "1-00:00:00", "0"])
def test_slurm_time_formats_accepted(good, files, capfd):
    argv = ["slurm-script", str(files.root / "s"), "--L", "6", "--alpha", "30", "--samples", "4"]
    code, out, err = call([*argv, "--array", "2", "--time", good], capfd)
    assert code == 0 and f"#SBATCH --time={good}\n" in out and err == ""


def test_slurm_array_beyond_the_tasks_is_clamped_with_a_warning(files, capfd):
    argv = ["slurm-script", str(files.root / "s"), "--L", "6", "--alpha", "30", "--samples", "10"]
    code, out, err = call([*argv, "--chunk", "1", "--array", "20"], capfd)
    assert code == 0 and "#SBATCH --array=0-9\n" in out
    assert err.count("\n") == 1 and "warning" in err and "--array 20" in err and "10 tasks" in err


def test_report_fig4_L_error_leaks_no_numpy_warning(files, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would be a traceback here
        err = assert_refused(
            ["report", str(files.run), "--fig4-L", "99", "--out", str(files.root / "r")],
            ["--fig4-L"],
            files,
            capfd,
        )
    assert "RuntimeWarning" not in err


def test_other_identity_refused_without_writing(files, capfd):
    assert_refused(
        ["run", str(files.run), "--L", "6", "--alpha", "30", "--samples", "2", "--seed", "5"],
        ["seed"],
        files,
        capfd,
    )


# --------------------------------------------------------------------------------------------
# The Python API shares the checks (models validate at construction)
# --------------------------------------------------------------------------------------------


def test_floquet_seed_must_be_an_integer():
    from mbl_avalanche import FloquetModel

    with pytest.raises(InputTypeError, match=r"seed=1\.5"):
        FloquetModel(L=6, alpha=30, seed=1.5)
    with pytest.raises(TypeError):  # a TypeError as well as an InputError
        FloquetModel(L=6, alpha=30, seed=True)
    with pytest.raises(InputError, match="2\\*\\*63"):
        FloquetModel(L=6, alpha=30, seed=2**64)
    assert FloquetModel(L=6, alpha=30, seed=np.int64(1)).seed == 1


@pytest.mark.parametrize("alpha", ["30", b"30", None, [30.0], 1 + 2j])
def test_floquet_alpha_type_refused_at_construction(alpha):
    from mbl_avalanche import FloquetModel

    with pytest.raises(InputTypeError, match="alpha="):
        FloquetModel(L=6, alpha=alpha)


@pytest.mark.parametrize("alpha", [0.0, -1.0, math.nan, math.inf, 1e-300, 9e-7])
def test_floquet_alpha_value_refused(alpha):
    from mbl_avalanche import FloquetModel

    with pytest.raises(InputError, match="alpha="):
        FloquetModel(L=6, alpha=alpha)


def test_floquet_alpha_bound_follows_gue_scale():
    from mbl_avalanche import FloquetModel
    from mbl_avalanche.models.floquet import ALPHA_MIN

    FloquetModel(L=4, alpha=ALPHA_MIN)  # the bound itself is allowed
    FloquetModel(L=4, alpha=1e-8, gue_scale=1e-3)
    with pytest.raises(InputError, match="gue_scale=1000"):
        FloquetModel(L=4, alpha=1e-4, gue_scale=1e3)
    with pytest.raises(InputTypeError, match="gue_scale="):
        FloquetModel(L=4, alpha=30, gue_scale="1")


def test_floquet_knob_values_are_normalised_without_changing_samples():
    from mbl_avalanche import FloquetModel

    a, b = FloquetModel(L=4, alpha=30), FloquetModel(L=4, alpha=np.float64(30.0))
    assert isinstance(a.alpha, float) and a == b
    np.testing.assert_array_equal(a.unitary(3), b.unitary(3))


def test_huge_L_refused_before_allocation(monkeypatch):
    from mbl_avalanche import FloquetModel, resources
    from mbl_avalanche.models import HeisenbergModel, PlantedModel

    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 8 * 2**30)
    with pytest.raises(InputError, match=r"L=30 .* needs 18446744073709551616 bytes .* available"):
        FloquetModel(L=30, alpha=30).unitary(0)
    with pytest.raises(InputError, match="L=30"):
        HeisenbergModel(L=30, W=5.0).operator(0)
    with pytest.raises(InputError, match="L=30"):
        HeisenbergModel(L=30, W=5.0).sector_blocks(0)
    with pytest.raises(InputError, match="L=20"):
        PlantedModel(L=20).operator(0)
    with pytest.raises(InputError, match="L=63"):
        FloquetModel(L=63, alpha=30)


def test_rate_needs_a_positive_gamma():
    from mbl_avalanche import FloquetModel, analyze_sample

    r = analyze_sample(FloquetModel(L=4, alpha=30), 0)
    assert r.rate(1e-3) == pytest.approx(3e-3 * r.Gamma)
    for bad in (-1, 0, math.nan, math.inf):
        with pytest.raises(InputError, match="gamma="):
            r.rate(bad)
    with pytest.raises(InputTypeError, match="gamma="):
        r.rate("1e-3")


def test_analyze_sample_needs_a_model():
    from mbl_avalanche import analyze_sample

    with pytest.raises(InputTypeError, match="Model instance"):
        analyze_sample("floquet", 0)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"W": math.inf}, "W=inf"),
        ({"W": -1.0}, "W=-1"),
        ({"W": "3"}, "W='3'"),
        ({"W": 3.0, "Delta": math.nan}, "Delta=nan"),
        ({"W": 3.0, "seed": 2.5}, "seed=2.5"),
        ({"W": 3.0, "bogus": 1.0}, "'bogus'"),
    ],
)
def test_heisenberg_parameters(kwargs, needle):
    from mbl_avalanche.models import HeisenbergModel

    with pytest.raises(InputError, match=re.escape(needle)):
        HeisenbergModel(L=6, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"epsilon": "0.1"}, "epsilon='0.1'"),
        ({"epsilon": 0.0}, "epsilon=0.0"),
        ({"eta": math.nan}, "eta=nan"),
        ({"flip_distance": 9}, "flip_distance=9"),
    ],
)
def test_planted_parameters(kwargs, needle):
    from mbl_avalanche.models import PlantedModel

    with pytest.raises(InputError, match=re.escape(needle)):
        PlantedModel(L=5, **kwargs)


def test_config_validates_every_cell_by_its_model():
    from mbl_avalanche.ensemble import make_config

    with pytest.raises(InputError, match="alpha=1e-300"):
        make_config(L=[6], alpha=[30.0, 1e-300], samples=2)
    with pytest.raises(InputError, match="flip_distance=2"):
        make_config(L=[3, 6], model="planted", params={"flip_distance": [2.0]}, samples=2)
    with pytest.raises(InputTypeError, match="params="):
        make_config(L=[6], alpha=[30.0], samples=2, params=5)


def test_config_size_limits():
    from mbl_avalanche.ensemble import make_config
    from mbl_avalanche.ensemble.config import MAX_CELLS, MAX_SAMPLES, MAX_TASKS

    assert (MAX_CELLS, MAX_SAMPLES, MAX_TASKS) == (10**4, 10**7, 10**6)
    make_config(L=[6], alpha=[30.0], samples=MAX_SAMPLES)  # at the limit: allowed
    with pytest.raises(InputError, match="samples=10000001"):
        make_config(L=[6], alpha=[30.0], samples=MAX_SAMPLES + 1)
    with pytest.raises(InputError, match="tasks"):
        make_config(L=[6], alpha=[30.0], samples=MAX_TASKS + 1, chunk=1)
    make_config(L=[6], alpha=[30.0], samples=MAX_TASKS + 1, chunk=2)
    with pytest.raises(InputError, match="cells"):
        make_config(L=[6, 7], alpha=[float(a) for a in range(1, 5002)], samples=1)


def test_usable_threads_clamps_to_the_cores(monkeypatch):
    from mbl_avalanche import resources

    monkeypatch.setattr(resources, "cpu_count", lambda: 2)
    assert resources.usable_threads(1) == (1, None)
    assert resources.usable_threads(0, workers=2) == (1, None)
    threads, note = resources.usable_threads(1000)
    assert threads == 2 and note is not None and "threads=1000" in note and "\n" not in note


def test_bootstrap_settings_checked_in_the_report_api():
    import pandas as pd

    from mbl_avalanche.report import MAX_N_BOOT, check_claims

    df = pd.DataFrame({"L": [6, 6], "alpha": [30.0, 30.0], "Gamma": [1e-9, 2e-9]})
    with pytest.raises(InputError, match="n_boot="):
        check_claims(df, n_boot=MAX_N_BOOT + 1)
    with pytest.raises(InputError, match="L=99"):
        check_claims(df, L=99)
    with pytest.raises(InputError, match="alpha=5"):
        check_claims(df, alpha=5.0)


def test_threads_beyond_the_cores_warn_and_clamp(tmp_path, capfd, monkeypatch):
    """``run --threads 1000`` on 2 cores: one warning line, 2 BLAS threads recorded."""
    from mbl_avalanche import resources
    from mbl_avalanche.ensemble import load_run, runner

    if "usable_threads" not in vars(runner):
        pytest.xfail("needs plan_workers to clamp with resources.usable_threads (runner.py)")
    monkeypatch.setattr(resources, "cpu_count", lambda: 2)
    monkeypatch.setattr(runner, "cpu_count", lambda: 2)
    argv = ["run", str(tmp_path / "r"), "--L", "4", "--alpha", "30", "--samples", "1"]
    code, _, err = call([*argv, "--threads", "1000", "--no-progress"], capfd)
    assert code == 0
    warning = [ln for ln in err.splitlines() if "threads=1000" in ln]
    assert len(warning) == 1 and "using 2 BLAS thread(s)" in warning[0]
    assert set(load_run(tmp_path / "r")["blas_threads"]) == {2}
