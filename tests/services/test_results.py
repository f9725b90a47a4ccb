from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Forbidden, Invalid
from truthline.services.importing import import_items
from truthline.services.dashboard import quality_report, workers_table
from truthline.services.results import item_results, project_summary

LABELS = ["cat", "dog", "bird"]


@pytest.fixture
def labelled(engine: Engine, admin: Any, make_project: Callable, make_person: Callable) -> Any:
    """40 items with hidden truth (every 5th also gold), 4 good workers and 1 spammer, 5 labels per item
    (bulk-imported: the routing path has its own tests)."""
    from truthline.services.label_import import import_annotations

    project = make_project(overlap=5)
    records = []
    for i in range(40):
        rec: dict[str, Any] = {"external_id": f"i{i}", "data": {"text": str(i)}, "truth": LABELS[i % 3]}
        if i % 5 == 0:
            rec["gold"] = LABELS[i % 3]
        records.append((i + 1, rec))
    import_items(engine, admin.user, project.id, records)
    rnd = random.Random(7)
    names = [f"good{k}" for k in range(4)] + ["spammer"]
    for name in names:
        make_person(name)
    labels = []
    for i in range(40):
        for name in names:
            truth = LABELS[i % 3]
            answer = "bird" if name == "spammer" else truth if rnd.random() < 0.85 else rnd.choice(LABELS)
            labels.append((len(labels) + 1, {"external_id": f"i{i}", "worker": name, "answer": answer}))
    import_annotations(engine, admin.user, project.id, labels)
    return project


def test_item_results(engine: Engine, admin: Any, labelled: Any, add_items: Callable) -> None:
    add_items(labelled, 1, start=100)  # an item nobody labelled
    rows = item_results(engine, admin.user, labelled.id, method="ds")
    assert len(rows) == 41
    by_ext = {r["external_id"]: r for r in rows}
    assert by_ext["item-100"]["answer"] is None and by_ext["item-100"]["confidence"] is None
    assert by_ext["i0"]["answer"] == "cat" and by_ext["i0"]["n_labels"] == 5  # gold item
    right = sum(r["answer"] == LABELS[int(r["external_id"][1:]) % 3] for r in rows if r["external_id"] != "item-100")
    assert right >= 36
    assert all(0 <= r["confidence"] <= 1 for r in rows if r["confidence"] is not None)


def test_worker_stats_find_the_spammer(engine: Engine, admin: Any, labelled: Any) -> None:
    stats = {w["username"]: w for w in workers_table(engine, admin.user, labelled.id, method="ds")}
    assert set(stats) == {"good0", "good1", "good2", "good3", "spammer"}
    assert stats["spammer"]["upper"] < min(stats[f"good{k}"]["lower"] for k in range(4))
    assert all(w["lower"] <= w["accuracy"] <= w["upper"] for w in stats.values())
    # one figure per worker: the workers table and the quality report agree
    assert quality_report(engine, admin.user, labelled.id, "ds")["workers"] == list(stats.values())
    assert stats["spammer"]["gold_labels"] == 8 and stats["spammer"]["n_labels"] == 40
    assert stats["good0"]["gold_correct"] >= 5


def test_summary(engine: Engine, admin: Any, labelled: Any) -> None:
    s = project_summary(engine, admin.user, labelled.id)
    assert s["progress"] == {"items": 40, "done": 40, "labels": 200, "leased": 0, "gold": 8, "percent": 100.0}
    assert sum(s["label_distribution"].values()) == 200 and set(s["label_distribution"]) == set(LABELS)
    assert s["workers"] == 5
    assert 0 <= s["agreement"]["mv_vs_ds"] <= 1 and s["agreement"]["items"] == 40
    assert s["accuracy"]["against"] == "truth" and s["accuracy"]["items"] == 32  # the 8 gold items left out
    assert s["accuracy"]["ds"] >= s["accuracy"]["mv"] - 0.05


def test_summary_of_an_empty_project(engine: Engine, admin: Any, project: Any) -> None:
    s = project_summary(engine, admin.user, project.id)
    assert s["progress"]["items"] == 0 and s["agreement"]["mv_vs_ds"] is None
    assert item_results(engine, admin.user, project.id) == []
    assert workers_table(engine, admin.user, project.id) == []


def test_results_are_for_managers_only(engine: Engine, labelled: Any, make_annotator: Callable) -> None:
    someone = make_annotator(labelled)
    for fn in (item_results, workers_table, project_summary):
        with pytest.raises(Forbidden):
            fn(engine, someone.user, labelled.id)


def test_unknown_method(engine: Engine, admin: Any, labelled: Any) -> None:
    with pytest.raises(Invalid) as err:
        item_results(engine, admin.user, labelled.id, method="oracle")
    assert err.value.field == "method"


