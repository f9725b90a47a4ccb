"""The pairwise task type: fixed labels set by `ties`, two candidates per item, answers a/b/tie, blind sides,
and the Bradley-Terry ranking of what produced the candidates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

from truthline.errors import Invalid
from truthline.tasktypes import Labels, get_task_type
from truthline.tasktypes.pairwise import rank, side_indices, strength_informed

tt = get_task_type("pairwise")
PLAIN = tt.validate_config({})
TIES = tt.validate_config({"ties": True})


def test_ties_set_the_labels() -> None:
    assert PLAIN == {"labels": ["a", "b"], "ties": False, "random_order": True}
    assert TIES == {"labels": ["a", "b", "tie"], "ties": True, "random_order": True}
    assert tt.validate_config({"labels": ["a", "b", "tie"]}) == TIES  # labels given say whether ties are allowed
    assert tt.validate_config({"labels": ["a", "b"], "ties": False}) == PLAIN
    assert tt.describe(TIES)["ties"] is True


@pytest.mark.parametrize("config, field, says", [
    ({"ties": "yes"}, "ties", "true or false"),
    ({"ties": 1}, "ties", "true or false"),
    ({"labels": ["left", "right"]}, "labels", "set ties instead"),
    ({"labels": ["b", "a"]}, "labels", "set ties instead"),
    ({"labels": ["a", "b"], "ties": True}, "labels", "disagree"),
    ({"random_order": "no"}, "random_order", "true or false"),
    ({"random_order": 0}, "random_order", "true or false"),
])
def test_bad_config_names_the_field(config: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(Invalid) as err:
        tt.validate_config(config)
    assert err.value.field == field and says in err.value.message


def test_answers_are_a_b_or_tie_where_allowed() -> None:
    assert tt.validate_answer("a", PLAIN) == "a" and tt.validate_answer(" B ", PLAIN) == "b"
    assert tt.validate_answer("Tie", TIES) == "tie"
    for bad in ("tie", "c", 1, None, ["a"]):
        with pytest.raises(Invalid) as err:
            tt.validate_answer(bad, PLAIN, field="labels[3].answer")
        assert err.value.field == "labels[3].answer"
    with pytest.raises(Invalid) as err:
        tt.validate_answer("tie", PLAIN)
    assert "takes no ties" in err.value.message


def test_items_need_both_candidates() -> None:
    assert tt.validate_item({"text": "Which reply is kinder?", "a": "x", "b": "y", "a_id": "m1", "b_id": "m2"}) == []
    assert tt.validate_item({"a_image_url": "https://x/1.png", "b_image_url": "/img/2.png"}) == []


@pytest.mark.parametrize("data, field", [
    ({"text": "q", "a": "x"}, "data.b"),
    ({"text": "q"}, "data.a"),
    ({"a": 1, "b": "y"}, "data.a"),
    ({"a": "x", "b_image_url": "javascript:alert(1)"}, "data.b_image_url"),
    ({"a": "x", "b": "y", "a_id": "m1"}, "data.b_id"),
    ({"a": "x", "b": "y", "b_id": "m1"}, "data.a_id"),
    ({"a": "x", "b": "y", "a_id": "m1", "b_id": " m1"}, "data.b_id"),
    ({"a": "x", "b": "y", "a_id": "", "b_id": "m2"}, "data.a_id"),
    ({"a": "x", "b": "y", "a_id": 3, "b_id": "m2"}, "data.a_id"),
    ({"a": "x", "b": "y", "a_id": "m" * 201, "b_id": "m2"}, "data.a_id"),
    ({"a": "x", "b": "y", "text": 5}, "data.text"),
])
def test_bad_items_name_the_field(data: dict[str, Any], field: str) -> None:
    problems = tt.validate_item(data)
    assert problems and problems[0].field == field, problems


def test_annotators_do_not_see_which_side_is_which_model() -> None:
    data = {"text": "q", "a": "x", "b": "y", "a_id": "gpt", "b_id": "llama"}
    assert tt.annotator_data(data) == {"text": "q", "a": "x", "b": "y"}
    assert data["a_id"] == "gpt"  # the stored item is untouched
    assert get_task_type("classification").annotator_data(data) is data


def test_a_swapped_lease_shows_b_first_and_its_answer_is_stored_as_the_items_own() -> None:
    data = {"text": "q", "a": "x", "b": "y", "a_id": "gpt", "b_id": "llama"}
    assert tt.annotator_data(data, swapped=True) == {"text": "q", "a": "y", "b": "x"}
    pictures = {"a_image_url": "/1.png", "b": "y"}  # one side an image, the other a text
    assert tt.annotator_data(pictures, swapped=True) == {"b_image_url": "/1.png", "a": "y"}
    assert [tt.as_stored(answer, True) for answer in ("a", "b", "tie")] == ["b", "a", "tie"]
    assert [tt.as_stored(answer, False) for answer in ("a", "b", "tie")] == ["a", "b", "tie"]
    assert tt.swaps(PLAIN) and not tt.swaps(tt.validate_config({"random_order": False}))
    assert tt.swaps({"labels": ["a", "b"], "ties": False})  # a project made before the option: random order
    assert not get_task_type("classification").swaps({"labels": ["a", "b"]})


def test_inference_corrects_a_worker_who_always_says_a() -> None:
    # three careful workers answer the truth; a fourth says "a" to everything (position bias)
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 60)
    items, workers, answers = [], [], []
    for i, t in enumerate(truth.tolist()):
        for w in range(3):
            items.append(i), workers.append(w), answers.append("ab"[t] if rng.random() < 0.85 else "ab"[1 - t])
        items.append(i), workers.append(3), answers.append("a")
    labels = Labels(np.array(items), np.array(workers), answers, 60, 4)
    inf = tt.infer(labels, PLAIN, "ds", {})
    assert np.mean([a == "ab"[t] for a, t in zip(inf.answers, truth.tolist(), strict=True)]) > 0.9
    assert inf.worker_accuracy[3] < inf.worker_accuracy[:3].min()


def _arena(strengths: list[float], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = np.array(strengths)
    a = rng.integers(0, len(s), n)
    b = (a + rng.integers(1, len(s), n)) % len(s)
    a_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-(s[a] - s[b])))
    return a, b, np.where(a_wins[:, None], [[0.97, 0.03]], [[0.03, 0.97]])


def test_rank_orders_the_sides_with_intervals() -> None:
    ids = ["m0", "m1", "m2", "m3"]
    a, b, probs = _arena([1.5, 0.5, 0.0, -1.0], 800)
    r = rank(a, b, ids, probs)
    assert r.ids == ids and r.converged and r.items == 800 and r.unranked == 0
    assert np.all(np.diff(r.scores) < 0) and np.all((r.lower < r.scores) & (r.scores < r.upper))
    assert r.comparisons.sum() == 2 * 800 and r.wins.sum() == r.losses.sum() == 800 and r.ties.sum() == 0
    assert r.scores.sum() == pytest.approx(0.0, abs=1e-6)
    fewer = rank(a[:100], b[:100], ids, probs[:100])
    assert all(fewer.stderr[fewer.ids.index(x)] > r.stderr[k] for k, x in enumerate(r.ids))  # fewer items, wider


def test_rank_swapping_sides_changes_nothing() -> None:
    ids = [f"m{k}" for k in range(6)]
    a, b, probs = _arena([1.0, 0.6, 0.2, -0.2, -0.6, -1.0], 600, seed=3)
    r = rank(a, b, ids, probs)
    swapped = rank(b, a, ids, probs[:, ::-1].copy())
    assert swapped.ids == r.ids and np.allclose(swapped.scores, r.scores, atol=1e-6)
    assert spearmanr(r.scores, [1.0, 0.6, 0.2, -0.2, -0.6, -1.0][: len(r.scores)])[0] > 0.8


def test_rank_splits_ties_and_skips_unanswered_or_unnamed_items() -> None:
    ids = ["x", "y"]
    a, b = np.array([0, 0, 0, -1, 0]), np.array([1, 1, 1, -1, 1])
    probs = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [np.nan] * 3])
    r = rank(a, b, ids, probs)
    assert r.items == 3 and r.unranked == 1  # item 3 names no sides; item 4 has no answer
    assert r.ids == ["x", "y"] and r.scores[0] > 0  # one win and two ties: x is ahead, but not by much
    assert r.ties.tolist() == [2, 2] and r.wins.tolist() == [1, 0] and r.losses.tolist() == [0, 1]
    with_unseen = rank(a, b, ["x", "y", "z"], probs)  # z: named by no answered item
    assert with_unseen.ids == ["x", "y", "z"] and with_unseen.scores[1] < 0 == with_unseen.scores[2]
    assert with_unseen.comparisons.tolist() == [3, 3, 0]
    empty = rank(np.full(3, -1), np.full(3, -1), [], np.full((3, 2), 0.5))
    assert empty.ids == [] and empty.items == 0 and empty.unranked == 3


def test_rank_reads_uncertain_items_through_the_strengths() -> None:
    # a noisy crowd: three labels per prompt, a third of them random clicks; DS's posteriors are soft
    rng = np.random.default_rng(7)
    strength = np.linspace(1.5, -1.5, 8)
    n = 3000
    a = rng.integers(0, 8, n)
    b = (a + rng.integers(1, 8, n)) % 8
    truth = (rng.random(n) >= 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))).astype(int)
    items = np.repeat(np.arange(n), 3)
    workers = rng.integers(0, 30, len(items))
    said = np.where(rng.random(len(items)) < 0.67, truth[items], rng.integers(0, 2, len(items)))
    inf = tt.infer(Labels(items, workers, ["ab"[k] for k in said], n, 30), PLAIN, "ds", {})
    ids = [f"m{k}" for k in range(8)]
    r = rank(a, b, ids, inf.probabilities)
    scores = np.array([r.scores[r.ids.index(x)] for x in ids])
    # the same items each counted at the crowd's flat-prior posterior: scores pulled toward 0
    from truthline.quality.pairwise import bradley_terry

    p = inf.probabilities
    flat = bradley_terry(np.r_[a, a], np.r_[b, b], np.r_[np.zeros(n, int), np.ones(n, int)],
                         weights=np.r_[p[:, 0], p[:, 1]], n_items=8)
    assert r.converged
    assert np.abs(scores - strength).mean() < 0.6 * np.abs(flat.scores - strength).mean()
    lower = np.array([r.lower[r.ids.index(x)] for x in ids])
    upper = np.array([r.upper[r.ids.index(x)] for x in ids])
    assert np.mean((lower <= strength) & (strength <= upper)) >= 0.6
    assert r.wins.sum() + r.ties.sum() // 2 == np.sum(~np.isnan(p[:, 0]))  # the items' own answers


def test_side_indices_name_each_items_sides_by_their_position_in_the_ids() -> None:
    item_ids = np.array([3, 5, 8, 13])
    sides = side_indices([(5, " gpt", "claude"), (13, "claude", "gpt "), (8, None, None)], item_ids)
    assert sides.ids == ["claude", "gpt"] and sides.named  # " gpt" and "gpt " are one model
    assert sides.a.tolist() == [-1, 1, -1, 0] and sides.b.tolist() == [-1, 0, -1, 1]
    assert not side_indices([], item_ids).named


def _split_arena() -> tuple[Any, np.ndarray, np.ndarray]:
    """Items 0-9: m0 against m1, both workers picking m0 (A in even items, B in odd ones); items 10 and 11: m1
    as A against m0, the workers split; item 12: no ids, split too."""
    answers, items, workers = [], [], []
    for i in range(13):
        pair = ("a", "b") if i >= 10 else ("a", "a") if i % 2 == 0 else ("b", "b")
        for w, answer in enumerate(pair):
            items.append(i)
            workers.append(w)
            answers.append(answer)
    inf = tt.infer(Labels(np.array(items), np.array(workers), answers, 13, 2), PLAIN, "mv", {})
    a = np.array([0 if i % 2 == 0 else 1 for i in range(10)] + [1, 1, -1])
    return inf, a, np.where(a >= 0, 1 - a, -1)


def test_strength_informed_answers_a_split_item_by_the_strengths() -> None:
    crowd, a, b = _split_arena()
    r = rank(a, b, ["m0", "m1"], crowd.probabilities)
    inf = strength_informed(crowd, r, PLAIN["labels"], ())
    assert crowd.answers[10] == "a" and crowd.confidence[10] == 0.5  # mv: a coin toss, settled toward "a"
    assert inf.answers[10] == inf.answers[11] == "b" and inf.confidence[10] > 0.5  # b: m0, which won all else
    assert inf.answers[12] == crowd.answers[12] and np.array_equal(inf.probabilities[12], crowd.probabilities[12])
    assert inf.answers == [PLAIN["labels"][k] for k in inf.probabilities.argmax(axis=1)]
    assert np.allclose(inf.confidence, inf.probabilities.max(axis=1))
    assert np.allclose(inf.probabilities.sum(axis=1), 1.0)
    assert np.array_equal(inf.fit.posteriors, inf.probabilities) and inf.fit is not crowd.fit
    assert crowd.fit.posteriors[10].tolist() == [0.5, 0.5]  # the crowd's own inference is left as it was
    kept = strength_informed(crowd, r, PLAIN["labels"], [10])  # clamped (gold): the crowd's answer stays
    assert kept.answers[10] == "a" and kept.confidence[10] == 0.5 and kept.answers[11] == "b"
    assert np.array_equal(r.duels[:, 2][r.fitted == 10], [1])  # the ranking counts the refined answer
