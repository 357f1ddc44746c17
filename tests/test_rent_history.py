"""The typed training history: the history.json layout, committed runs, and dict-style reads."""
import json
from pathlib import Path

import numpy as np
import pytest

from rntk.rent import EpochRecord, TrainHistory

RUNS = Path(__file__).resolve().parent.parent / "figures" / "rent_runs"


def test_every_committed_history_loads_and_is_rewritten_byte_for_byte():
    files = sorted(RUNS.glob("**/history.json"))
    if not files:
        pytest.skip("no committed ReNT runs in this checkout")
    for f in files:
        text = f.read_text()
        h = TrainHistory.from_json(text)
        assert h.to_json() == text, f
        assert isinstance(h.epochs[0], EpochRecord) and h.n_train == json.loads(text)["n_train"]


def test_optional_keys_are_absent_not_null_and_unknown_keys_survive():
    d = {"config": {"method": "obs"}, "n_train": 4,
         "epochs": [{"epoch": 0, "ratio": 0.5, "triggered": False, "n_selected": 2, "trained_samples": 2,
                     "val": {"mse": 1.0}, "select_s": 0.1, "train_s": 0.2, "val_s": 0.0, "forward_samples": 6,
                     "backward_samples": 2, "later_field": [1, 2]}],
         "selections": {}, "initial_val": {"mse": 2.0},
         "totals": {"select_s": 0.1, "train_s": 0.2, "val_s": 0.0, "forward_samples": 6, "backward_samples": 2},
         "best_epoch": 0, "another": "kept"}
    h = TrainHistory.from_dict(d)
    assert h.epochs[0].scored is None and h.epochs[0].extra == {"later_field": [1, 2]}
    assert h.plateau_epoch is None and h.test is None and h.extra == {"another": "kept"}
    assert h.to_dict() == d and list(h.to_dict()) == list(d)
    assert list(h.to_dict()["epochs"][0]) == list(d["epochs"][0])


def test_dict_style_reads_match_the_file(tmp_path, rng):
    """What verify/rent_benchmark.py and rntk/cli.py read: hist["epochs"], hist.get("test"), "test" in hist."""
    torch = pytest.importorskip("torch")
    from rntk.rent import RentConfig, SequenceData, SequenceModel, train

    X = rng.standard_normal((24, 4, 1))
    data = SequenceData(X, np.full(24, 4), X[:, :, 0].sum(1))
    torch.manual_seed(0)
    model = SequenceModel("elman", 1, 4, 1, 1)
    cfg = RentConfig(method="rent-s", epochs=2, batch_size=8, ratio="constant", r0=0.5, trigger="every")
    hist = train(model, data, data, cfg, out_dir=tmp_path, device="cpu")
    on_disk = json.loads((tmp_path / "history.json").read_text())
    as_json = lambda v: json.loads(json.dumps(v))  # noqa: E731 - the config's tuple is a list in the file
    assert as_json(hist.to_dict()) == on_disk
    for key in on_disk:
        assert key in hist and as_json(hist[key]) == on_disk[key] == as_json(hist.get(key))
    assert hist["epochs"][-1]["select_s"] == hist.epochs[-1].select_s == hist.totals.select_s
    assert "test" not in hist and hist.get("test") is None and hist.get("test", 0) == 0
    with pytest.raises(KeyError):
        hist["test"]
    assert hist.selections["0"] == on_disk["selections"]["0"] and hist.best_epoch in (0, 1)
