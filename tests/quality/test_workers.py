import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthline.quality.dawid_skene import fit
from truthline.quality.labels import CrowdLabels, QualityInputError
from truthline.quality.workers import (
    accuracy_interval,
    confusion_from_posteriors,
    spammer_score,
    worker_stats,
)


def _simulate(n_items: int, acc: list[float], k: int = 3, seed: int = 0) -> tuple[CrowdLabels, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    items = np.tile(np.arange(n_items), len(acc))
    workers = np.repeat(np.arange(len(acc)), n_items)
    right = rng.random(len(items)) < np.asarray(acc)[workers]
    wrong = (truth[items] + rng.integers(1, k, len(items))) % k
    labels = np.where(right, truth[items], wrong)
    return CrowdLabels.from_arrays(items, workers, labels, n_classes=k), truth


def test_accuracy_and_interval_from_truth() -> None:
    data, truth = _simulate(400, [0.9, 0.6, 1 / 3])
    stats = worker_stats(data, truth=truth)
    assert stats.n_labels.tolist() == [400, 400, 400]
    assert stats.accuracy == pytest.approx([0.9, 0.6, 1 / 3], abs=0.06)
    assert np.all(stats.lower < stats.accuracy) and np.all(stats.accuracy < stats.upper)
    assert stats.spammer_score[0] > 0.6 and stats.spammer_score[2] < 0.05
    assert stats.spammer_score[0] > stats.spammer_score[1] > stats.spammer_score[2]


def test_posteriors_equal_truth_when_one_hot_and_soft_credit() -> None:
    data, truth = _simulate(50, [0.8, 0.5])
    onehot = np.eye(3)[truth]
    a, b = worker_stats(data, onehot), worker_stats(data, truth=truth)
    assert np.allclose(a.accuracy, b.accuracy) and np.allclose(a.lower, b.lower)
    flat = worker_stats(data, np.full((50, 3), 1 / 3))
    assert flat.n_scored.tolist() == [50.0, 50.0]
    # one third credit per label: mean (1 + 50/3) / (2 + 50)
    assert flat.accuracy == pytest.approx((1 + 50 / 3) / 52)


def test_unknown_truth_is_not_scored() -> None:
    data = CrowdLabels.from_arrays([0, 1, 2], [0, 0, 1], [1, 0, 1], n_classes=2)
    stats = worker_stats(data, truth=[1, -1, -1])
    assert stats.n_scored.tolist() == [1.0, 0.0]
    assert stats.accuracy[1] == pytest.approx(0.5)  # prior mean
    assert stats.lower[1] == pytest.approx(0.025) and stats.upper[1] == pytest.approx(0.975)


def test_three_labels_do_not_make_a_verdict() -> None:
    mean, lo, hi = accuracy_interval([3.0, 300.0], [3.0, 300.0])
    assert lo[0] < 0.5 and hi[0] > 0.99  # 3/3 correct: could still be a coin
    assert lo[1] > 0.98
    jmean, jlo, _ = accuracy_interval([3.0], [3.0], prior="jeffreys")
    assert jmean[0] > mean[0] and jlo[0] > lo[0]


@settings(max_examples=80, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(1, 200), st.sampled_from(["uniform", "jeffreys"]), st.floats(0.5, 0.99))
def test_interval_contains_estimate_and_narrows(p: float, n: int, prior: str, level: float) -> None:
    correct = np.array([p * n, p * n * 10])
    total = np.array([n, n * 10], dtype=float)
    mean, lo, hi = accuracy_interval(correct, total, level, prior)  # type: ignore[arg-type]
    assert np.all(lo <= mean) and np.all(mean <= hi)
    assert np.all((0 <= lo) & (hi <= 1))
    assert hi[1] - lo[1] < hi[0] - lo[0]


def test_spammer_score_reference_values() -> None:
    k = 3
    perfect, spam = np.eye(k), np.tile([0.5, 0.3, 0.2], (k, 1))
    swapped = np.eye(k)[[1, 2, 0]]
    s = spammer_score(np.stack([perfect, spam, swapped, 7 * perfect]))  # rows are normalised
    assert s.tolist() == pytest.approx([1.0, 0.0, 1.0, 1.0])
    # binary: (sensitivity + specificity - 1)^2
    sens, spec = 0.9, 0.7
    binary = np.array([[[spec, 1 - spec], [1 - sens, sens]]])
    assert spammer_score(binary)[0] == pytest.approx((sens + spec - 1) ** 2)
    with pytest.raises(QualityInputError, match="confusion"):
        spammer_score(np.ones((2, 3)))
    with pytest.raises(QualityInputError, match="confusion"):
        spammer_score(-np.ones((1, 2, 2)))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 5))
