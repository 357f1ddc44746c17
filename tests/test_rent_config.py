"""ReNT's configuration module: torch-free, the task registry and its defaults, one strategy per method."""
import subprocess
import sys

import numpy as np
import pytest

from rntk.rent import METHODS, TASK_NAMES, RentConfig, default_schedule, default_training
from rntk.rent._config import TASK_INFO

GROWING = {"ratio": "step", "r0": 0.1, "trigger": "incremental"}
SHRINKING = {"ratio": "r-step", "r0": 0.7, "r_min": 0.4, "trigger": "constant", "every": 5}


def test_config_tasks_and_data_import_and_work_with_torch_blocked():
    code = """
import sys
sys.modules["torch"] = None  # any import of torch now raises ImportError
import rntk.rent._config
from rntk.rent import (METHODS, TASK_NAMES, RentConfig, SequenceData, TrainHistory, default_schedule,
                       default_training)
from rntk.rent._config import TASK_INFO
from rntk.rent._tasks import load_task
for name in TASK_NAMES:
    RentConfig(method="rent-s", task=TASK_INFO[name].task, lr=default_training(name)["lr"],
               **default_schedule(name))
task = load_task("narma10", max_train=3)
assert isinstance(task.train, SequenceData) and len(task.train) == 3
h = TrainHistory.from_dict({"config": {}, "n_train": 3, "epochs": [{"epoch": 0, "ratio": 1.0}]})
assert TrainHistory.from_json(h.to_json()) == h
print("ok", len(METHODS), len(TASK_NAMES))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok {len(METHODS)} {len(TASK_NAMES)}"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_default_schedule_by_kind_of_task(name):
    info = TASK_INFO[name]
    seq_regression = info.task == "regression" and info.level == "sequence"
    assert default_schedule(name) == (GROWING if seq_regression else SHRINKING)
    assert default_training(name) == ({"lr": 1e-3, "hidden": 128, "batch_size": 32} if seq_regression
                                      else {"lr": 2e-3, "hidden": 64, "batch_size": 32})
    cfg = RentConfig(task=info.task, **default_schedule(name))
    assert cfg.ratios()[0] == default_schedule(name)["r0"]


def test_defaults_are_fresh_dicts_and_unknown_tasks_are_named():
    default_schedule("co2")["r0"] = 0.9
    assert default_schedule("co2")["r0"] == 0.1
    with pytest.raises(ValueError, match="unknown task 'mnist'; available: .*'co2'"):
        default_schedule("mnist")
    with pytest.raises(ValueError, match="unknown task"):
        default_training("mnist")


def test_the_registry_describes_the_loaders(fake_ucr):
    from rntk.rent._tasks import TASKS, load_task

    assert tuple(TASKS) == TASK_NAMES
    for name in TASK_NAMES:
        task = load_task(name, max_train=5)
        assert (task.name, task.task, task.level) == (name, TASK_INFO[name].task, TASK_INFO[name].level)
        assert np.asarray(task.train.y).ndim >= (2 if task.level == "element" else 1)


def test_every_method_has_one_strategy():
    pytest.importorskip("torch")
    from rntk.rent._methods import STRATEGIES, Strategy, strategy_name

    assert set(STRATEGIES) == set(METHODS) | {"rent-s-fused"}
    assert all(issubclass(cls, Strategy) for cls in STRATEGIES.values())
    assert len(set(STRATEGIES.values())) == len(STRATEGIES)
    assert strategy_name(RentConfig(method="rent-s", fused=True)) == "rent-s-fused"
    assert [strategy_name(RentConfig(method=m)) for m in METHODS] == list(METHODS)


def test_trainer_keeps_the_names_callers_import():
    pytest.importorskip("torch")
    from rntk.rent import _trainer

    assert _trainer.METHODS == METHODS and _trainer.RentConfig is RentConfig
    assert _trainer.ratios_budget(RentConfig(epochs=4, ratio="constant", r0=0.25)) == 1.0
