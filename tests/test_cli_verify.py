"""The command line, the verify/ registry, and the light import of rntk."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rntk.cli import _registered, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
VERIFY = ROOT / "verify"


def _registry():
    return _registered(VERIFY)


def test_every_verify_script_is_registered():
    scripts = sorted(p.stem for p in VERIFY.glob("*.py") if not p.stem.startswith("_"))
    assert sorted(_registry()) == scripts


@pytest.mark.parametrize("name", _registry())
def test_verify_script_runs_quick(name, tmp_path):
    rc = subprocess.run(
        [sys.executable, str(VERIFY / f"{name}.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert rc.returncode == 0, rc.stdout + rc.stderr
    assert list(tmp_path.glob("*.png")) and list(tmp_path.glob("*.json"))


def test_import_rntk_is_light():
    code = "import sys, rntk; print(' '.join(m for m in ('torch', 'cupy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("sub", ["reproduce", "gram", "info"])
def test_every_subcommand_has_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([sub, "--help"])
    assert e.value.code == 0
    assert "usage: rntk " + sub in capsys.readouterr().out


def test_gram_command_writes_npz(tmp_path):
    X = np.random.default_rng(0).normal(size=(5, 7))
    X[2, 5:] = np.nan
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "k.npz"
    assert main(["gram", str(tmp_path / "x.npy"), "--out", str(out), "--sigma-b", "0.1"]) == 0
    with np.load(out) as z:
        from rntk import RNTK

        want = RNTK(sigma_b=0.1).gram(X)
        assert np.array_equal(z["ntk"], want.ntk) and np.array_equal(z["nngp"], want.nngp)


def test_gram_command_reports_bad_input(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1.0, np.nan, 2.0]]))
    with pytest.raises(SystemExit, match="NaN inside"):
        main(["gram", str(tmp_path / "x.npy"), "--out", str(tmp_path / "k.npz")])
    with pytest.raises(SystemExit, match="no such file"):
        main(["gram", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "k.npz")])


def test_reproduce_rejects_unknown_script():
    with pytest.raises(SystemExit, match="not registered"):
        main(["reproduce", "--only", "no_such_figure", "--root", str(ROOT)])


@pytest.mark.parametrize("sub", ["train", "compare"])
def test_rent_subcommands_have_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["rent", sub, "--help"])
    assert e.value.code == 0
    assert "usage: rntk rent " + sub in capsys.readouterr().out


def test_rent_compare_passes_the_recipe_tier_on(monkeypatch):
    seen = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd=None: seen.append(cmd) or 0)
    assert main(["rent", "compare", "--tier", "recipe", "--tasks", "crop", "--seeds", "5", "--root", str(ROOT)]) == 0
    cmd = seen[0]
    assert cmd[1].endswith("rent_benchmark.py")
    assert cmd[2:] == ["--tier", "recipe", "--tasks", "crop", "--seeds", "5", "--jobs", "1"]


def test_rent_train_command_writes_a_resumable_run(tmp_path, capsys):
    args = ["rent", "train", "--dataset", "regime-tagging", "--epochs", "1", "--max-train", "16",
            "--hidden", "4", "--layers", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    run = tmp_path / "regime-tagging" / "rent-b" / "seed0"
    assert (run / "history.json").is_file() and (run / "checkpoint.pt").is_file()