def test_spammer_score_bounds_and_class_permutation(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    conf = rng.dirichlet(np.ones(k), size=(4, k))
    s = spammer_score(conf)
    assert np.all((0 <= s) & (s <= 1))
    perm = rng.permutation(k)
    assert spammer_score(conf[:, perm][:, :, perm]) == pytest.approx(s)
    assert spammer_score(conf[:, :1].repeat(k, axis=1)) == pytest.approx(np.zeros(4), abs=1e-12)


def test_confusion_from_posteriors_and_given_confusion() -> None:
    data, truth = _simulate(300, [0.95, 1 / 3], k=2)
    conf = confusion_from_posteriors(data, np.eye(2)[truth], smoothing=0.0)
    assert conf.shape == (2, 2, 2) and np.allclose(conf.sum(axis=2), 1.0)
    assert np.diagonal(conf[0]) == pytest.approx([0.95, 0.95], abs=0.05)
    given_conf = np.stack([np.eye(2), np.full((2, 2), 0.5)])
    stats = worker_stats(data, truth=truth, confusion=given_conf)
    assert stats.spammer_score.tolist() == pytest.approx([1.0, 0.0])


def test_bad_input_names_argument() -> None:
    data, truth = _simulate(10, [0.9])
    with pytest.raises(QualityInputError, match="posteriors"):
        worker_stats(data)
    with pytest.raises(QualityInputError, match="posteriors"):
        worker_stats(data, np.ones((10, 3)))
    with pytest.raises(QualityInputError, match="posteriors"):
        worker_stats(data, np.ones((9, 3)) / 3)
    with pytest.raises(QualityInputError, match="truth"):
        worker_stats(data, truth=np.full(10, 5))
    with pytest.raises(QualityInputError, match="level"):
        worker_stats(data, truth=truth, level=1.5)
    with pytest.raises(QualityInputError, match="prior"):
        worker_stats(data, truth=truth, prior="haldane")  # type: ignore[arg-type]
    with pytest.raises(QualityInputError, match="confusion"):
        worker_stats(data, truth=truth, confusion=np.ones((2, 3, 3)))


def test_with_a_fitted_model_flags_the_spammer() -> None:
    data, _ = _simulate(300, [0.85, 0.8, 0.75, 1 / 3])
    agg = fit(data)
    stats = worker_stats(data, agg.posteriors, confusion=agg.worker_params["confusion"])
    assert np.argmin(stats.spammer_score) == 3 and stats.spammer_score[3] < 0.1
    assert np.all(stats.upper[3] < stats.lower[:3])
    assert stats.accuracy[:3] == pytest.approx([0.85, 0.8, 0.75], abs=0.08)


def test_class_confusion_counts_the_labels_each_answer_got() -> None:
    from truthline.quality.workers import class_confusion

    # item 0 answered cat: labelled cat, cat, dog; item 1 answered dog: dog, cat; item 2 left out (-1)
    data = CrowdLabels.from_arrays([0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 1, 2], [0, 0, 1, 1, 0, 1], n_classes=2)
    counts = class_confusion(data, np.array([0, 1, -1]))
    assert counts.tolist() == [[2, 1], [1, 1]]
    assert class_confusion(data, np.array([1, 1, 1])).tolist() == [[0, 0], [3, 3]]
    for bad in (np.array([0, 1]), np.array([0.0, 1.0, 0.0]), np.array([0, 2, 0])):
        with pytest.raises(QualityInputError):
            class_confusion(data, bad)


def test_top_slips_name_each_workers_habit() -> None:
    from truthline.quality.workers import top_slips

    # 12 items answered 0 (fox), 12 answered 1 (wolf), 12 answered 2 (dog). Worker 0 calls 5 foxes wolves
    # and 1 dog a fox; worker 1 slips twice, once each way (no habit); worker 2 is always right.
    answers = np.repeat([0, 1, 2], 12)
    items, workers, labels = [], [], []
    for i, a in enumerate(answers.tolist()):
        for w in range(3):
            given = a
            if w == 0 and a == 0 and i < 5:
                given = 1
            if w == 0 and i == 30:
                given = 0
            if w == 1 and i in (0, 20):
                given = 2
            items.append(i), workers.append(w), labels.append(given)
    data = CrowdLabels.from_arrays(items, workers, labels, n_classes=3)
    slips = top_slips(data, answers)
    assert (slips.answer.tolist(), slips.given.tolist()) == ([0, -1, -1], [1, -1, -1])
    assert (slips.count.tolist(), slips.of.tolist()) == ([5, 0, 0], [12, 0, 0])
    # any slip counts: worker 1's tie goes to the lowest pair
    loose = top_slips(data, answers, min_count=1, min_share=0.0, concentration=0.0)
    assert (loose.answer.tolist(), loose.given.tolist(), loose.count.tolist()) == ([0, 0, -1], [1, 2, -1], [5, 1, 0])
    assert top_slips(data, np.full(36, -1)).count.tolist() == [0, 0, 0]  # no answers: nothing to slip on


def test_a_busy_careful_worker_has_no_habit_where_a_careless_one_does() -> None:
    from truthline.quality.workers import top_slips

    # 3,000 labels over 5 classes: worker 0 is right 98% of the time, errors spread evenly (about 15 slips
    # per class pair, far over any fixed count); worker 1 gives 30% of the class-3 items label 4
    rng = np.random.default_rng(0)
    answers = rng.integers(0, 5, 3000)
    careful = np.where(rng.random(3000) < 0.98, answers, (answers + rng.integers(1, 5, 3000)) % 5)
    careless = np.where((answers == 3) & (rng.random(3000) < 0.3), 4, answers)
    data = CrowdLabels.from_arrays(np.tile(np.arange(3000), 2), np.repeat([0, 1], 3000),
                                   np.concatenate([careful, careless]), n_classes=5)
    slips = top_slips(data, answers)
    assert slips.answer.tolist() == [-1, 3] and slips.given.tolist() == [-1, 4]
    assert slips.of[1] == np.sum(answers == 3) and slips.count[1] == np.sum(careless != answers)
    assert top_slips(data, answers, min_share=0.0, concentration=0.0).answer[0] >= 0  # a fixed count flags it


def test_top_confusions_rank_the_off_diagonal_cells() -> None:
    from truthline.quality.workers import top_confusions

    counts = np.array([[30, 20, 2], [0, 50, 4], [9, 0, 41]])
    assert top_confusions(counts) == [(0, 1, 20, 20 / 52), (2, 0, 9, 9 / 50), (1, 2, 4, 4 / 54)]  # 2 labels: noise
    assert top_confusions(counts, top=1) == [(0, 1, 20, 20 / 52)]
    assert top_confusions(counts, min_count=1)[-1] == (0, 2, 2, 2 / 52)
    assert top_confusions(np.diag([5, 5])) == []  # nobody confused anything
    assert top_confusions(np.array([[3, 0, 0], [1, 2, 0], [0, 0, 0]]), min_count=0) == [(1, 0, 1, 1 / 3)]  # no 0/0


def test_top_label_slips_find_a_label_missed_more_than_the_others() -> None:
    from truthline.quality.workers import top_label_slips

    # 300 items x 3 labels, answers at random; worker 0 flips 10% of every decision (no habit), worker 1
    # flips 5% and also misses label 1 on 40% of the items that have it, worker 2 adds label 2 everywhere
    rng = np.random.default_rng(3)
    answers = (rng.random(900) < 0.4).astype(np.int64)  # row item * 3 + label
    label = np.arange(900) % 3
    noisy = answers ^ (rng.random(900) < 0.1)
    forgets = np.where((label == 1) & (answers == 1) & (rng.random(900) < 0.4), 0, answers ^ (rng.random(900) < 0.05))
    eager = np.where(label == 2, 1, answers)
    data = CrowdLabels.from_arrays(np.tile(np.arange(900), 3), np.repeat([0, 1, 2], 900),
                                   np.concatenate([noisy, forgets, eager]).astype(np.int64), n_classes=2)
    slips = top_label_slips(data, answers, 3)
    assert slips.answer.tolist() == [-1, 1, 2] and slips.given.tolist() == [-1, 0, 1]  # none, missed 1, added 2
    assert slips.of[2] == np.sum((label == 2) & (answers == 0)) == slips.count[2]  # every such row
    assert top_label_slips(data, answers, 3, alpha=1.0).answer[0] >= 0  # without the test, noise is a "habit"
    alone = CrowdLabels.from_arrays(np.arange(0, 900, 3), np.zeros(300, np.int64), np.zeros(300, np.int64),
                                    n_items=900, n_classes=2)  # one worker, label 0 only, never chosen
    only = top_label_slips(alone, answers, 3)  # nothing else to compare with: the share decides
    assert only.answer.tolist() == [0] and only.given.tolist() == [0] and only.count[0] == np.sum(answers[::3])