def test_multilabel_results(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable,
                            add_items: Callable, label_all: Callable) -> None:
    project = make_project(task_type="multilabel", labels=["red", "green"], overlap=3)
    add_items(project, 4)
    people = [make_annotator(project) for _ in range(3)]
    label_all(project, people, lambda p, t: ["red"] if t.external_id in ("item-0", "item-1") else ["red", "green"])
    rows = {r["external_id"]: r["answer"] for r in item_results(engine, admin.user, project.id, method="mv")}
    assert rows == {"item-0": ["red"], "item-1": ["red"], "item-2": ["red", "green"], "item-3": ["red", "green"]}
    s = project_summary(engine, admin.user, project.id)
    assert s["label_distribution"] == {"red": 12, "green": 6}


def test_summary_is_recomputed_when_labels_change(engine: Engine, admin: Any, make_project: Callable,
                                                  make_annotator: Callable, add_items: Callable,
                                                  label_all: Callable) -> None:
    project = make_project()
    add_items(project, 2)
    person = make_annotator(project)
    first = project_summary(engine, admin.user, project.id)
    first["label_distribution"]["cat"] = 99  # callers may mutate what they get
    assert project_summary(engine, admin.user, project.id)["label_distribution"]["cat"] == 0
    label_all(project, [person])
    assert project_summary(engine, admin.user, project.id)["label_distribution"]["cat"] == 2


def test_summary_is_recomputed_when_a_reimport_changes_truth(engine: Engine, admin: Any, labelled: Any) -> None:
    before = project_summary(engine, admin.user, labelled.id)["accuracy"]
    assert before["against"] == "truth" and before["mv"] > 0.5
    # same items, same counts, every truth value moved to another class: the answers are now mostly "wrong"
    records = [(i + 1, {"external_id": f"i{i}", "data": {"text": str(i)}, "truth": LABELS[(i + 1) % 3],
                        **({"gold": LABELS[i % 3]} if i % 5 == 0 else {})}) for i in range(40)]
    report = import_items(engine, admin.user, labelled.id, records)
    assert report.updated == 40 and report.created == 0
    after = project_summary(engine, admin.user, labelled.id)
    assert after["progress"]["items"] == 40 and after["progress"]["gold"] == 8
    assert after["accuracy"]["mv"] < 0.5 < before["mv"]
    # a re-import that changes nothing keeps the cached figures (and the version)
    again = import_items(engine, admin.user, labelled.id, records)
    assert again.unchanged == 40 and project_summary(engine, admin.user, labelled.id)["accuracy"] == after["accuracy"]


def test_loaded_labels_and_inferences_are_reused_until_the_project_changes(
        engine: Engine, admin: Any, make_project: Callable, add_items: Callable, make_annotator: Callable,
        label_all: Callable) -> None:
    from truthline.services.projects import update_project
    from truthline.services.results import load_for

    project = make_project(overlap=1)
    add_items(project, 3)
    person = make_annotator(project)
    label_all(project, [person])
    first = load_for(engine, admin.user, project.id)
    assert load_for(engine, admin.user, project.id) is first
    assert first.infer("mv") is first.infer("mv") and first.infer("mv", use_gold=False) is not first.infer("mv")
    with pytest.raises(Forbidden):  # a cached project is still authorized on every call
        load_for(engine, person.user, project.id)
    add_items(project, 1, start=10)
    second = load_for(engine, admin.user, project.id)
    assert second is not first and second.labels.n_items == 4
    import_items(engine, admin.user, project.id, [(1, {"external_id": "item-0", "data": {"text": "item 0"},
                                                       "gold": "dog"})])
    third = load_for(engine, admin.user, project.id)
    assert third is not second and third.gold == {0: "dog"}
    update_project(engine, admin.user, project.id, {"guidelines": "new words"})
    assert load_for(engine, admin.user, project.id) is not third


def test_quality_report_is_reused_and_callers_cannot_spoil_it(engine: Engine, admin: Any, labelled: Any) -> None:
    from truthline.services.dashboard import quality_report
    from truthline.services.results import load_for

    first = quality_report(engine, admin.user, labelled.id, "ds")
    first["agreement"]["fleiss_kappa"] = 99.0
    first["workers"][0]["accuracy"] = -1.0
    again = quality_report(engine, admin.user, labelled.id, "ds")
    assert again["agreement"]["fleiss_kappa"] != 99.0 and again["workers"][0]["accuracy"] >= 0
    data = load_for(engine, admin.user, labelled.id)
    assert data.memo(("worker_quality", "ds"), lambda: None) is not None  # computed once, kept with the labels
    assert again["models"] == {} and again["temperature"] is None  # only auto blends models and tempers
    report = quality_report(engine, admin.user, labelled.id, "auto")
    assert 0.1 <= report["temperature"] <= 1.0
    models = report["models"]
    assert models and set(models) <= {"pooled", "one_coin", "ds", "mace", "bcc", "ebcc"}
    assert abs(sum(models.values()) - 1) < 1e-3


