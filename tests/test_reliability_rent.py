"""ReNT reliability: resume checks (data, model, configuration), damaged and
untrusted checkpoints, and max_train on every task."""
import json

import numpy as np
import pytest
import torch

from rent_data import regression_sequences

from rntk.rent import RentConfig, SequenceData, SequenceModel, train


def _regression(rng, n=32, T=5, m=2):
    return regression_sequences(rng, n, T, m)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    args = dict(cell="elman", input_dim=2, hidden=8, n_layers=1, out_dim=1)
    args.update(kw)
    return SequenceModel(**args)


def _cfg(**kw):
    args = dict(method="rent-s", epochs=3, batch_size=8, lr=1e-2, ratio="constant", r0=0.5, trigger="every")
    args.update(kw)
    return RentConfig(**args)


def _strip_times(hist):
    keys = ("select_s", "train_s", "val_s")
    return [{k: v for k, v in e.items() if k not in keys} for e in hist["epochs"]]


def _one_line(err):
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture
def started(tmp_path, rng):
    """A run interrupted after its first epoch: (out_dir, train, val)."""
    tr, va = _regression(rng), _regression(rng, n=8)
    train(_model(), tr, va, _cfg(), out_dir=tmp_path, stop_after=1, device="cpu")
    return tmp_path, tr, va


# -- resume refuses another run ---------------------------------------------------------------------


@pytest.mark.parametrize("change, expected", [
    ("train values", "training data differ"),
    ("train size", "training data differ (32 sequences in checkpoint vs 24 now)"),
    ("val values", "validation data differ"),
])
def test_resume_refuses_other_data(started, rng, change, expected):
    out, tr, va = started
    if change == "train values":
        tr = SequenceData(tr.X * 1.5, tr.lengths, tr.y)
    elif change == "train size":
        tr = SequenceData(tr.X[:24], tr.lengths[:24], tr.y[:24])
    else:
        va = SequenceData(va.X, va.lengths, va.y + 1.0)
    with pytest.raises(ValueError) as err:
        train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")
    msg = _one_line(err)
    assert expected in msg and str(out / "checkpoint.pt") in msg and "another out_dir" in msg
    # nothing was trained on the other data
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 1


@pytest.mark.parametrize("kw, expected", [
    (dict(hidden=16), "model parameter shapes differ (rnn.weight_ih_l0: [8, 2] float32 in checkpoint vs "
                      "[16, 2] float32 now)"),
    (dict(n_layers=2), "model parameter shapes differ (rnn.weight_ih_l1: absent in checkpoint"),
    (dict(cell="gru"), "model cell: 'elman' in checkpoint vs 'gru' now"),
    # same shapes, another function
    (dict(nonlinearity="relu"), "model nonlinearity: 'tanh' in checkpoint vs 'relu' now"),
])
def test_resume_refuses_another_model(started, kw, expected):
    out, tr, va = started
    with pytest.raises(ValueError) as err:
        train(_model(**kw), tr, va, _cfg(), out_dir=out, device="cpu")
    assert expected in _one_line(err)


def test_resume_names_the_config_field_that_differs(started):
    out, tr, va = started
    with pytest.raises(ValueError) as err:
        train(_model(), tr, va, _cfg(lr=2e-2, batch_size=4), out_dir=out, device="cpu")
    msg = _one_line(err)
    assert "config field lr: 0.01 in checkpoint vs 0.02 now" in msg
    assert "config field batch_size: 8 in checkpoint vs 4 now" in msg


def test_resume_with_more_epochs_continues_as_the_longer_run(tmp_path, rng):
    """A finished run asked for more epochs trains on, and ends as a run asked
    for those epochs from the start (constant ratio, trigger every epoch: the
    epochs trained are the same under both), test metrics included."""
    tr, va, te = _regression(rng), _regression(rng, n=8), _regression(rng, n=8)
    longer = train(_model(), tr, va, _cfg(epochs=4), test_data=te, out_dir=tmp_path / "a", device="cpu")
    short = train(_model(), tr, va, _cfg(epochs=2), test_data=te, out_dir=tmp_path / "b", device="cpu")
    assert len(short["epochs"]) == 2
    resumed = train(_model(5), tr, va, _cfg(epochs=4), test_data=te, out_dir=tmp_path / "b", device="cpu")
    assert _strip_times(resumed) == _strip_times(longer)
    assert resumed["selections"] == longer["selections"]
    assert resumed["test"] == longer["test"]
    on_disk = json.loads((tmp_path / "b" / "history.json").read_text())
    assert on_disk["config"]["epochs"] == 4 and len(on_disk["epochs"]) == 4


def test_resume_with_more_epochs_refused_when_the_schedule_depends_on_them(tmp_path, rng):
    tr, va = _regression(rng), _regression(rng, n=8)
    cfg = _cfg(epochs=4, ratio="step", r0=0.2, n_stages=4)
    train(_model(), tr, va, cfg, out_dir=tmp_path, device="cpu")
    with pytest.raises(ValueError) as err:
        train(_model(), tr, va, _cfg(epochs=8, ratio="step", r0=0.2, n_stages=4), out_dir=tmp_path, device="cpu")
    assert "config field epochs: 4 in checkpoint vs 8 now, and the ratio schedule" in _one_line(err)


