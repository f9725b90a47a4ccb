from __future__ import annotations

import numpy as np
import pytest

from truthline.errors import Invalid
from truthline.tasktypes import Labels, get_task_type

tt = get_task_type("classification")
CONFIG = {"labels": ["cat", "dog", "bird"]}


def test_validate_config_strips_and_checks() -> None:
    assert tt.validate_config({"labels": [" cat", "dog "]}) == {"labels": ["cat", "dog"]}
    for bad in ([], ["only"], ["a", "a"], "a,b", None):
        with pytest.raises(Invalid) as err:
            tt.validate_config({"labels": bad})
        assert err.value.field == "labels"
    with pytest.raises(Invalid) as err:  # the label at fault is named
        tt.validate_config({"labels": ["a", 2]})
    assert err.value.field == "labels[1]" and "2" in err.value.message


def test_validate_answer() -> None:
    assert tt.validate_answer("dog", CONFIG) == "dog"
    with pytest.raises(Invalid) as err:
        tt.validate_answer("Dog", CONFIG, field="gold")
    assert err.value.field == "gold" and "valid labels: cat, dog, bird" in err.value.message
    with pytest.raises(Invalid) as err:
        tt.validate_answer({"x": "y" * 2_000_000}, CONFIG)
    assert err.value.message.startswith("{'x': 'yyy") and len(err.value.message) < 200  # quoted, not echoed whole


def test_validate_item() -> None:
    assert tt.validate_item({"text": "hi"}) == []
    assert tt.validate_item({"image": "data:image/png;base64,AAAA"}) == []
    assert [p.field for p in tt.validate_item({"text": 3, "image": "x.png"})] == ["data.text", "data.image"]
    assert [p.field for p in tt.validate_item({})] == ["data"]
    assert tt.validate_item({"image_url": "https://x.org/a.png"}) == tt.validate_item({"image_url": "/m/a.png"}) == []
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "x.png"):
        assert [p.field for p in tt.validate_item({"image_url": bad})] == ["data.image_url"]
    assert [p.field for p in tt.validate_item(None)] == ["data"]


def labels(items: list[int], workers: list[int], answers: list[str], n_items: int) -> Labels:
    return Labels(np.array(items), np.array(workers), answers, n_items, max(workers) + 1 if workers else 0)


def test_infer_majority_with_gold_and_unlabelled_items() -> None:
    data = labels([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], ["cat", "cat", "dog", "bird", "bird"], n_items=4)
    inf = tt.infer(data, CONFIG, "mv", gold={3: "dog"})
    assert inf.answers == ["cat", "bird", None, "dog"]
    assert np.isnan(inf.confidence[2]) and inf.confidence[0] > 0.5
    assert len(inf.worker_accuracy) == 3


def test_infer_ignores_answers_no_longer_in_the_label_set() -> None:
    data = labels([0, 0], [0, 1], ["cat", "lion"], n_items=1)
    assert tt.infer(data, CONFIG, "mv", {}).answers == ["cat"]


def test_unknown_method_is_invalid() -> None:
    with pytest.raises(Invalid) as err:
        tt.infer(labels([0], [0], ["cat"], 1), CONFIG, "magic", {})
    assert err.value.field == "method" and not err.value.message.startswith("method:")


def test_label_counts() -> None:
    assert tt.label_counts(["cat", "cat", "bird", "gone"], CONFIG) == {"cat": 2, "dog": 0, "bird": 1}
