"""The manager page's numbers: truthline.services.dashboard.quality_report and truthline.web.dashboard.build."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from truthline.errors import Forbidden, Invalid
from truthline.services import dashboard, importing, tasks
from truthline.services import projects as project_service
from truthline.web import dashboard as view


def _label(engine: Any, person: Any, project_id: int, answers: dict[str, Any]) -> None:
    """`person` labels every item offered to them with answers[external_id] (skips the rest)."""
    while (task := tasks.next_task(engine, person.user, project_id)) is not None:
        if task.external_id in answers:
            tasks.submit(engine, person.user, task.lease_id, answers[task.external_id], active_ms=2000)
        else:
            tasks.skip(engine, person.user, task.lease_id)


def test_an_unlabeled_project_has_no_figures_yet(engine: Any, admin: Any, project: Any) -> None:
    report = dashboard.quality_report(engine, admin.user, project.id)
    assert report["workers"] == [] and report["agreement"] == {"krippendorff_alpha": None, "fleiss_kappa": None}


def test_classification_report(engine: Any, admin: Any, make_project: Callable[..., Any],
                               make_annotator: Callable[..., Any]) -> None:
    project = make_project(overlap=2)
    truth = {f"i{k}": ["cat", "dog", "bird"][k % 3] for k in range(9)}
    importing.import_items(engine, admin.user, project.id, [
        (n + 1, {"external_id": ext, "data": {"text": ext}, "truth": t}) for n, (ext, t) in enumerate(truth.items())
    ])
    good, bad = make_annotator(project, username="good"), make_annotator(project, username="bad")
    _label(engine, good, project.id, truth)
    _label(engine, bad, project.id, {ext: "cat" for ext in truth})  # always "cat": right 1 time in 3

    report = dashboard.quality_report(engine, admin.user, project.id, method="ds")
    rows = {w["username"]: w for w in report["workers"]}
    assert set(rows) == {"good", "bad"}
    for w in rows.values():
        assert w["n_labels"] == 9 and w["mean_active_ms"] == 2000
        assert 0 <= w["lower"] <= w["accuracy"] <= w["upper"] <= 1
    assert rows["good"]["accuracy"] > rows["bad"]["accuracy"]
    assert rows["bad"]["spammer_score"] < rows["good"]["spammer_score"]
    alpha, kappa = report["agreement"]["krippendorff_alpha"], report["agreement"]["fleiss_kappa"]
    assert alpha is not None and kappa is not None and -1 <= alpha < 0.5 and -1 <= kappa < 0.5
    assert report["accuracy_vs_truth"] is not None

    page = view.build(engine, admin.user, project, "ds")
    assert page["progress"] == {"total": 9, "complete": 9, "fraction": 1.0, "in_progress": 0, "annotations": 18}
    assert [w["username"] for w in page["workers"]] == ["good", "bad"]  # best first
    assert {d["label"]: d["count"] for d in page["distribution"]} == {"cat": 12, "dog": 3, "bird": 3}
    assert max(d["share"] for d in page["distribution"]) == 1.0
    assert page["quality"]["accuracy"][0]["against"] == "hidden truth"
    assert not page["quality"]["accuracy"][0]["gold_left_out"]  # no gold here


def test_multilabel_report_scores_each_yes_no_decision(engine: Any, admin: Any, make_project: Callable[..., Any],
                                                      make_annotator: Callable[..., Any]) -> None:
    project = make_project(task_type="multilabel", labels=["red", "round"], overlap=2)
    truth = {"apple": ["red", "round"], "brick": ["red"], "ball": ["round"]}
    importing.import_items(engine, admin.user, project.id, [
        (n + 1, {"external_id": ext, "data": {"text": ext}, "truth": t}) for n, (ext, t) in enumerate(truth.items())
    ])
    for name in ("a", "b"):
        _label(engine, make_annotator(project, username=name), project.id, truth)
    report = dashboard.quality_report(engine, admin.user, project.id, method="mv")
    assert report["accuracy_vs_truth"] == 1.0
    assert report["agreement"]["krippendorff_alpha"] == 1.0
    assert all(w["n_labels"] == 3 and w["accuracy"] > 0.5 for w in report["workers"])


def test_only_managers_and_admins_get_the_report(engine: Any, admin: Any, project: Any,
                                                 make_annotator: Callable[..., Any]) -> None:
    annotator = make_annotator(project)
    with pytest.raises(Forbidden):
        dashboard.quality_report(engine, annotator.user, project.id)
    manager = make_annotator(project, role="manager")
    assert dashboard.quality_report(engine, manager.user, project.id)["workers"] == []
    assert view.can_manage(manager.user, project_service.project_role(engine, manager.user, project.id))
    assert not view.can_manage(annotator.user, "annotator")


def test_unknown_method_names_the_field(engine: Any, admin: Any, project: Any, add_items: Callable[..., Any],
                                        annotator: Any) -> None:
    add_items(project, 1)
    _label(engine, annotator, project.id, {"item-0": "cat"})
    with pytest.raises(Invalid) as err:
        dashboard.quality_report(engine, admin.user, project.id, method="nope")
    assert err.value.field == "method"


def test_report_gives_each_workers_gold_record(engine: Any, admin: Any, make_project: Callable[..., Any],
                                               make_annotator: Callable[..., Any]) -> None:
    project = make_project(overlap=2)
    rows = [{"external_id": f"i{k}", "data": {"text": f"i{k}"}} for k in range(4)]
    rows += [{"external_id": f"g{k}", "data": {"text": f"g{k}"}, "gold": "dog"} for k in range(3)]
    importing.import_items(engine, admin.user, project.id, list(enumerate(rows, start=1)))
    good, bad = make_annotator(project, username="good"), make_annotator(project, username="bad")
    _label(engine, good, project.id, {r["external_id"]: "dog" if "gold" in r else "bird" for r in rows})
    _label(engine, bad, project.id, {r["external_id"]: "cat" for r in rows})
    report = dashboard.quality_report(engine, admin.user, project.id)
    record = {w["username"]: (w["gold_correct"], w["gold_labels"]) for w in report["workers"]}
    assert record == {"good": (3, 3), "bad": (0, 3)}
    page = view.build(engine, admin.user, project, "auto")
    assert {w["username"]: w["gold_correct"] for w in page["workers"]} == {"good": 3, "bad": 0}


def _specialists(engine: Any, admin: Any, make_project: Callable[..., Any], make_annotator: Callable[..., Any],
                 n: int = 40) -> Any:
    """Multilabel crowd whose workers are each good on one label: a is right on `red` and guesses `round`,
    b the reverse, c is right on both 70% of the time (one fit per label tells them apart; one pooled
    reliability per worker cannot)."""
    import numpy as np

    rng = np.random.default_rng(3)
    project = make_project(task_type="multilabel", labels=["red", "round"], overlap=3)
    truth = {f"i{k}": [name for name, on in zip(("red", "round"), rng.random(2) < 0.5) if on] for k in range(n)}
    importing.import_items(engine, admin.user, project.id, [
        (k + 1, {"external_id": ext, "data": {"text": ext}, "truth": t, **({"gold": t} if k < 4 else {})})
        for k, (ext, t) in enumerate(truth.items())
    ])

    def answer(t: list[str], right: tuple[float, float]) -> list[str]:
        return [name for name, p in zip(("red", "round"), right)
                if (name in t) == (rng.random() < p)]

    for name, right in (("a", (1.0, 0.5)), ("b", (0.5, 1.0)), ("c", (0.7, 0.7))):
        _label(engine, make_annotator(project, username=name), project.id,
               {ext: answer(t, right) for ext, t in truth.items()})
    return project, truth


@pytest.mark.parametrize("method", ["ds", "one_coin", "mv", "auto"])
def test_multilabel_report_describes_the_answers_results_give(engine: Any, admin: Any, method: str,
                                                              make_project: Callable[..., Any],
                                                              make_annotator: Callable[..., Any]) -> None:
    """The page's accuracy is that of the answers results and exports give (per-label fits, ties selected),
    over the items with truth that are not gold; its worker figures come from that same run."""
    from truthline.services import results

    project, truth = _specialists(engine, admin, make_project, make_annotator)
    rows = results.item_results(engine, admin.user, project.id, method=method)
    scored = [r for r in rows if r["external_id"] not in {f"i{k}" for k in range(4)}]  # the 4 gold items out
    expected = round(sum(sorted(r["answer"]) == sorted(truth[r["external_id"]]) for r in scored) / len(scored), 4)
    report = dashboard.quality_report(engine, admin.user, project.id, method=method)
    assert report["accuracy_vs_truth"] == expected
    assert report["calibration"]["items"] == 2 * len(scored)  # a yes/no decision per label
    assert report["temperature_gold_items"] == 0  # per-label fits: no one temperature (and no gold x labels)
    summary = results.project_summary(engine, admin.user, project.id)
    assert summary["accuracy"]["items"] == len(scored)
    if method in ("ds", "mv"):
        assert summary["accuracy"][method] == expected


def test_accuracy_against_truth_leaves_gold_out(engine: Any, admin: Any, make_project: Callable[..., Any],
                                                make_annotator: Callable[..., Any]) -> None:
    """Gold items are clamped to their answer: counted, they would be right whatever the workers said."""
    from truthline.services import results

    project = make_project(overlap=1)
    rows = [{"external_id": f"g{k}", "data": {"text": "g"}, "gold": "dog", "truth": "dog"} for k in range(6)]
    rows += [{"external_id": f"i{k}", "data": {"text": "i"}, "truth": "dog"} for k in range(4)]
    importing.import_items(engine, admin.user, project.id, list(enumerate(rows, start=1)))
    _label(engine, make_annotator(project, username="w"), project.id, {r["external_id"]: "cat" for r in rows})
    report = dashboard.quality_report(engine, admin.user, project.id, method="mv")
    summary = results.project_summary(engine, admin.user, project.id)
    assert report["accuracy_vs_truth"] == 0.0  # wrong on all 4 items that are not gold (6 of 10 counting gold)
    # DS learns from the gold that this worker's "cat" means dog
    assert summary["accuracy"] == {"against": "truth", "items": 4, "mv": 0.0, "ds": 1.0}
    card = view.build(engine, admin.user, project, "mv")["quality"]["accuracy"][0]
    assert (card["n"], card["gold_left_out"], card["method"]) == (4, True, 0.0)  # the page says so


def test_mean_active_time_counts_only_measured_labels(engine: Any, admin: Any, make_project: Callable[..., Any],
                                                      make_annotator: Callable[..., Any]) -> None:
    """0 ms means not measured (labels imported without active_ms): a worker with none measured shows no
    time, not 0.0 s, and one with some measured is not made to look faster by the rest."""
    from truthline.services import label_import

    project = make_project(overlap=3)
    importing.import_items(engine, admin.user, project.id,
                           [(k + 1, {"external_id": f"i{k}", "data": {"text": "x"}}) for k in range(4)])
    records = [{"external_id": f"i{k}", "worker": "migrated", "answer": "cat"} for k in range(4)]
    records += [{"external_id": f"i{k}", "worker": "mixed", "answer": "cat", **({"active_ms": 3000} if k < 2 else {})}
                for k in range(4)]
    label_import.import_annotations(engine, admin.user, project.id, enumerate(records, 1), create_workers=True)
    timed = make_annotator(project, username="timed")
    _label(engine, timed, project.id, {f"i{k}": "dog" for k in range(4)})
    times = {w["username"]: w["mean_active_ms"] for w in dashboard.workers_table(engine, admin.user, project.id)}
    assert times == {"migrated": None, "mixed": 3000.0, "timed": 2000.0}


def test_heat_map_heads_keep_the_ends_of_long_labels_and_the_desc_lists_what_was_said() -> None:
    from truthline.web.dashboard import CHAR_PX, HEAD_CHARS, heatmap, middle_short

    assert middle_short("cat") == "cat"
    assert middle_short("Mammal:Canis:lupus_wolf") == "Mammal…us_wolf" != middle_short("Mammal:Canis:vulpes_fox")
    assert len(middle_short("x" * 300)) == HEAD_CHARS
    cm = {"labels": ["cat", "dog", "Mammal:Canis:lupus_wolf"], "counts": [[3, 1, 0], [0, 0, 0], [0, 2, 2]], "top": []}
    hm = heatmap(cm)
    assert hm is not None
    assert hm["desc"] == ("Items answered cat: cat 75.0%, dog 25.0%. Items answered dog: no labels. "
                          "Items answered Mammal:Canis:lupus_wolf: dog 50.0%, Mammal:Canis:lupus_wolf 50.0%.")
    assert [c["share"] for c in hm["rows"][0]["cells"]] == [0.75, 0.25, 0.0]
    assert hm["left"] >= CHAR_PX * HEAD_CHARS and hm["width"] >= hm["left"] + 3 * hm["cell"]  # heads and cells fit
    assert heatmap({**cm, "counts": None}) is None  # too many classes for the full counts
    assert heatmap({"labels": [str(i) for i in range(13)], "counts": [[0] * 13] * 13, "top": []}) is None
