"""Finite RNN baselines of the RNTK paper (rntk.estimators._rnn_baselines)."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rntk.estimators import _rnn_baselines as rb  # noqa: E402
from rntk.rent import SequenceModel  # noqa: E402


def _model(cell="elman", n=200):
    return SequenceModel(cell, 1, n, 1, 3, nonlinearity="relu").double()


def test_gaussian_init_has_the_ntk_variances():
    m = _model()
    rb._init(m, "gaussian", torch.Generator().manual_seed(0))
    w_hh = m.rnn.weight_hh_l0.detach().numpy()
    assert w_hh.std() == pytest.approx((2 / 200) ** 0.5, rel=0.03)  # sigma_w^2 / n, sigma_w = sqrt 2
    assert abs(w_hh.mean()) < 0.003
    assert m.rnn.weight_ih_l0.detach().numpy().std() == pytest.approx(1.0, rel=0.3)  # m = 1, sigma_u = 1
    assert m.head.weight.detach().numpy().std() == pytest.approx((2 / 200) ** 0.5, rel=0.1)
    assert not m.rnn.bias_hh_l0.detach().numpy().any() and not m.rnn.bias_ih_l0.detach().numpy().any()


def test_identity_init_is_the_irnn():
    m = _model()
    rb._init(m, "identity", torch.Generator().manual_seed(0))
    assert np.array_equal(m.rnn.weight_hh_l0.detach().numpy(), np.eye(200))
    assert m.rnn.weight_ih_l0.detach().numpy().std() == pytest.approx(1e-3, rel=0.3)
    assert not m.rnn.bias_hh_l0.detach().numpy().any()


def test_gru_keeps_torch_uniform_init():
    m = _model("gru", 50)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    rb._init(m, "gru", torch.Generator().manual_seed(0))
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert float(m.rnn.weight_hh_l0.detach().abs().max()) <= 50**-0.5


def _toy(n, rng):
    """Two classes: the sign of the series' mean; lengths 5..12, trailing NaN."""
    y = rng.integers(0, 2, n)
    X = np.full((n, 12), np.nan)
    for i in range(n):
        L = rng.integers(5, 13)
        X[i, :L] = (2 * y[i] - 1) * 0.8 + 0.3 * rng.standard_normal(L)
    return X, np.where(y == 1, "up", "down")


@pytest.mark.parametrize("init", ["gaussian", "identity", "gru"])
def test_learns_an_easy_task_and_stops_early(init):
    rng = np.random.default_rng(0)
    X, y = _toy(120, rng)
    Xt, yt = _toy(200, rng)
    r = rb.fit_rnn_baseline(X, y, Xt, yt, init=init, hidden=16, lr=1e-2, max_epochs=40, patience=5, seed=1)
    assert r.test_acc >= 0.9, r
    assert set(r.predict_test) <= {"up", "down"}
    assert r.epochs_run <= min(40, r.best_epoch + 5)


def test_reproducible_and_grid_search():
    rng = np.random.default_rng(2)
    X, y = _toy(60, rng)
    a = rb.fit_rnn_baseline(X, y, X, y, init="gaussian", hidden=8, max_epochs=5, seed=3)
    b = rb.fit_rnn_baseline(X, y, X, y, init="gaussian", hidden=8, max_epochs=5, seed=3)
    assert np.array_equal(a.predict_test, b.predict_test) and a.val_acc == b.val_acc
    g = rb.rnn_grid_search(X, y, X, y, init="gru", hidden=(4, 8), lr=(1e-2,), max_epochs=5, seed=0)
    assert g.params["hidden"] in (4, 8) and g.test_acc is not None


def test_bad_input():
    X, y = _toy(20, np.random.default_rng(0))
    with pytest.raises(ValueError, match="init"):
        rb.fit_rnn_baseline(X, y, init="lstm")
    with pytest.raises(ValueError, match="lr"):
        rb.fit_rnn_baseline(X, y, lr=0.0)
    with pytest.raises(ValueError, match="two classes"):
        rb.fit_rnn_baseline(X, np.zeros(20))
    bad = X.copy()
    bad[0, 1] = np.nan
    bad[0, 2] = 1.0
    with pytest.raises(ValueError, match="NaN inside"):
        rb.fit_rnn_baseline(bad, y)


def test_import_estimators_does_not_import_torch():
    code = "import sys, rntk.estimators; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
