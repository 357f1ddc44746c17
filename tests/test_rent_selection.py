"""R-1: ReNT selection, quotas, schedules and scores, checked exactly."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rntk.rent import (
    classification_scores,
    element_scores,
    n_selected,
    partition,
    quotas,
    random_batches,
    random_sequences,
    ratio_schedule,
    regression_scores,
    scores_by_id,
    select_batches,
    select_global,
    select_sequences,
    trigger_epochs,
)

N, B = 1003, 32  # ragged last batch (1003 = 31 * 32 + 11)
RATIOS = [0.05, 0.4, 0.7, 1.0]


def _known_scores(seed=0):
    """Distinct scores with a known order: score = rank, ranks a seeded shuffle."""
    return np.random.default_rng(seed).permutation(N).astype(float)


def test_partition_covers_every_id_once():
    parts = partition(N, B, seed=5)
    assert [len(p) for p in parts] == [32] * 31 + [11]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(N))
    again = partition(N, B, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


@pytest.mark.parametrize("r", RATIOS)
def test_batch_selection_is_the_top_batches_of_the_recorded_partition(r):
    s = _known_scores()
    parts = partition(N, B, seed=1)
    kept = select_batches(s, parts, r)
    k = math.ceil(r * len(parts))
    assert len(kept) == k
    # brute force: the k batches with the largest mean, computed independently
    means = sorted(((s[p].sum() / len(p), i) for i, p in enumerate(parts)), key=lambda t: (-t[0], t[1]))
    assert set(kept.tolist()) == {i for _, i in means[:k]}
    ids = np.sort(np.concatenate([parts[i] for i in kept]))
    assert len(np.unique(ids)) == len(ids)


@pytest.mark.parametrize("r", RATIOS)
def test_sequence_selection_quotas_and_membership(r):
    s = _known_scores(1)
    parts = partition(N, B, seed=2)
    q = quotas([len(p) for p in parts], r)
    assert q.sum() == math.ceil(r * N)
    assert all(0 <= qi <= len(p) for qi, p in zip(q, parts))
    # proportional: every quota within 1 of r' |b| (error diffusion never drifts)
    c = math.ceil(r * N) / N
    assert all(abs(qi - c * len(p)) < 1 for qi, p in zip(q, parts))
    sel = select_sequences(s, parts, r)
    assert len(sel) == q.sum() and len(np.unique(sel)) == len(sel)
    for p, qi in zip(parts, q):
        mine = np.intersect1d(sel, p)
        assert len(mine) == qi
        # each kept id is within its batch's top-q
        top = set(p[np.argsort(-s[p])][:qi].tolist())
        assert set(mine.tolist()) == top


@pytest.mark.parametrize("r", RATIOS)
def test_global_selection(r):
    s = _known_scores(2)
    sel = select_global(s, r)
    k = math.ceil(r * N)
    assert set(sel.tolist()) == set(np.argsort(-s)[:k].tolist())


def test_ties_break_by_ascending_id():
    s = np.zeros(10)
    np.testing.assert_array_equal(select_global(s, 0.3), [0, 1, 2])
    parts = [np.array([9, 8, 7]), np.array([1, 2, 3]), np.array([4, 5, 6, 0])]
    np.testing.assert_array_equal(select_batches(s, parts, 0.34), [0, 1])
    sel = select_sequences(s, parts, 0.5)
    # quotas 2, 1, 2 (c = 5/10: cumulative 1.5 -> 2, 3 -> 3, 5 -> 5)
    np.testing.assert_array_equal(quotas([3, 3, 4], 0.5), [2, 1, 2])
    np.testing.assert_array_equal(sel, [0, 1, 4, 7, 8])


@pytest.mark.parametrize("r", RATIOS)
def test_random_twins_match_sizes(r):
    parts = partition(N, B, seed=3)
    rb = random_batches(parts, r, seed=0)
    assert len(rb) == math.ceil(r * len(parts)) and len(np.unique(rb)) == len(rb)
    rs = random_sequences(parts, r, seed=0)
    q = quotas([len(p) for p in parts], r)
    for p, qi in zip(parts, q):
        assert len(np.intersect1d(rs, p)) == qi


def test_ratio_one_keeps_everything():
    s = _known_scores()
    parts = partition(N, B, seed=4)
    assert len(select_batches(s, parts, 1.0)) == len(parts)
    np.testing.assert_array_equal(select_sequences(s, parts, 1.0), np.arange(N))


def test_n_selected_is_ceil_without_float_noise():
    assert n_selected(0.7, 10) == 7  # 0.7 * 10 = 7.000000000000001 in floating point
    assert n_selected(0.05, 1003) == 51
    assert n_selected(1e-6, 5) == 1


@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.floats(0.01, 1.0))
def test_quotas_property(sizes, r):
    q = quotas(sizes, r)
    total = sum(sizes)
    assert q.sum() == n_selected(r, total)
    assert (q >= 0).all() and (q <= np.array(sizes)).all()


# -- the shuffled-loader regression test ------------------------------
def test_scores_follow_ids_not_loader_positions():
    """Scores gathered from a shuffled loader must be attached to sample ids. The
    lineage bug mapped "batch c" to ids [c b, (c+1) b): under shuffling that
    selects the wrong samples, which this test would catch."""
    rng = np.random.default_rng(0)
    true = _known_scores(3)
    parts = partition(N, B, seed=9)

    def shuffled_loader():
        order = rng.permutation(N)
        for i in range(0, N, B):
            ids = order[i : i + B]
            yield ids, true[ids]  # the model's score of exactly these samples

    gathered = scores_by_id(shuffled_loader(), N)
    np.testing.assert_array_equal(gathered, true)
    np.testing.assert_array_equal(select_sequences(gathered, parts, 0.4), select_sequences(true, parts, 0.4))
    # the buggy positional mapping gives a different (effectively random) set
    buggy = np.empty(N)
    for c, (ids, sc) in enumerate(shuffled_loader()):
        buggy[c * B : c * B + len(ids)] = sc
    assert not np.array_equal(select_sequences(buggy, parts, 0.4), select_sequences(true, parts, 0.4))


def test_scores_by_id_rejects_gaps_and_repeats():
    with pytest.raises(ValueError, match="scored 0 times"):
        scores_by_id([(np.array([0, 1]), np.array([1.0, 2.0]))], 3)
    with pytest.raises(ValueError, match="scored 2 times"):
        scores_by_id([(np.array([0, 1, 1, 2]), np.ones(4))], 3)


# -- schedules ---------------------------------------------------------------------
@pytest.mark.parametrize("E", [30, 50, 75, 100])
def test_step_schedule(E):
    r = ratio_schedule("step", E, 0.1)
    assert r.shape == (E,) and r[0] == 0.1 and r[-1] == 1.0
    assert np.all(np.diff(r) >= 0)
    values, counts = np.unique(r, return_counts=True)
    assert len(values) == 10 and counts.max() - counts.min() <= 1
    np.testing.assert_allclose(np.diff(values), 0.1, rtol=1e-12)  # (1 - 0.1) / 9


@pytest.mark.parametrize("E", [30, 50, 75, 100])
def test_r_step_schedule(E):
    r = ratio_schedule("r-step", E, 0.7, r_min=0.4)
    assert r[0] == 0.7 and r[-1] == pytest.approx(0.4, abs=1e-15) and np.all(np.diff(r) <= 0)
    assert len(np.unique(np.round(r, 12))) == 10


def test_incremental_triggers_match_the_spec_example():
    """E = 100 gives a 25-epoch warm-up, then gaps 1, 3, 6, 8, 10 in five 15-epoch phases."""
    t = trigger_epochs("incremental", 100)
    expected = list(range(25)) + list(range(25, 40)) + list(range(40, 55, 3)) + list(range(55, 70, 6)) \
        + list(range(70, 85, 8)) + list(range(85, 100, 10))
    assert t.tolist() == expected


@pytest.mark.parametrize("E", [30, 50, 75, 100])
def test_incremental_triggers_general(E):
    t = trigger_epochs("incremental", E)
    w = int(0.25 * E)
    assert t[0] == 0 and t[-1] < E and np.all(np.diff(t) > 0)
    assert t[:w].tolist() == list(range(w))
    gaps = np.diff(t)
    assert gaps.max() <= max(2, round(E / 10))


@pytest.mark.parametrize("E", [30, 50, 75, 100])
def test_constant_triggers(E):
    assert trigger_epochs("constant", E, every=5).tolist() == list(range(0, E, 5))


def test_schedule_errors():
    with pytest.raises(ValueError, match="r_min"):
        ratio_schedule("r-step", 10, 0.3, r_min=0.4)
    with pytest.raises(ValueError, match="unknown"):
        ratio_schedule("linear", 10, 0.3)
    with pytest.raises(ValueError, match="r0"):
        ratio_schedule("step", 10, 0.0)


# -- scores -------------------------------------------------------------------------
def test_regression_and_classification_scores():
    np.testing.assert_allclose(regression_scores([1.0, -2.0], [0.5, 1.0]), [0.5, 3.0])
    np.testing.assert_allclose(regression_scores([[0.0, 3.0]], [[4.0, 0.0]]), [5.0])
    # logits (0, 0): softmax (1/2, 1/2), label 0: ||(-1/2, 1/2)|| = sqrt(1/2)
    np.testing.assert_allclose(classification_scores([[0.0, 0.0]], [0]), [0.5**0.5])


def test_element_scores_ignore_padding():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((2, 5, 3))
    Y = rng.integers(0, 3, (2, 5))
    lengths = np.array([3, 5])
    base = element_scores(P, Y, lengths)
    P2, Y2 = P.copy(), Y.copy()
    P2[0, 3:] = 100.0  # padded steps of sample 0
    Y2[0, 3:] = 2
    np.testing.assert_array_equal(element_scores(P2, Y2, lengths), base)
    # by hand for sample 0, mean normalisation
    p = np.exp(P[0, :3]) / np.exp(P[0, :3]).sum(-1, keepdims=True)
    onehot = np.eye(3)[Y[0, :3]]
    assert base[0] == pytest.approx(np.sqrt(((p - onehot) ** 2).sum()) / 3, rel=1e-12)


def test_selection_logic_imports_without_torch():
    import subprocess
    import sys

    code = "import sys, rntk.rent; rntk.rent.partition(5, 2, 0); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