def test_calibration_is_scored_on_hidden_truth_without_gold(
    engine: Engine, admin: Any, labelled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from truthline.quality import calibration_error
    from truthline.services import dashboard

    cal = quality_report(engine, admin.user, labelled.id, "ds")["calibration"]
    assert cal["items"] == 32  # 40 items with truth, 8 of them gold (clamped certain: they would flatter it)
    assert sum(b["items"] for b in cal["bins"]) == 32
    rows = [r for r in item_results(engine, admin.user, labelled.id, method="ds") if int(r["external_id"][1:]) % 5]
    confidence = np.array([r["confidence"] for r in rows])
    right = np.array([r["answer"] == LABELS[int(r["external_id"][1:]) % 3] for r in rows])
    assert cal["error"] == pytest.approx(calibration_error(confidence, right), abs=1e-3)  # the results' confidence
    monkeypatch.setattr(dashboard, "MIN_CALIBRATION_ITEMS", 33)  # too few items to chart
    assert quality_report(engine, admin.user, labelled.id, "ds")["calibration"] is None


@pytest.fixture
def tagged(engine: Engine, admin: Any, make_project: Callable) -> Any:
    """A multilabel project of 12 items with hidden truth (every subset of 3 tags, some twice; item 0 also
    gold): two workers copy the truth, the third drops "sweet" and adds "round" everywhere."""
    from truthline.services.label_import import import_annotations

    tags = ["red", "round", "sweet"]
    project = make_project(task_type="multilabel", labels=tags, overlap=3)
    truth = {i: [t for j, t in enumerate(tags) if (i >> j) & 1] for i in range(12)}
    import_items(engine, admin.user, project.id, [
        (i + 1, {"external_id": f"m{i}", "data": {"text": str(i)}, "truth": truth[i],
                 **({"gold": truth[i]} if i == 0 else {})}) for i in range(12)])
    rows = []
    for i in range(12):
        for w in ("a", "b", "c"):
            answer = truth[i] if w != "c" else sorted({*truth[i], "round"} - {"sweet"})
            rows.append((len(rows) + 1, {"external_id": f"m{i}", "worker": w, "answer": answer}))
    import_annotations(engine, admin.user, project.id, rows, create_workers=True)
    return project


def test_multilabel_calibration_scores_each_yes_no_decision(engine: Engine, admin: Any, tagged: Any) -> None:
    project = tagged
    cal = quality_report(engine, admin.user, project.id, "mv")["calibration"]
    assert cal["items"] == 33  # 11 non-gold items x 3 labels
    right = sum(round(b["accuracy"] * b["items"]) for b in cal["bins"])
    assert right == 33  # two of three workers always agree with the truth: every majority decision is right
    assert {round(b["confidence"], 3) for b in cal["bins"]} <= {0.667, 1.0}  # 2-1 or 3-0 votes
    assert 0 < cal["error"] < 0.34


def test_confusions_follow_the_answers_and_drop_the_matrix_on_wide_projects(
    engine: Engine, admin: Any, labelled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthline.services import dashboard

    answers = {r["external_id"]: r["answer"] for r in item_results(engine, admin.user, labelled.id, method="ds")}
    cm = quality_report(engine, admin.user, labelled.id, "ds")["confusion"]
    counts = np.array(cm["counts"])
    assert cm["labels"] == LABELS and counts.sum() == 200  # 40 items x 5 labels, each counted once
    assert counts.sum(axis=1).tolist() == [5 * list(answers.values()).count(name) for name in LABELS]
    bird = LABELS.index("bird")
    assert cm["top"][0]["given"] == "bird"  # the spammer's one label on every item leads
    assert all(c["answer"] != c["given"] for c in cm["top"]) and len(cm["top"]) <= dashboard.TOP_CONFUSIONS
    assert [c["labels"] for c in cm["top"]] == sorted((c["labels"] for c in cm["top"]), reverse=True)
    assert counts[:, bird].sum() >= 40
    monkeypatch.setattr(dashboard, "CONFUSION_MAX_CLASSES", 2)  # too many classes to list in full
    wide = quality_report(engine, admin.user, labelled.id, "ds")["confusion"]
    assert wide["counts"] is None and wide["top"] == cm["top"]
    assert quality_report(engine, admin.user, labelled.id, "ds")["label_misses"] is None  # multilabel only


def test_multilabel_projects_say_which_labels_workers_miss_or_add(engine: Engine, admin: Any, tagged: Any) -> None:
    project = tagged
    report = quality_report(engine, admin.user, project.id, "mv")
    assert report["confusion"] is None  # that is for classification
    misses = {row["label"]: row for row in report["label_misses"]}
    assert misses["sweet"] == {"label": "sweet", "missed": 4, "of_yes": 12, "added": 0, "of_no": 24}  # 4 sweet items
    assert misses["round"] == {"label": "round", "missed": 0, "of_yes": 18, "added": 6, "of_no": 18}
    assert misses["red"] == {"label": "red", "missed": 0, "of_yes": 18, "added": 0, "of_no": 18}
    # per worker: c's habits are adding "round" (6 of the 6 items without it) and missing "sweet" (4 of 4)
    slips = {w["username"]: w["top_slip"] for w in report["workers"]}
    assert slips == {"a": None, "b": None,
                     "c": {"kind": "added", "answer": None, "given": "round", "labels": 6, "of": 6}}
