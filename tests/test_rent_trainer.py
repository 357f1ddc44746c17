"""The ReNT trainer: recorded selections, resume, budgets, masking, stratification."""
import json

import numpy as np
import pytest
import torch

from rent_data import regression_sequences

from rntk.rent import RentConfig, SequenceData, SequenceModel, select_global, train
from rntk.rent._scores import regression_scores


def _regression(rng, n=48, T=6, m=2):
    return regression_sequences(rng, n, T, m)


def _classification(rng, n=60, T=5, classes=3):
    y = rng.integers(0, classes, n)
    X = rng.standard_normal((n, T, 1)) + y[:, None, None]
    return SequenceData(X, np.full(n, T), y)


def _model(seed, **kw):
    torch.manual_seed(seed)
    args = dict(cell="elman", input_dim=2, hidden=8, n_layers=1, out_dim=1)
    args.update(kw)
    return SequenceModel(**args)


def _strip_times(hist):
    keys = ("select_s", "train_s", "val_s")
    return [{k: v for k, v in e.items() if k not in keys} for e in hist["epochs"]]


@pytest.mark.parametrize("method", ["rent-b", "rent-s", "random-s"])
def test_resume_gives_the_uninterrupted_history(method, tmp_path, rng):
    tr, va = _regression(rng), _regression(rng, n=16)
    cfg = RentConfig(method=method, epochs=6, batch_size=8, lr=1e-2, ratio="step", r0=0.3, n_stages=3,
                     trigger="every", seed=3)
    full = train(_model(0), tr, va, cfg, out_dir=tmp_path / "a", device="cpu")
    part = train(_model(0), tr, va, cfg, out_dir=tmp_path / "b", stop_after=2, device="cpu")
    assert len(part["epochs"]) == 2
    # a fresh (differently initialised) model: everything must come from the checkpoint
    resumed = train(_model(99), tr, va, cfg, out_dir=tmp_path / "b", device="cpu")
    assert _strip_times(resumed) == _strip_times(full)
    assert resumed["selections"] == full["selections"]
    on_disk = json.loads((tmp_path / "b" / "history.json").read_text())
    assert len(on_disk["epochs"]) == 6


def test_resume_refuses_another_configuration(tmp_path, rng):
    tr, va = _regression(rng), _regression(rng, n=8)
    cfg = RentConfig(method="rent-s", epochs=3, batch_size=8, trigger="every")
    train(_model(0), tr, va, cfg, out_dir=tmp_path, stop_after=1, device="cpu")
    with pytest.raises(ValueError, match="another configuration"):
        train(_model(0), tr, va, RentConfig(method="rent-s", epochs=3, batch_size=8, trigger="every", lr=0.5),
              out_dir=tmp_path, device="cpu")


def test_recorded_selection_is_the_top_of_independently_computed_scores(rng):
    """At epoch 0 'global' keeps the top ceil(r N) samples by |f(x) - y| of the initial model."""
    tr, va = _regression(rng), _regression(rng, n=8)
    model = _model(1)
    with torch.no_grad():
        out = model(torch.tensor(tr.X, dtype=torch.float32), torch.tensor(tr.lengths))[:, 0].numpy()
    expected = select_global(regression_scores(out, tr.y), 0.25)
    cfg = RentConfig(method="global", epochs=2, batch_size=8, ratio="constant", r0=0.25, trigger="every")
    hist = train(model, tr, va, cfg, device="cpu")
    np.testing.assert_array_equal(hist["selections"]["0"], expected)
    assert hist["epochs"][0]["trained_samples"] == len(expected)


def test_budget_full_matches_the_backward_budget(rng):
    tr, va = _regression(rng), _regression(rng, n=8)
    cfg = RentConfig(method="budget-full", epochs=5, batch_size=8, ratio="step", r0=0.2, n_stages=5)
    hist = train(_model(2), tr, va, cfg, device="cpu")
    expected = round(sum(0.2 + 0.8 * k / 4 for k in range(5)) * len(tr))  # sum_e r_e N, by hand
    assert hist["totals"]["backward_samples"] == expected


def test_padding_never_reaches_the_loss_or_the_scores(rng):
    """Element level: changing X and y after each length changes nothing."""
    n, T = 24, 7
    X = rng.standard_normal((n, T, 2))
    y = rng.integers(0, 3, (n, T))
    lengths = rng.integers(2, T + 1, n)
    X2, y2 = X.copy(), y.copy()
    for i, L in enumerate(lengths):
        X2[i, L:] = 50.0
        y2[i, L:] = 2
    cfg = RentConfig(method="rent-s", task="classification", epochs=3, batch_size=6, ratio="constant",
                     r0=0.5, trigger="every")
    va = SequenceData(X[:8], lengths[:8], y[:8])
    kw = dict(out_dim=3, level="element")
    a = train(_model(4, **kw), SequenceData(X, lengths, y), va, cfg, device="cpu")
    b = train(_model(4, **kw), SequenceData(X2, lengths, y2), va, cfg, device="cpu")
    assert _strip_times(a) == _strip_times(b)
    assert a["selections"] == b["selections"]