def test_checkpoint_without_a_newer_field_resumes_while_it_holds_its_default(started):
    out, tr, va = started
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=False)  # written by this test's own run
    hist = json.loads(saved["history"]) if isinstance(saved["history"], str) else saved["history"]
    del hist["config"]["rho_candidates"]  # as written before the field existed
    saved["history"] = json.dumps(hist) if isinstance(saved["history"], str) else hist
    torch.save(saved, ckpt)
    with pytest.raises(ValueError) as err:
        train(_model(), tr, va, _cfg(rho_candidates=3), out_dir=out, device="cpu")
    assert "config field rho_candidates: 10 in checkpoint vs 3 now" in _one_line(err)
    assert len(train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")["epochs"]) == 3


def test_resuming_a_finished_run_rewrites_a_damaged_history(tmp_path, rng):
    """Without test data nothing is left to compute, and the history is still rewritten."""
    tr, va = _regression(rng), _regression(rng, n=8)
    done = train(_model(), tr, va, _cfg(epochs=2), out_dir=tmp_path, device="cpu")
    (tmp_path / "history.json").write_text('{"config": {"epo')
    again = train(_model(), tr, va, _cfg(epochs=2), out_dir=tmp_path, device="cpu")
    on_disk = json.loads((tmp_path / "history.json").read_text())
    assert _strip_times(on_disk) == _strip_times(again) == _strip_times(done)


@pytest.mark.parametrize("method", ["obs", "rho-loss", "selective-backprop"])
def test_resume_restores_array_state_exactly(method, tmp_path, rng):
    """The methods whose checkpoint state holds numpy arrays or loss lists resume
    to the uninterrupted history."""
    tr, va = _regression(rng, n=40), _regression(rng, n=8)
    cfg = RentConfig(method=method, epochs=3, batch_size=8, lr=1e-2, ratio="constant", r0=0.5,
                     rho_il_epochs=1, obs_refresh=2)
    full = train(_model(), tr, va, cfg, out_dir=tmp_path / "a", device="cpu")
    train(_model(), tr, va, cfg, out_dir=tmp_path / "b", stop_after=1, device="cpu")
    resumed = train(_model(7), tr, va, cfg, out_dir=tmp_path / "b", device="cpu")
    assert _strip_times(resumed) == _strip_times(full)


# -- damaged and untrusted checkpoints --------------------------------------------------------------


def test_truncated_checkpoint_names_the_file_and_the_way_out(started):
    out, tr, va = started
    ckpt = out / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises((ValueError, RuntimeError)) as err:
        train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")
    msg = _one_line(err)
    assert str(ckpt) in msg and "delete" in msg
    ckpt.unlink()  # the way out the message gives
    assert len(train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")["epochs"]) == 3


def test_a_write_that_fails_leaves_the_previous_checkpoint(started, monkeypatch):
    out, tr, va = started
    real_save = torch.save

    def failing_save(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "history.json"]
    assert len(train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")["epochs"]) == 3


class _Payload:
    """Unpickling this calls open(path, "w"): a file appears if the pickle runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_payload_is_refused_and_not_run(started):
    out, tr, va = started
    ckpt = out / "checkpoint.pt"
    marker = out / "payload_ran"
    # the layout of a real checkpoint, with code where the history belongs
    torch.save({"format": 2, "fingerprint": {}, "model": {}, "optimizer": {}, "history": _Payload(marker),
                "state": {"epoch": 1}}, ckpt)
    try:
        with pytest.raises(ValueError) as err:
            train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")
    finally:
        ran = marker.exists()
    assert not ran
    msg = _one_line(err)
    assert str(ckpt) in msg and "not a plain-data checkpoint" in msg and "delete" in msg


def test_a_checkpoint_with_pickled_numpy_is_refused_clearly(started):
    """Checkpoints of earlier versions pickled numpy arrays in the state."""
    out, tr, va = started
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=False)  # written by this test's own run
    saved["state"]["subset"] = ("ids", np.arange(len(tr)))
    torch.save(saved, ckpt)
    with pytest.raises(ValueError) as err:
        train(_model(), tr, va, _cfg(), out_dir=out, device="cpu")
    msg = _one_line(err)
    assert str(ckpt) in msg and "older rntk version" in msg and "delete" in msg


# -- max_train --------------------------------------------------------------------------------------


def test_every_task_honours_max_train(fake_ucr):
    from rntk.rent._tasks import TASKS, load_task

    sizes = {name: len(load_task(name, max_train=7).train) for name in TASKS}
    assert sizes == {name: 7 for name in TASKS}


def test_co2_max_train_keeps_the_evaluation_splits():
    from rntk.rent._tasks import load_task

    full, capped = load_task("co2"), load_task("co2", max_train=300)
    assert len(capped.train) == 300 < len(full.train)
    assert (len(capped.val), len(capped.test)) == (len(full.val), len(full.test))
    assert len(load_task("co2", max_train=10**6).train) == len(full.train)


@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_max_train_is_rejected(bad):
    from rntk.rent._tasks import load_task

    with pytest.raises(ValueError, match=f"max_train must be a positive integer, got {bad}"):
        load_task("co2", max_train=bad)
