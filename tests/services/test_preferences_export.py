"""The `preferences` export of a pairwise project: RLHF/DPO pairs {external_id, prompt, chosen, rejected,
chosen_id, rejected_id, confidence}, one line per item the crowd preferred a side of, streamed in batches."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Forbidden, Invalid, NotFound
from truthline.services import exporting
from truthline.services.exporting import export, iter_export
from truthline.services.importing import import_items
from tests.pairs import press

KEYS = {"external_id", "prompt", "prompt_image", "chosen", "rejected", "chosen_id", "rejected_id", "confidence"}
# external_id -> (data, the answer both workers give; None: nobody labels it)
PAIRS: dict[str, tuple[dict[str, Any], str | None]] = {
    "p1": ({"text": "Say hi", "a": "hi", "b": "hello there", "a_id": "small", "b_id": "large"}, "b"),
    "p2": ({"text": "Add 2+2", "a": "4", "b": "5", "a_id": "large", "b_id": "small"}, "a"),
    "p3": ({"text": "Pick one", "a": "x", "b": "y", "a_id": "small", "b_id": "large"}, "tie"),
    "p4": ({"a": "no prompt, no ids", "b": "other"}, "a"),
    "p5": ({"text": "Which photo?", "a_image_url": "https://img.example/a.png", "b_image_url": "/media/b.png"}, "b"),
    "p6": ({"text": "Unlabelled", "a": "m", "b": "n"}, None),
    "p7": ({"text": "Ünïcode ✓", "a": "naïve \"quoted\"\nline", "b": "plain", "a_id": "large", "b_id": "small"}, "a"),
    "p8": ({"image_url": "https://img.example/q.png", "a": "a cat", "b": "a dog"}, "b"),  # a picture as the prompt
}


@pytest.fixture
def pairs(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable) -> Any:
    project = make_project(name="Duel", task_type="pairwise", labels=None, ties=True, overlap=2)
    from truthline.services.tasks import next_task, submit

    def add(answered: bool) -> None:
        import_items(engine, admin.user, project.id, [(i + 1, {"external_id": k, "data": data})
                                                      for i, (k, (data, answer)) in enumerate(PAIRS.items())
                                                      if (answer is not None) == answered])

    add(answered=True)
    for name in ("w0", "w1"):
        person = make_annotator(project, username=name)
        while (task := next_task(engine, person.user, project.id)) is not None:
            data, answer = PAIRS[task.external_id]
            submit(engine, person.user, task.lease_id, press(answer, data, task.data), 1000)
    add(answered=False)  # imported after the labelling: nobody labels it
    return project


def _lines(engine: Engine, actor: Any, project_id: int, **kw: Any) -> list[dict[str, Any]]:
    out = io.BytesIO()
    written = export(engine, actor, project_id, "preferences", out, **kw)
    assert written == len(out.getvalue())
    text = out.getvalue().decode()
    assert text.endswith("\n") and "\n\n" not in text
    return [json.loads(line) for line in text.splitlines()]


def test_preferences_are_chosen_and_rejected_per_answered_pair(engine: Engine, admin: Any, pairs: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporting, "BATCH", 2)  # several keyset batches, one of them with nothing to write
    rows = _lines(engine, admin.user, pairs.id, method="mv")
    assert [r["external_id"] for r in rows] == ["p1", "p2", "p4", "p5", "p7", "p8"]  # p3 a tie, p6 unanswered
    assert all(set(r) == KEYS for r in rows)
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["p1"] == {"external_id": "p1", "prompt": "Say hi", "chosen": "hello there", "rejected": "hi",
                           "chosen_id": "large", "rejected_id": "small", "confidence": 1.0,
                           "prompt_image": None}
    assert (by_id["p2"]["chosen"], by_id["p2"]["rejected"], by_id["p2"]["chosen_id"]) == ("4", "5", "large")
    assert by_id["p4"]["prompt"] is None and by_id["p4"]["chosen_id"] is None and by_id["p4"]["rejected_id"] is None
    assert (by_id["p5"]["chosen"], by_id["p5"]["rejected"]) == ("/media/b.png", "https://img.example/a.png")
    assert by_id["p7"]["chosen"] == 'naïve "quoted"\nline' and by_id["p7"]["prompt"] == "Ünïcode ✓"
    assert (by_id["p8"]["prompt"], by_id["p8"]["prompt_image"], by_id["p8"]["chosen"]) == (
        None, "https://img.example/q.png", "a dog")
    assert all(0.5 < r["confidence"] <= 1.0 for r in rows)


def test_confidence_follows_the_method(engine: Engine, admin: Any, pairs: Any) -> None:
    for method in ("auto", "ds"):
        rows = _lines(engine, admin.user, pairs.id, method=method)
        assert {r["external_id"] for r in rows} <= {"p1", "p2", "p4", "p5", "p7", "p8"}
        assert all(isinstance(r["confidence"], float) and 0 < r["confidence"] <= 1 for r in rows)


def test_only_pairwise_projects_export_preferences(engine: Engine, admin: Any, make_project: Callable,
                                                   add_items: Callable) -> None:
    pets = make_project()
    add_items(pets, 2)
    with pytest.raises(Invalid) as refused:
        iter_export(engine, admin.user, pets.id, "preferences")
    assert refused.value.field == "format"
    assert "pairwise" in refused.value.message and "classification" in refused.value.message
    with pytest.raises(Invalid) as unknown:
        iter_export(engine, admin.user, pets.id, "dpo")
    assert "preferences" in unknown.value.message  # listed among the formats


def test_preferences_take_no_probabilities(engine: Engine, admin: Any, pairs: Any) -> None:
    with pytest.raises(Invalid) as refused:
        iter_export(engine, admin.user, pairs.id, "preferences", probabilities=True)
    assert refused.value.field == "probabilities"


def test_preferences_are_for_managers(engine: Engine, admin: Any, pairs: Any, make_annotator: Callable,
                                      make_person: Callable) -> None:
    worker = make_annotator(pairs, username="w9")
    with pytest.raises(Forbidden):
        iter_export(engine, worker.user, pairs.id, "preferences")
    with pytest.raises(NotFound):
        iter_export(engine, make_person("stranger").user, pairs.id, "preferences")


def test_an_unlabelled_pairwise_project_exports_nothing(engine: Engine, admin: Any, make_project: Callable) -> None:
    project = make_project(name="Empty duel", task_type="pairwise", labels=None)
    import_items(engine, admin.user, project.id, [(1, {"external_id": "e1", "data": {"a": "x", "b": "y"}})])
    out = io.BytesIO()
    assert export(engine, admin.user, project.id, "preferences", out) == 0 and out.getvalue() == b""


def test_plain_jsonl_of_a_pairwise_project_is_unchanged(engine: Engine, admin: Any, pairs: Any) -> None:
    out = io.BytesIO()
    export(engine, admin.user, pairs.id, "jsonl", out, method="mv")
    rows = {r["external_id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert len(rows) == len(PAIRS) and rows["p3"]["answer"] == "tie" and len(rows["p3"]["annotations"]) == 2
    assert rows["p1"]["data"]["a_id"] == "small"  # the full data, ids included