def test_stratified_selection_keeps_the_class_mix(rng):
    tr, va = _classification(rng), _classification(rng, n=12)
    common = dict(task="classification", epochs=1, batch_size=12, ratio="constant", r0=0.3, trigger="every")
    kw = dict(input_dim=1, out_dim=3)
    strat = train(_model(5, **kw), tr, va, RentConfig(method="rent-s", stratified=True, **common), device="cpu")
    plain = train(_model(5, **kw), tr, va, RentConfig(method="rent-s", **common), device="cpu")
    ids = np.array(strat["selections"]["0"])
    assert len(ids) == 18  # ceil(0.3 * 60)
    # per-class counts within one of the proportional share
    for c in range(3):
        share = 18 * (tr.y == c).sum() / 60
        assert abs((tr.y[ids] == c).sum() - share) <= 1 + 1e-9
    assert strat["epochs"][0]["class_mix_tv"] <= plain["epochs"][0]["class_mix_tv"] + 1e-12
    assert strat["epochs"][0]["class_mix_tv"] < 0.1


def test_test_metrics_best_and_final(rng):
    tr, va, te = _regression(rng), _regression(rng, n=8), _regression(rng, n=8)
    hist = train(_model(6), tr, va, RentConfig(method="full", epochs=3, batch_size=16), test_data=te, device="cpu")
    assert set(hist["test"]) == {"final", "best_val"} and "mse" in hist["test"]["final"]
    assert hist["totals"]["backward_samples"] == 3 * len(tr)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(method="magic"), "method"),
    (dict(task="ranking"), "task"),
    (dict(stratified=True), "class labels"),
    (dict(ratio="r-step", r0=0.3, r_min=0.4), "r_min"),
    (dict(lr=0.0), "lr"),
])
def test_config_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        RentConfig(**kwargs)


