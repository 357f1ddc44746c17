"""The gap study's design (verify/ucr_gap.py): one change per hypothesis, combination from CV only;
the extended RNTK column of verify/table_ucr.py and the archive run's partial record (verify/ucr_archive.py).

Its --quick run is the registry's (tests/test_cli_verify.py runs every registered script).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def gap(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "verify"))
    import ucr_gap

    yield ucr_gap
    for m in ("ucr_gap", "_common", "_paper_ucr"):
        sys.modules.pop(m, None)


def _diff(a: dict, b: dict) -> set:
    """Names of the protocol entries in which two specs differ."""
    out = {k for k in ("scale", "C") if a[k] != b[k]}
    for part in ("kernel", "axes"):
        out |= {f"{part}.{k}" for k in set(a[part]) | set(b[part]) if a[part].get(k) != b[part].get(k)}
    return out


def test_every_single_hypothesis_changes_one_thing(gap):
    specs = gap.singles()
    base = specs.pop("base")
    assert base == gap.BASE
    n_levels = sum(len(v) - 1 for v in gap.FACTORS.values())
    assert len(specs) == n_levels
    for name, spec in specs.items():
        d = _diff(base, spec)
        factor = name.split("=")[0]
        assert len({x.split(".")[0] for x in d}) == 1, (name, d)
        if factor == "depth":  # n_layers and frozen_layers are one factor
            assert d <= {"kernel.n_layers", "kernel.frozen_layers"}
        else:
            assert len(d) == 1, (name, d)


def test_kernels_carry_the_spec_and_the_grid(gap):
    spec = gap.merge(gap.FACTORS["direction"]["bidirectional"], gap.FACTORS["readout"]["per-step"])
    ks = gap.kernels(spec, {"sigma_w": [1.3, 1.4], "sigma_b": [0.0]})
    assert [p for p, _ in ks] == [{"sigma_w": 1.3, "sigma_b": 0.0}, {"sigma_w": 1.4, "sigma_b": 0.0}]
    for p, k in ks:
        assert (k.direction, k.readout, k.sigma_w) == ("bidirectional", "per-step", (p["sigma_w"],))  # per layer
    authors = gap.kernels(gap.AUTHORS_CODE, {"sigma_w": [1.4]})
    assert sorted(k.sigma_u for _, k in authors) == [(0.25,), (0.5,)]


def test_unavailable_kernel_is_reported_not_raised(gap):
    err = gap.availability(gap.merge({"kernel": {"direction": "sideways"}}))
    assert err is not None and "direction" in err
    assert gap.availability(gap.BASE) is None


def _summ(gains: dict) -> dict:
    return {h: {"mean_cv_gain": g} for h, g in gains.items()}


def test_promising_combination_uses_cv_gains_only(gap):
    thr = gap.PROMISING_CV_GAIN
    summ = _summ({"readout=per-step": thr + 2, "direction=bidirectional": thr + 1,
                  "direction=reversed": thr + 1.5, "sigma_u=0.5": thr - 0.1})
    combo, chosen = gap.promising(summ, None)
    assert chosen == {"readout": "per-step", "direction": "reversed"}  # best level per factor
    assert combo["kernel"] == {"readout": "per-step", "direction": "reversed"}
    assert (combo["scale"], combo["C"]) == ("unit", "paper")
    combo, chosen = gap.promising(_summ({"readout=per-step": thr + 2}), None)
    assert combo is None and chosen == {"readout": "per-step"}  # one factor alone is already a single


def test_summarize_counts_against_the_paper(gap):
    names = ["Fish", "Beef"]
    rec = lambda t, cv, best: {"test_acc": t, "cv_acc": cv, "best_test_acc_any_setting": best}
    done = {("Fish", "base"): rec(80, 70, 85), ("Beef", "base"): rec(70, 60, 89.5),
            ("Fish", "h"): rec(90, 75, 90), ("Beef", "h"): rec(60, 62, 70)}
    s = gap.summarize(done, names, ["base", "h"])
    assert s["h"]["mean_test"] == pytest.approx(75) and s["h"]["mean_cv_gain"] == pytest.approx(3.5)
    # paper RNTK: Fish 90.29, Beef 90.0; "within 1 point" means >= paper - 1
    assert s["h"]["n_within_1pt_of_paper"] == 1
    assert s["base"]["n_best_any_within_1pt_of_paper"] == 1
    assert np.isclose(s["base"]["mean_best_any"], 87.25)


def test_mean_readout_cost_grows_with_both_lengths_and_restricts_only_mean(gap):
    facts = {"n_train": 10, "n_test": 20, "length": 50}
    grid = {"sigma_w": [1.4, 1.5], "sigma_b": [0.0]}
    mean = gap.merge(gap.FACTORS["readout"]["mean"])
    assert gap.unit_cost(gap.BASE, grid, facts) is None
    assert gap.unit_cost(gap.merge(gap.FACTORS["readout"]["per-step"]), grid, facts) is None
    pairs = 10 * 11 / 2 + 10 * 20
    assert gap.unit_cost(mean, grid, facts) == pytest.approx(2 * pairs * 50 * 50 * gap.MEAN_CELL_S)
    bi = gap.merge(gap.FACTORS["readout"]["mean"], gap.FACTORS["direction"]["bidirectional"])
    assert gap.unit_cost(bi, grid, facts) == pytest.approx(2 * gap.unit_cost(mean, grid, facts))
    assert gap.unit_cost(mean, grid, {**facts, "length": 100}) == pytest.approx(4 * gap.unit_cost(mean, grid, facts))


def test_restricted_level_competes_on_the_datasets_where_it_ran(gap):
    rec = lambda cv: {"cv_acc": cv, "test_acc": cv, "best_test_acc_any_setting": cv}  # noqa: E731
    names = ["a", "b", "c"]
    done = {(n, "base"): rec(70) for n in names}
    done.update({("a", "readout=per-step"): rec(80), ("b", "readout=per-step"): rec(71),
                 ("c", "readout=per-step"): rec(71), ("b", "readout=mean"): rec(75)})
    done.update({(n, "direction=bidirectional"): rec(72) for n in names})
    hyps = ["base", "readout=per-step", "readout=mean", "direction=bidirectional"]
    summ = gap.summarize(done, names, hyps)
    assert summ["readout=mean"]["complete"] is False and summ["readout=mean"]["n_datasets"] == 1
    assert summ["readout=mean"]["mean_cv_gain"] == pytest.approx(5)  # against the base on b only
    assert summ["readout=per-step"]["mean_cv_gain"] == pytest.approx(4)
    # on b, the only set both read-outs ran on, mean (+5) beats per-step (+1)
    combo, chosen = gap.promising(summ, None, done)
    assert chosen == {"readout": "mean", "direction": "bidirectional"}
    assert combo["kernel"] == {"readout": "mean", "direction": "bidirectional"}


def _unit(cv, test, lo=None, hi=None, n_tied=1):
    return {"cv_acc": cv, "test_acc": test, "best": {"sigma_w": 1.4, "C": 1.0}, "n_settings": 10,
            "n_tied": n_tied, "tied_test_acc_min": test if lo is None else lo,
            "tied_test_acc_max": test if hi is None else hi, "best_test_acc_any_setting": 99.0,
            "gram_s": 1.0, "fit_s": 2.0, "wall_s": 3.0, "unconverged_fits": 0}


@pytest.fixture
def table(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "verify"))
    import table_ucr

    yield table_ucr
    for m in ("table_ucr", "_common", "_paper_ucr", "_ucr_extra"):
        sys.modules.pop(m, None)


def test_extended_column_selects_by_cv_only(table):
    paper, ps = _unit(80.0, 70.0), _unit(82.0, 60.0)
    r = table.extend_by_cv(paper, ps)  # higher CV wins even with a lower test accuracy
    assert (r["selected_from"], r["test_acc"], r["best"]["readout"]) == ("per-step", 60.0, "per-step")
    assert r["n_settings"] == 20 and r["wall_s"] == 6.0
    r = table.extend_by_cv(_unit(82.0, 70.0), _unit(80.0, 90.0))
    assert (r["selected_from"], r["test_acc"]) == ("paper grid", 70.0)
    r = table.extend_by_cv(_unit(80.0, 70.0, 65.0, 72.0, 3), _unit(80.0, 90.0, 88.0, 90.0, 2))  # a CV tie
    assert (r["selected_from"], r["test_acc"]) == ("paper grid", 70.0)  # the paper's grid comes first
    assert (r["tied_test_acc_min"], r["tied_test_acc_max"], r["n_tied"]) == (65.0, 90.0, 5)


@pytest.fixture
def archive(monkeypatch):
    """verify/ucr_archive.py as a module, and the verify modules it imports unloaded afterwards."""
    monkeypatch.syspath_prepend(str(ROOT / "verify"))
    import ucr_archive

    yield ucr_archive
    for m in ("ucr_archive", "ucr_gap", "_common", "_paper_ucr", "_ucr_extra"):
        sys.modules.pop(m, None)


def test_archive_report_says_partial_until_every_unit_is_done(archive, tmp_path):
    import json

    facts = {n: {"n_train": 5, "n_test": 5, "length": 9, "within_paper_limits": True} for n in ("a", "b", "c")}
    cols = ["RNTK", "MINIROCKET"]
    done = {(n, c): {"test_acc": acc, "wall_s": 1.0} for (n, acc) in (("a", 80.0), ("b", 70.0))
            for c in cols}
    est = {(n, c): 10.0 for n in facts for c in cols}
    skipped = {("c", "RNTK"): "too big"}
    spec = {"quick": True, "columns": cols}
    archive.report(tmp_path, list(facts), cols, facts, done, skipped, est, spec, 1.0, plot=False)
    out = json.loads((tmp_path / "ucr_archive.json").read_text())
    assert out["status"] == "partial" and out["n_units_pending"] == 1 and out["n_units_skipped"] == 1
    assert out["datasets"]["c"]["pending"] == ["MINIROCKET"] and out["n_datasets_complete"] == 2
    assert out["pending_estimate_s"] == 10.0
    done[("c", "MINIROCKET")] = {"test_acc": 50.0, "wall_s": 1.0}
    archive.report(tmp_path, list(facts), cols, facts, done, skipped, est, spec, 1.0, plot=False)
    assert json.loads((tmp_path / "ucr_archive.json").read_text())["status"] == "complete"


def test_archive_routes_an_over_budget_rntk_unit_to_nystroem(archive):
    """Exact where it fits; the Nystroem features where only they fit; neither: over budget (skipped)."""
    ua = archive
    small = {"n_train": 100, "n_test": 100, "length": 100}
    large = {"n_train": 8926, "n_test": 7711, "length": 96}  # ElectricDevices
    huge = {"n_train": 10**6, "n_test": 10**6, "length": 1000}
    grid, budget = ua.GRID_FULL, 20 * 60
    assert ua.rntk_route(small, grid, 10, budget)[0] == "exact"
    route, est = ua.rntk_route(large, grid, 10, budget)
    assert route == "nystroem" and est <= budget < ua.rntk_cost(large, grid, 10)
    route, est = ua.rntk_route(huge, grid, 10, budget)
    assert route == "exact" and est > budget
    rec = ua.run_unit_nystroem("SynthCBF", ua.GRID_QUICK, None)  # shipped; 30 series < k: all are landmarks
    assert rec["route"] == "nystroem" and rec["nystroem_k"] == 30
    assert 50 < rec["test_acc"] <= 100 and rec["n_settings"] == 4 * len(ua.NYSTROEM_ALPHAS)


def test_archive_records_a_unit_that_cannot_run(archive, monkeypatch):
    def refuse(*args):
        raise ValueError("sequence 7 of X has NaN inside the sequence")

    monkeypatch.setattr(archive, "run_unit", refuse)
    rec = archive.run_unit_or_failure("Set", "RNTK", {}, 3, None, None)
    assert rec["failed"].startswith("ValueError: sequence 7") and rec["wall_s"] >= 0
