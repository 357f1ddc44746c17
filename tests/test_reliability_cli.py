"""The command line on bad input, the UCR loader's missing and damaged files,
and the estimators on lists of sequences of different lengths."""
import errno
import gzip
import os
import pathlib
import stat

import numpy as np
import pytest
from sklearn.svm import SVC

from rntk import RNTK, RBFKernel
from rntk.cli import build_parser, main
from rntk.datasets import load_ucr
from rntk.estimators import KernelRidgeRegressor, KernelSVC


def _gram_error(args) -> str:
    """The message of a ``rntk gram`` run that must stop with a one-line error."""
    with pytest.raises(SystemExit) as e:
        main(["gram", *map(str, args), "--backend", "cpu-vectorized"])
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("rntk gram: ") and "\n" not in msg, msg
    return msg


def _ntk(path):
    with np.load(path) as z:
        return z["ntk"]


# -- rntk gram: input files ------------------------------------------------------
def test_gram_truncated_npy_is_a_one_line_error(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 6)))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[: len(data) - 8])
    msg = _gram_error([tmp_path / "x.npy", "--out", tmp_path / "k.npz"])
    assert "x.npy" in msg and "truncated" in msg


class _Touch:
    """Unpickling this creates a file: evidence that a loader unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def test_gram_object_npy_is_refused_unread(tmp_path):
    marker = tmp_path / "unpickled"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = _Touch(str(marker)), np.zeros(3)
    np.save(tmp_path / "x.npy", arr, allow_pickle=True)
    msg = _gram_error([tmp_path / "x.npy", "--out", tmp_path / "k.npz"])
    assert "object" in msg and "unpickle" in msg
    assert not marker.exists()


def test_gram_ragged_csv_is_variable_length_sequences(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n4,5\n0.5,,\n")
    assert main(["gram", str(tmp_path / "x.csv"), "--out", str(tmp_path / "k.npz"),
                 "--sigma-b", "0.1", "--backend", "cpu-vectorized"]) == 0
    want = RNTK(sigma_b=0.1).gram([np.array([1.0, 2, 3]), np.array([4.0, 5]), np.array([0.5])],
                                  backend="cpu-vectorized").ntk
    np.testing.assert_allclose(_ntk(tmp_path / "k.npz"), want, rtol=1e-12)


def test_gram_one_row_csv_is_one_sequence(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n")
    assert main(["gram", str(tmp_path / "x.csv"), "--out", str(tmp_path / "k.npz"), "--backend", "cpu-vectorized"]) == 0
    want = RNTK().gram([np.array([1.0, 2, 3])], backend="cpu-vectorized").ntk
    assert _ntk(tmp_path / "k.npz").shape == (1, 1)
    np.testing.assert_allclose(_ntk(tmp_path / "k.npz"), want, rtol=1e-12)


@pytest.mark.parametrize("name, text, where, token", [
    ("x.csv", "a,b,c\n1,2,3\n", "line 1, column 1", "'a'"),
    ("x.csv", "1,2,3\n4,x,6\n", "line 2, column 2", "'x'"),
    ("x.tsv", "1\t2\n3\t4\n5\t1.2.3\n", "line 3, column 2", "'1.2.3'"),
])
def test_gram_text_names_the_bad_token(tmp_path, name, text, where, token):
    (tmp_path / name).write_text(text)
    msg = _gram_error([tmp_path / name, "--out", tmp_path / "k.npz"])
    assert where in msg and token in msg and "NaN" not in msg


# -- rntk gram: the output file --------------------------------------------------
def test_gram_out_in_a_missing_folder(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    msg = _gram_error([tmp_path / "x.npy", "--out", tmp_path / "nope" / "k.npz"])
    assert "does not exist" in msg and str(tmp_path / "nope") in msg and "tmp" not in msg.replace(str(tmp_path), "")
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]


def test_gram_out_a_folder_leaves_nothing_behind(tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    monkeypatch.chdir(tmp_path)
    msg = _gram_error(["x.npy", "--out", "."])
    assert "folder" in msg
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]


def test_gram_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones((2, 3)))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", disk_full)
    msg = _gram_error([tmp_path / "x.npy", "--out", tmp_path / "k.npz"])
    assert os.strerror(errno.ENOSPC) in msg and "k.npz" in msg
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_gram_output_mode_follows_the_umask(tmp_path, mask):
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    old = os.umask(mask)
    try:
        assert main(["gram", str(tmp_path / "x.npy"), "--out", str(tmp_path / "k.npz"), "--backend", "cpu-vectorized"]) == 0
        (tmp_path / "plain").write_bytes(b"")  # what any program's new file gets
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "k.npz") == mode(tmp_path / "plain") == 0o666 & ~mask


# -- rntk rent train -------------------------------------------------------------
FAST = ["rent", "train", "--dataset", "co2", "--epochs", "1", "--max-train", "16", "--hidden", "4",
        "--layers", "1"]


@pytest.mark.parametrize("bad", [
    ["--epochs", "0"], ["--lr", "-1"], ["--lr", "nan"], ["--batch-size", "0"], ["--hidden", "0"],
    ["--layers", "0"], ["--r0", "2"], ["--r0", "0"], ["--r-min", "1.5"], ["--every", "0"],
    ["--max-train", "0"], ["--clip-norm", "-1"], ["--seed", "-1"],
])
def test_rent_train_argument_errors_are_usage_errors(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as e:
        main([*FAST, "--out", str(tmp_path), *bad])
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"rntk rent train: error: argument {bad[0]}"), last
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv", [
    ["rent", "compare", "--jobs", "0"],
    ["gram", "x.npy", "--out", "k.npz", "--n-layers", "0"],
])
def test_other_argument_errors_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    assert "error: argument " + argv[-2] in capsys.readouterr().err


def test_rent_train_without_ucr_data_says_how_to_get_it(tmp_path, monkeypatch):
    from rntk.datasets import _ucr

    monkeypatch.setattr(_ucr, "PACKAGES", ("no_such_data_package_xyz",))
    monkeypatch.delenv("RNTK_UCR_ROOT", raising=False)
    with pytest.raises(SystemExit) as e:
        main(["rent", "train", "--dataset", "crop", "--out", str(tmp_path)])
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("rntk rent train: ") and "\n" not in msg
    assert 'pip install "rntk[ucr]"' in msg and "RNTK_UCR_ROOT" in msg and "'Crop'" in msg
    assert os.listdir(tmp_path) == []


def test_failed_rent_train_leaves_no_empty_run_folder(tmp_path, monkeypatch):
    from rntk.rent import _trainer

    def disk_full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_trainer, "_write_atomic", disk_full)
    with pytest.raises(SystemExit) as e:
        main([*FAST, "--out", str(tmp_path)])
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("rntk rent train: ") and "\n" not in msg
    assert os.strerror(errno.ENOSPC) in msg
    assert os.listdir(tmp_path) == []


def test_rent_train_out_under_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit) as e:
        main([*FAST, "--out", str(tmp_path / "f")])
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("rntk rent train: ") and "\n" not in msg
    assert str(tmp_path / "f") in msg and os.strerror(errno.ENOTDIR) in msg


# -- load_ucr: missing and damaged files -----------------------------------------
def test_load_ucr_names_the_missing_test_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RNTK_UCR_ROOT", raising=False)
    (tmp_path / "Half").mkdir()
    (tmp_path / "Half" / "Half_TRAIN.tsv").write_text("1\t1\t2\n")
    with pytest.raises(LookupError) as e:
        load_ucr("Half", "test", root=tmp_path)
    assert str(tmp_path / "Half" / "Half_TEST.tsv") in str(e.value)
    assert str(tmp_path / "Half" / "Half_TRAIN.tsv") in str(e.value)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_load_ucr_damaged_gzip_names_the_file(tmp_path, monkeypatch, damage):
    monkeypatch.delenv("RNTK_UCR_ROOT", raising=False)
    (tmp_path / "Bad").mkdir()
    good = gzip.compress(b"1\t0.5\t0.25\n2\t0.1\t0.2\n" * 50)
    # garbage keeps the gzip magic so that the reader takes it for gzip
    raw = good[:10] + b"\xff" * 40 if damage == "garbage" else good[: len(good) // 2]
    (tmp_path / "Bad" / "Bad_TRAIN.tsv.gz").write_bytes(raw)
    (tmp_path / "Bad" / "Bad_TEST.tsv").write_text("1\t1\n")
    with pytest.raises(ValueError, match="Bad_TRAIN.tsv.gz"):
        load_ucr("Bad", "train", root=tmp_path)


# -- estimators on lists of sequences of different lengths ------------------------
@pytest.mark.parametrize("m", [None, 2])
def test_kernel_svc_takes_sequences_of_different_lengths(rng, m):
    shape = (lambda t: (t,)) if m is None else (lambda t: (t, m))
    X = [rng.normal(size=shape(t)) + (i % 2) for i, t in enumerate([5, 3, 7, 4, 6, 2, 5, 3])]
    y = [i % 2 for i in range(len(X))]
    Xt = [rng.normal(size=shape(t)) for t in (4, 7, 2)]
    k = RNTK(sigma_b=0.1)
    model = KernelSVC(k, C=10.0).fit(X, y)
    ref = SVC(kernel="precomputed", C=10.0).fit(k.gram(X).ntk, y)
    np.testing.assert_allclose(model.decision_function(Xt), ref.decision_function(k.gram(Xt, X).ntk),
                               rtol=1e-9, atol=1e-12)


def test_ridge_on_sequences_of_different_lengths_matches_the_kernel(rng):
    X = [rng.normal(size=t) for t in (4, 2, 6, 3)]
    t = rng.normal(size=4)
    k = RNTK()
    model = KernelRidgeRegressor(k, alpha=0.5).fit(X, t)
    K = k.gram(X).ntk
    np.testing.assert_allclose(model.predict(X), K @ np.linalg.solve(K + 0.5 * np.eye(4), t), rtol=1e-8)


def test_gak_svc_takes_sequences_of_different_lengths(rng):
    pytest.importorskip("tslearn")
    from rntk import GAKKernel

    X = [rng.normal(size=t) + (i % 2) for i, t in enumerate([5, 3, 7, 4, 6, 2])]
    y = [i % 2 for i in range(len(X))]
    Xt = [rng.normal(size=t) for t in (4, 7)]
    k = GAKKernel(sigma=1.0)
    model = KernelSVC(k, C=10.0).fit(X, y)
    ref = SVC(kernel="precomputed", C=10.0).fit(k.gram(X).ntk, y)
    np.testing.assert_allclose(model.decision_function(Xt), ref.decision_function(k.gram(Xt, X).ntk),
                               rtol=1e-9, atol=1e-12)


def test_fixed_length_kernel_names_different_lengths(rng):
    X = [rng.normal(size=t) for t in (4, 2, 6, 3)]
    with pytest.raises(ValueError, match="different lengths"):
        KernelSVC(RBFKernel()).fit(X, [0, 1, 0, 1])


def test_test_sequence_longer_than_training_is_named(rng):
    X = [rng.normal(size=t) for t in (4, 2, 5, 3)]
    model = KernelSVC(RNTK()).fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="sequence 1 of X has 9 time steps, more than the 5"):
        model.predict([rng.normal(size=2), rng.normal(size=9)])