def test_data_errors(rng):
    with pytest.raises(ValueError, match="lengths"):
        SequenceData(np.zeros((3, 4, 1)), np.array([1, 5, 2]), np.zeros(3))
    X = np.zeros((2, 3, 1))
    X[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SequenceData(X, np.array([3, 3]), np.zeros(2))


def test_gradient_amplification_is_measured_on_the_recorded_selection(rng):
    """R-5: the logged gradient norm of the selection equals autograd of the mean
    loss over exactly the recorded ids (one batch, independent of the chunking)."""
    tr, va = _regression(rng, n=40), _regression(rng, n=8)
    model = _model(7)
    import copy

    init = copy.deepcopy(model)
    cfg = RentConfig(method="rent-s", epochs=1, batch_size=8, ratio="constant", r0=0.3, trigger="every",
                     measure_amplification=True)
    hist = train(model, tr, va, cfg, device="cpu")
    rec = hist["epochs"][0]
    ids = np.array(hist["selections"]["0"])
    x = torch.tensor(tr.X[ids], dtype=torch.float32)
    y = torch.tensor(tr.y[ids], dtype=torch.float32)
    loss = torch.nn.functional.mse_loss(init(x, torch.tensor(tr.lengths[ids]))[:, 0], y)
    grads = torch.autograd.grad(loss, list(init.parameters()))
    expected = float(sum((g.double() ** 2).sum() for g in grads)) ** 0.5
    assert rec["grad_norm_selected"] == pytest.approx(expected, rel=1e-5)
    assert len(rec["grad_norm_random"]) == 5
    assert rec["grad_amplification"] == pytest.approx(expected / np.mean(rec["grad_norm_random"]), rel=1e-5)


def test_selective_backprop_backpropagates_the_high_loss_fraction(rng):
    tr, va = _regression(rng, n=64), _regression(rng, n=8)
    cfg = RentConfig(method="selective-backprop", epochs=3, batch_size=16, ratio="constant", r0=0.25)
    hist = train(_model(8), tr, va, cfg, device="cpu")
    back = [e["trained_samples"] for e in hist["epochs"]]
    # the first batch is judged against itself: exactly its top quarter; later
    # batches against the running history, so about a quarter (not exactly)
    assert all(8 <= b <= 32 for b in back), back
    assert hist["totals"]["forward_samples"] == 3 * 64 + sum(back)


def test_per_sample_loss_masks_padding():
    from rntk.rent._trainer import _per_sample_loss

    out = torch.zeros(2, 3, 1)
    y = torch.tensor([[1.0, 1.0, 5.0], [2.0, 2.0, 2.0]])
    per = _per_sample_loss(out, y, torch.tensor([2, 3]), False, True)
    np.testing.assert_allclose(per.numpy(), [1.0, 4.0])


def test_obs_prefers_high_loss_samples_and_keeps_the_budget(rng):
    """OBS draws ceil(r N) samples per epoch; with pressure s = 1e6 the draw is
    concentrated on the highest-loss samples of the refresh pass."""
    tr, va = _regression(rng, n=60), _regression(rng, n=8)
    model = _model(9)
    with torch.no_grad():
        out = model(torch.tensor(tr.X, dtype=torch.float32), torch.tensor(tr.lengths))[:, 0].numpy()
    loss = (out - tr.y) ** 2
    cfg = RentConfig(method="obs", epochs=2, batch_size=10, ratio="constant", r0=0.2,
                     obs_pressure=(1e6, 1e6))
    hist = train(model, tr, va, cfg, device="cpu")
    assert [e["trained_samples"] for e in hist["epochs"]] == [12, 12]
    assert [e["n_selected"] for e in hist["epochs"]] == [12, 12]
    # epoch 0's draw (recorded through the trained set size) is not stored as ids; check
    # the probabilities instead: rank r gets weight s^(-r/N), so the top 12 of 60 carry
    # 1 - s^(-12/60) = 94 % of the mass at s = 1e6
    from rntk.rent._trainer import _obs_draw

    state = {"obs_loss": loss}
    draws = np.concatenate([_obs_draw(RentConfig(method="obs", epochs=2, obs_pressure=(1e6, 1e6), seed=s,
                                                 obs_refresh=10**6), 1, 0.2, state, None, None, 60, False,
                                      False, {})[1] for s in range(50)])
    top = set(np.argsort(-loss)[:12].tolist())
    assert np.mean([d in top for d in draws]) > 0.8


def test_rho_loss_trains_on_the_pool_only_and_counts_the_il_model(rng):
    tr, va = _regression(rng, n=80), _regression(rng, n=8)
    cfg = RentConfig(method="rho-loss", epochs=2, batch_size=4, ratio="constant", r0=0.5, rho_il_epochs=2)
    hist = train(_model(10), tr, va, cfg, device="cpu")
    # pool = 72 samples (8 held out); budget ceil(0.5 * 72) = 36 per epoch, in groups of 40 candidates
    assert [e["trained_samples"] for e in hist["epochs"]] == [36, 36]
    # the IL model's 2 epochs over the 8 held-out samples count as backward passes too
    assert hist["totals"]["backward_samples"] == 72 + 2 * 8


def test_fused_scoring_equals_separate_scoring_for_a_frozen_model(rng):
    """fused=True scores each partition batch from its own training forward.
    With a (numerically) frozen model those scores are the trigger-time scores,
    so the recorded picks equal rent-s's separate scoring pass exactly, and
    only the quotas are backpropagated."""
    tr, va = _regression(rng), _regression(rng, n=8)
    kw = dict(method="rent-s", epochs=3, batch_size=8, lr=1e-12, ratio="constant", r0=0.4, trigger="every", seed=5)
    sep = train(_model(4), tr, va, RentConfig(**kw), device="cpu")
    fus = train(_model(4), tr, va, RentConfig(fused=True, **kw), device="cpu")
    assert fus["selections"] == sep["selections"]
    for a, b in zip(fus["epochs"], sep["epochs"]):
        assert a["trained_samples"] == b["trained_samples"] == int(np.ceil(0.4 * len(tr)))
    # one forward a sample per epoch (the scoring pass is the training forward)
    assert fus["totals"]["forward_samples"] == 3 * len(tr)
    assert sep["totals"]["forward_samples"] == 3 * len(tr) + 3 * int(np.ceil(0.4 * len(tr)))


def test_fused_scoring_resumes_and_is_rent_s_only(rng, tmp_path):
    tr, va = _regression(rng), _regression(rng, n=16)
    cfg = RentConfig(method="rent-s", fused=True, epochs=6, batch_size=8, lr=1e-2, ratio="step", r0=0.3,
                     n_stages=3, trigger="incremental", seed=2)
    full = train(_model(0), tr, va, cfg, out_dir=tmp_path / "a", device="cpu")
    train(_model(0), tr, va, cfg, out_dir=tmp_path / "b", stop_after=3, device="cpu")
    resumed = train(_model(99), tr, va, cfg, out_dir=tmp_path / "b", device="cpu")
    assert _strip_times(resumed) == _strip_times(full)
    assert resumed["selections"] == full["selections"]
    with pytest.raises(ValueError, match="rent-s"):
        RentConfig(method="rent-b", fused=True)


def test_plateau_patience_stops_and_resumes_stopped(rng, tmp_path):
    """Training stops once the validation metric has not improved for `patience`
    epochs, and a resumed stopped run stays stopped (no further epochs)."""
    tr, va = _regression(rng), _regression(rng, n=8)
    cfg = RentConfig(method="full", epochs=200, batch_size=8, lr=0.5, plateau_patience=3)
    h = train(_model(0), tr, va, cfg, out_dir=tmp_path, device="cpu")
    assert len(h["epochs"]) < 200
    assert h["plateau_epoch"] - h["best_epoch"] == 3 == len(h["epochs"]) - 1 - h["best_epoch"]
    again = train(_model(0), tr, va, cfg, out_dir=tmp_path, device="cpu")
    assert len(again["epochs"]) == len(h["epochs"])
    with pytest.raises(ValueError, match="plateau_patience"):
        RentConfig(plateau_patience=0)
