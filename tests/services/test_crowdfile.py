"""Truth inference on crowd label files (`truthline infer`): reading, gold and truth, writing, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from truthline.errors import Invalid
from truthline.services import crowdfile

ROWS = [  # item "007" and item "7" are different items; w3 answers item a twice (real data does that)
    ("a", "w1", "1"), ("a", "w2", "1"), ("a", "w3", "0"), ("a", "w3", "1"),
    ("b", "w1", "0"), ("b", "w2", "0"), ("b", "w3", "0"),
    ("007", "w1", "10"), ("007", "w2", "10"), ("007", "w3", "2"),
    ("7", "w1", "2"), ("7", "w2", "2"), ("7", "w3", "2"),
]


def write_csv(path: Path, rows: list[tuple[str, ...]], header: str = "item,worker,label") -> Path:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_csv_keeps_ids_as_text_and_orders_numeric_classes(tmp_path: Path) -> None:
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", ROWS))
    assert problem.labels.n_items == 4 and problem.labels.n_workers == 3 and problem.labels.n_labels == 13
    assert set(problem.items) == {"a", "b", "007", "7"}
    assert problem.classes == ["0", "1", "2", "10"]  # numeric order, not text order
    result = crowdfile.infer(problem, "mv")
    answers = dict(zip(problem.items, result.answers))
    assert answers == {"a": "1", "b": "0", "007": "10", "7": "2"}
    assert result.n_labels.tolist() == [4 if i == "a" else 3 for i in problem.items]
    assert result.accuracy is None and result.model_weights == {}


def test_jsonl_parquet_and_column_aliases_read_the_same(tmp_path: Path) -> None:
    csv_answers = crowdfile.infer(crowdfile.load(write_csv(tmp_path / "l.csv", ROWS)), "ds").answers
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("".join(json.dumps({"task": i, "worker": w, "answer": int(lab)}) + "\n" for i, w, lab in ROWS))
    parquet = tmp_path / "l.parquet"
    pq.write_table(pa.table({"item_id": [r[0] for r in ROWS], "annotator": [r[1] for r in ROWS],
                             "label": [r[2] for r in ROWS]}), parquet)
    for path in (jsonl, parquet):
        problem = crowdfile.load(path)
        got = dict(zip(problem.items, crowdfile.infer(problem, "ds").answers))
        assert got == dict(zip(crowdfile.load(tmp_path / "l.csv").items, csv_answers)), path.name


def test_gold_is_clamped_and_truth_is_only_scored(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", ROWS)
    gold = write_csv(tmp_path / "g.csv", [("b", "1"), ("nowhere", "0")], header="item,gold")
    truth = write_csv(tmp_path / "t.csv", [("a", "1"), ("b", "1"), ("7", "9")], header="item,truth")
    plain = crowdfile.infer(crowdfile.load(labels, truth_path=truth), "ds")
    assert dict(zip(crowdfile.load(labels).items, plain.answers))["b"] == "0"
    assert plain.n_scored == 3 and plain.accuracy == pytest.approx(1 / 3)  # "9" was never answered: wrong
    blind = crowdfile.infer(crowdfile.load(labels), "ds")
    np.testing.assert_array_equal(plain.aggregate.posteriors, blind.aggregate.posteriors)  # truth never leaks
    problem = crowdfile.load(labels, gold_path=gold, truth_path=truth)
    clamped = crowdfile.infer(problem, "ds")
    by_item = dict(zip(problem.items, clamped.answers))
    assert by_item["b"] == "1" and clamped.confidence[problem.items.index("b")] == 1.0
    expected = np.mean([by_item["a"] == "1", False])  # gold "b" is clamped (right by construction): left out
    assert clamped.n_scored == 2 and clamped.truth_gold == 1 and clamped.accuracy == pytest.approx(expected)


def test_gold_and_truth_spelled_differently_from_the_labels_still_match(tmp_path: Path) -> None:
    # pandas writes an integer column with gaps as floats ("1.0"); hand-made files carry stray spaces
    labels = write_csv(tmp_path / "l.csv", [("a", "w1", "1"), ("a", "w2", " 1"), ("b", "w1", "0"), ("b", "w2", "0 ")])
    gold = write_csv(tmp_path / "g.csv", [("a", "1.0")], header="item,gold")
    truth = write_csv(tmp_path / "t.csv", [("a", " 1.0"), ("b", "0.0")], header="item,truth")
    problem = crowdfile.load(labels, gold_path=gold, truth_path=truth)
    assert problem.classes == ["0", "1"] and problem.labels.n_classes == 2  # no "1.0" or " 1" class
    assert problem.gold == {0: 1}
    result = crowdfile.infer(problem, "auto")
    assert result.answers == ["1", "0"] and result.accuracy == 1.0 and result.n_scored == 1  # "a" is gold
    text = write_csv(tmp_path / "t2.csv", [("a", "1.5"), ("b", "zero")], header="item,truth")
    assert crowdfile.infer(crowdfile.load(labels, truth_path=text), "mv").accuracy == 0.0  # no match: wrong


def test_auto_reports_its_model_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [(f"i{i}", f"w{w}", str(int(rng.random() < 0.8) if i % 2 else int(rng.random() < 0.2)))
            for i in range(60) for w in rng.choice(8, 3, replace=False)]
    result = crowdfile.infer(crowdfile.load(write_csv(tmp_path / "l.csv", rows)), "auto")
    assert set(result.model_weights) == {"pooled", "one_coin", "ds", "mace", "bcc", "ebcc"}
    assert sum(result.model_weights.values()) == pytest.approx(1.0, abs=1e-3)


def test_one_distinct_answer_is_a_defined_result(tmp_path: Path) -> None:
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", [("a", "w1", "yes"), ("b", "w2", "yes")]))
    result = crowdfile.infer(problem, "auto")
    assert result.answers == ["yes", "yes"] and np.all(np.isfinite(result.confidence))


def test_answers_and_workers_files(tmp_path: Path) -> None:
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", ROWS))
    result = crowdfile.infer(problem, "ds")
    assert crowdfile.write_answers(tmp_path / "out.csv", problem, result) == 4
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "item,answer,confidence,n_labels" and len(lines) == 5
    crowdfile.write_answers(tmp_path / "out.jsonl", problem, result)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {r["item"]: r["answer"] for r in rows} == dict(zip(problem.items, result.answers))
    assert crowdfile.write_workers(tmp_path / "w.jsonl", problem, result) == 3
    workers = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]
    assert {w["worker"] for w in workers} == {"w1", "w2", "w3"} and {w["n_labels"] for w in workers} == {4, 5}
    assert all(w["lower"] <= w["accuracy"] <= w["upper"] for w in workers)
    with pytest.raises(Invalid) as err:
        crowdfile.write_answers(tmp_path / "out.parquet", problem, result)
    assert err.value.field == "out"


@pytest.mark.parametrize(("text", "field", "line", "words"), [
    ("item,who,label\na,w1,1\n", "worker", None, "no worker column"),
    ("item,worker,label\na,w1,1\nb,,0\n", "worker", 3, "line 3: worker is empty"),
    ("item,worker,label\n", "file", None, "no labels"),
    ("", "file", 1, "empty file"),
])
def test_bad_files_name_the_column_or_line(tmp_path: Path, text: str, field: str, line: int | None,
                                          words: str) -> None:
    path = tmp_path / "l.csv"
    path.write_text(text)
    with pytest.raises(Invalid) as err:
        crowdfile.load(path)
    assert err.value.field == field and err.value.line == line and words in err.value.message
    if line is not None:  # the message names its line already: str() does not say it twice
        assert str(err.value).count(f"line {line}") == 1


def test_bad_format_and_method(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as err:
        crowdfile.load(tmp_path / "labels.txt")
    assert "name it .csv, .jsonl or .parquet" in err.value.message
    bad_json = tmp_path / "l.jsonl"
    bad_json.write_text('{"item": "a", "worker": "w", "label": 1}\n{not json\n')
    with pytest.raises(Invalid) as err:
        crowdfile.load(bad_json)
    assert err.value.field == "file"
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", ROWS))
    with pytest.raises(Invalid) as err:
        crowdfile.infer(problem, "oracle")
    assert err.value.field == "method"


def test_numeric_file_downweights_an_outlier_and_scores_truth(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    true = {f"m{i}": float(10 * i) for i in range(30)}
    rows = [(item, f"w{w}", f"{value + rng.normal(0, 1):.3f}") for item, value in true.items() for w in range(4)]
    rows.append(("m5", "w9", "1000"))  # one wild answer
    labels = write_csv(tmp_path / "v.csv", rows, header="item,worker,value")
    truth = write_csv(tmp_path / "t.csv", [(i, str(v)) for i, v in true.items()], header="item,truth")
    result = crowdfile.infer_numeric(labels, truth)
    estimates = {row[0]: row[1] for row in result.rows}
    assert result.columns == ("item", "estimate", "stderr", "n_labels") and len(result.rows) == 30
    assert abs(estimates["m5"] - 50.0) < 2.0  # the 1000 barely moves it
    assert result.metric == "mean absolute error" and result.n_scored == 30 and result.value < 1.0
    bad = write_csv(tmp_path / "bad.csv", [("a", "w1", "3"), ("a", "w2", "nan")], header="item,worker,value")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_numeric(bad)
    assert err.value.line == 3 and err.value.field == "value"


def test_pairwise_file_ranks_items_and_names_bad_winners(tmp_path: Path) -> None:
    strength = {"low": 0.0, "mid": 1.5, "high": 3.0, "top": 4.5}
    rng = np.random.default_rng(2)
    rows = []
    names = list(strength)
    for n in range(300):
        x, y = rng.choice(names, 2, replace=False)
        p = 1 / (1 + np.exp(strength[y] - strength[x]))
        rows.append((x, y, x if rng.random() < p else y, f"w{n % 5}"))
    rows.append(("low", "top", "a", "w0"))  # a/b also name the winner
    labels = write_csv(tmp_path / "p.csv", rows, header="item_a,item_b,winner,worker")
    truth = write_csv(tmp_path / "t.csv", [(k, str(v)) for k, v in strength.items()], header="item,score")
    result = crowdfile.infer_pairwise(labels, truth)
    scores = {row[0]: row[1] for row in result.rows}
    assert sorted(scores, key=scores.get) == ["low", "mid", "high", "top"]
    assert all(row[2] <= row[1] <= row[3] for row in result.rows) and result.n_labels == 301
    assert result.metric == "Spearman rank correlation" and result.value == pytest.approx(1.0)
    assert crowdfile.write_rows(tmp_path / "out.csv", result.columns, result.rows) == 4
    bad = write_csv(tmp_path / "bad.csv", [("x", "y", "x", "w1"), ("x", "y", "z", "w1")],
                    header="item_a,item_b,winner,worker")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_pairwise(bad)
    assert err.value.line == 3 and err.value.field == "winner" and "'x' or 'y'" in err.value.message
    same = write_csv(tmp_path / "same.csv", [("x", "x", "x", "w1")], header="item_a,item_b,winner,worker")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_pairwise(same)
    assert err.value.field == "item_b"


def test_multilabel_file_in_every_cell_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    true = {f"p{i}": {c for c in ("red", "green", "blue") if rng.random() < 0.4} for i in range(40)}
    lines = []
    for item, labels in true.items():
        for w in range(5):
            noisy = {c for c in ("red", "green", "blue") if (c in labels) != (rng.random() < 0.1)}
            cell = "|".join(sorted(noisy)) if w % 2 else json.dumps(sorted(noisy)).replace('"', '""')
            lines.append(f'{item},w{w},"{cell}"' if cell else f"{item},w{w},")
    labels = tmp_path / "m.csv"
    labels.write_text("item,worker,labels\n" + "\n".join(lines) + "\n")
    truth = tmp_path / "t.jsonl"
    truth.write_text("".join(json.dumps({"item": i, "truth": sorted(s)}) + "\n" for i, s in true.items()))
    result = crowdfile.infer_multilabel(labels, truth, method="ds")
    answers = {row[0]: set(filter(None, row[1].split("|"))) for row in result.rows}
    right = sum(answers[i] == labels for i, labels in true.items())
    assert right >= 38  # 5 answers with 10% flips per label: nearly every set recovered
    assert result.metric == "exact-set accuracy" and result.value == right / 40 and result.n_scored == 40
    bad = tmp_path / "bad.csv"
    bad.write_text('item,worker,labels\na,w1,"[""red"""\n')
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(bad)
    assert err.value.line == 2 and err.value.field == "labels"
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"item": "a", "worker": "w1", "labels": ["red"]}\n{"item": "a", "worker": "w2", "labels": ["", null]}\n')
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(odd)  # not labels "1" and "None"
    assert (err.value.line, err.value.field) == (2, "labels")
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_text('{"item": "a", "worker": "w1", "labels": ["red "]}\n'
                      '{"item": "a", "worker": "w2", "labels": [" red"]}\n')
    assert crowdfile.infer_multilabel(spaced, method="mv").rows == [("a", "red", 2)]  # one label, trimmed
    piped = tmp_path / "piped.jsonl"  # ["red|blue"] and ["red", "blue"] were both answered "red|blue"
    piped.write_text('{"item": "a", "worker": "w1", "labels": ["red", "blue"]}\n'
                     '{"item": "b", "worker": "w1", "labels": ["red|blue"]}\n')
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(piped)
    assert (err.value.line, err.value.field) == (2, "labels") and "cannot contain '|'" in err.value.message
    none = tmp_path / "none.csv"
    none.write_text("item,worker,labels\na,w1,\n")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(none)
    assert "no answer chose any label" in err.value.message


@pytest.mark.parametrize(("header", "kind", "column"), [
    ("item,worker,label,label", "categorical", "label"),
    ("item,item,worker,label", "categorical", "item"),
    ("item, worker,label ,label", "categorical", "label"),  # the same once trimmed
    ("item,worker,value,value", "numeric", "value"),
    ("item,worker,labels,labels", "multilabel", "labels"),
])
def test_a_repeated_column_name_is_refused(tmp_path: Path, header: str, kind: str, column: str) -> None:
    path = write_csv(tmp_path / "l.csv", [("a", "w1", "1", "2")], header=header)
    read = {"categorical": crowdfile.load, "numeric": crowdfile.infer_numeric,
            "multilabel": crowdfile.infer_multilabel}[kind]
    with pytest.raises(Invalid) as err:
        read(path)
    assert (err.value.field, err.value.line) == (column, 1)
    assert f"l.csv: line 1: column {column!r} appears twice" in err.value.message


def test_a_repeated_column_in_gold_is_refused(tmp_path: Path) -> None:
    gold = write_csv(tmp_path / "g.csv", [("a", "1", "1")], header="item,gold,gold")
    with pytest.raises(Invalid) as err:
        crowdfile.load(write_csv(tmp_path / "l.csv", ROWS), gold_path=gold)
    assert err.value.field == "gold" and "g.csv: line 1: column 'gold' appears twice" in err.value.message


def test_numerically_equal_labels_are_one_class_in_a_fixed_order(tmp_path: Path) -> None:
    rows = [("a", "w1", "1"), ("a", "w2", "1.0"), ("a", "w3", "2"), ("b", "w1", "2.0"), ("b", "w2", "01")]
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", rows))
    assert problem.classes == ["1", "2"]  # spelled as first seen; "1.0" and "01" are "1"
    assert crowdfile.infer(problem, "mv").answers == ["1", "1"]
    text = crowdfile.load(write_csv(tmp_path / "t.csv", [("a", "w1", "1"), ("a", "w2", "1.0"), ("a", "w3", "x")]))
    assert text.classes == ["1", "1.0", "x"]  # not every label a number: text, kept apart
    # equal numbers (here from gold) sort by their text whatever order the set iterates in
    order = crowdfile._class_order
    assert order(["1.0", "1", "01"]) == order(["01", "1", "1.0"]) == ["01", "1", "1.0"]


def test_only_an_empty_cell_is_missing(tmp_path: Path) -> None:
    rows = [("NA", "w1", "N/A"), ("NA", "w2", "null"), ("None", "w1", "NaN"), ("None", "w2", "NaN")]
    problem = crowdfile.load(write_csv(tmp_path / "l.csv", rows))
    assert problem.items == ["NA", "None"] and sorted(problem.classes) == ["N/A", "NaN", "null"]
    multi = write_csv(tmp_path / "m.csv", [("x", "w1", "NA"), ("x", "w2", "NA"), ("x", "w3", "a")],
                      header="item,worker,labels")
    assert crowdfile.infer_multilabel(multi, method="mv").rows == [("x", "NA", 3)]  # a label, not "none"
    null = tmp_path / "m.jsonl"
    null.write_text('{"item": "x", "worker": "w1", "labels": ["a"]}\n{"item": "x", "worker": "w2", "labels": null}\n')
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(null)  # missing, not "no labels"
    assert (err.value.line, err.value.field) == (2, "labels") and "write [] for no labels" in err.value.message


def test_a_nan_label_is_missing_not_a_class(tmp_path: Path) -> None:
    path = tmp_path / "l.parquet"
    pq.write_table(pa.table({"item": ["a", "a", "b"], "worker": ["w1", "w2", "w1"],
                             "label": [1.0, float("nan"), 2.0]}), path)
    with pytest.raises(Invalid) as err:
        crowdfile.load(path)
    assert (err.value.field, err.value.line) == ("label", 2) and "label is empty" in err.value.message


def test_conflicting_gold_or_truth_rows_are_refused(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", ROWS)
    gold = write_csv(tmp_path / "g.csv", [("a", "1"), ("b", "0"), ("a", "0")], header="item,gold")
    with pytest.raises(Invalid) as err:
        crowdfile.load(labels, gold_path=gold)
    assert (err.value.field, err.value.line) == ("gold", 4)
    assert "line 4: item 'a' again with gold '0'; line 2 gave '1'" in err.value.message
    same = write_csv(tmp_path / "t.csv", [("a", "1"), ("a", "1.0"), ("b", "1")], header="item,truth")
    problem = crowdfile.load(labels, truth_path=same)  # the same answer twice: taken once
    assert crowdfile.infer(problem, "mv").n_scored == 2
    numeric = write_csv(tmp_path / "n.csv", [("a", "w1", "1"), ("b", "w1", "2")], header="item,worker,value")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_numeric(numeric, write_csv(tmp_path / "nt.csv", [("a", "1"), ("a", "3")], header="item,truth"))
    assert (err.value.field, err.value.line) == ("truth", 3)
    multi = write_csv(tmp_path / "m.csv", [("x", "w1", "a")], header="item,worker,labels")
    twice = write_csv(tmp_path / "mt.csv", [("x", "a"), ("x", "a")], header="item,truth")
    assert crowdfile.infer_multilabel(multi, twice, "mv").n_scored == 1  # one item, scored once
    with pytest.raises(Invalid) as err:
        crowdfile.infer_multilabel(multi, write_csv(tmp_path / "mc.csv", [("x", "a"), ("x", "b")], header="item,truth"))
    assert (err.value.field, err.value.line) == ("truth", 3)


def test_truth_that_is_all_gold_scores_nothing(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", ROWS)
    gold = write_csv(tmp_path / "g.csv", [("a", "0")], header="item,gold")
    truth = write_csv(tmp_path / "t.csv", [("a", "0")], header="item,truth")
    result = crowdfile.infer(crowdfile.load(labels, gold_path=gold, truth_path=truth), "mv")
    assert result.accuracy is None and result.n_scored == 0 and result.truth_gold == 1  # not a clamped 1.0


def test_pairwise_spearman_of_a_constant_is_no_number(tmp_path: Path) -> None:
    import warnings

    pairs = write_csv(tmp_path / "p.csv", [("x", "y", "x", "w1"), ("y", "z", "y", "w1")],
                      header="item_a,item_b,winner,worker")
    flat = write_csv(tmp_path / "t.csv", [("x", "1"), ("y", "1"), ("z", "1")], header="item,truth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would fail here
        result = crowdfile.infer_pairwise(pairs, flat)
    assert result.value is None and result.n_scored == 3
    assert result.note == "the --truth scores are all equal: no ranking to compare"
    tied = write_csv(tmp_path / "tied.csv", [("x", "y", "x", "w1"), ("x", "y", "y", "w2")],
                     header="item_a,item_b,winner,worker")
    ranked = write_csv(tmp_path / "r.csv", [("x", "1"), ("y", "2")], header="item,truth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = crowdfile.infer_pairwise(tied, ranked)
    assert result.value is None and result.note == "the inferred scores are all equal: no ranking to compare"


@pytest.mark.parametrize(("name", "text", "line"), [
    ("blank.csv", "item,worker,label\n\na,w1,cat\n\n\na,w2,\n", 6),
    ("quoted.csv", 'item,worker,label\n"a\nb",w1,cat\n"c",w2,"x\ny"\nd,w3,\n', 6),
    ("before.csv", "\n\nitem,worker,label\na,w1,\n", 4),
    ("blank.jsonl", '{"item": "a", "worker": "w1", "label": "cat"}\n\n  \n'
                    '{"item": "a", "worker": "w2", "label": null}\n', 4),
])
def test_lines_are_counted_as_in_the_file(tmp_path: Path, name: str, text: str, line: int) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(Invalid) as err:
        crowdfile.load(path)
    assert err.value.line == line and f"{name}: line {line}: label is empty" in err.value.message


def test_unreadable_rows_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("item,worker,label\na,w1,cat\n\nb,w1,cat,extra\n")
    with pytest.raises(Invalid) as err:
        crowdfile.load(path)
    assert err.value.line == 4 and "l.csv: line 4: cannot be read as csv" in err.value.message
    jsonl = tmp_path / "l.jsonl"
    # a field that is a number on one line and text on another is read as text, as a CSV cell would be
    # (pyarrow refuses such a file: "changed from number to string")
    jsonl.write_text('{"item": "a", "worker": "w", "label": 1}\n\n{"item": "b", "worker": "w", "label": "x", '
                     '"note": [1]}\n{"item": 7, "worker": "w", "label": 1.0, "note": "n"}\n')
    problem = crowdfile.load(jsonl)
    assert problem.items == ["a", "b", "7"] and problem.classes == ["1", "x"]
    jsonl.write_text('{"item": "a", "worker": "w", "label": 1}\n{"item": "c", "worker": "w", "label": 2.5}\n'
                     '{"item": "b", "worker": "w", "label": null}\n\n{"item": "d", "worker": "w", "label": "x"}\n')
    with pytest.raises(Invalid) as err:
        crowdfile.load(jsonl)
    assert err.value.line == 3 and "l.jsonl: line 3: label is empty" in err.value.message
    jsonl.write_text('{"item": "a", "worker": "w", "label": 1}\n\n{"item": "b", "worker": "w", "label": 1\n')
    with pytest.raises(Invalid) as err:
        crowdfile.load(jsonl)
    assert err.value.line == 3 and "l.jsonl: line 3: cannot be read as jsonl" in err.value.message
    assert "row" not in err.value.message


def test_ids_and_header_names_are_trimmed_like_labels(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", [("a ", " w1", "cat"), ("a", "w1 ", "dog")], header="item, worker ,label")
    gold = write_csv(tmp_path / "g.csv", [(" a", "dog")], header=" item,gold")
    problem = crowdfile.load(labels, gold_path=gold)
    assert problem.items == ["a"] and problem.workers == ["w1"] and problem.gold == {0: problem.classes.index("dog")}


@pytest.mark.parametrize(("cell", "words"), [
    ("1_000", "value must be a finite number, got '1_000'"),
    ("1e200", "value must be within ±1e+150"),
    ("-1e151", "value must be within ±1e+150"),
])
def test_numeric_values_are_plain_numbers_in_range(tmp_path: Path, cell: str, words: str) -> None:
    path = tmp_path / "v.csv"
    path.write_text(f"item,worker,value\na,w1,1\n\na,w2,{cell}\n")
    with pytest.raises(Invalid) as err:
        crowdfile.infer_numeric(path)
    assert (err.value.field, err.value.line) == ("value", 4) and f"line 4: {words}" in err.value.message


def test_a_failed_write_leaves_the_earlier_file_and_no_part_file(tmp_path: Path) -> None:
    out = tmp_path / "answers.jsonl"
    out.write_text("earlier run\n")
    with pytest.raises(TypeError):  # the second row cannot be written: the first must not land either
        crowdfile.write_rows(out, ("item", "answer"), [("a", "cat"), ("b", object())])
    assert out.read_text() == "earlier run\n" and [p.name for p in tmp_path.iterdir()] == ["answers.jsonl"]
    assert crowdfile.write_rows(out, ("item", "answer"), [("a", "cat")]) == 1
    assert out.read_text() == '{"item": "a", "answer": "cat"}\n' and len(list(tmp_path.iterdir())) == 1


def test_jsonl_ids_are_read_exactly_and_bad_bytes_are_named_by_line(tmp_path: Path) -> None:
    jsonl = tmp_path / "l.jsonl"
    # ids past 2^63 came out of pyarrow as floats: these two were read as one item
    jsonl.write_text('{"item": 12345678901234567890, "worker": "w1", "label": "a"}\n'
                     '{"item": 12345678901234567891, "worker": "w1", "label": "b"}\n')
    assert crowdfile.load(jsonl).items == ["12345678901234567890", "12345678901234567891"]
    jsonl.write_bytes(b'{"item": "a", "worker": "w1", "label": "a"}\n{"item": "b", "worker": "w1", "label": "caf\xe9"}\n')
    with pytest.raises(Invalid) as err:  # was pyarrow's ArrowInvalid, a traceback in the CLI
        crowdfile.load(jsonl)
    assert err.value.line == 2 and "l.jsonl: line 2: not UTF-8 text" in err.value.message
    jsonl.write_text('{"item": "a", "worker": "w1", "label": "a"}\n{"item": "b", "worker": "w1", "label": "\\ud800"}\n')
    with pytest.raises(Invalid) as err:  # a lone surrogate, escaped: named by line too
        crowdfile.load(jsonl)
    assert err.value.line == 2 and "l.jsonl: line 2: cannot be read as jsonl" in err.value.message
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"item,worker,label\na,w1,cat\nb,w1,caf\xe9\n")
    with pytest.raises(Invalid) as err:
        crowdfile.load(latin)
    assert err.value.line == 3 and "l.csv: line 3: not UTF-8 text" in err.value.message


def test_an_unclosed_quote_is_refused_not_read_to_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text('item,worker,label\ni1,w1,a\ni1,w2,"a\ni2,w1,b\ni2,w2,b\n')
    with pytest.raises(Invalid) as err:  # pyarrow read i2's rows into one label of i1: two labels lost
        crowdfile.load(path)
    assert err.value.line == 3 and "a quoted cell is never closed" in err.value.message
    path.write_text('item,worker,label\ni1,w1,one\ni1,w2,"two\nlines"\n')  # a real multi-line cell, last
    assert crowdfile.load(path).classes == ["one", "two\nlines"]


def test_a_gold_file_is_named_as_gold_in_its_errors(tmp_path: Path) -> None:
    labels = write_csv(tmp_path / "l.csv", [("a", "w1", "cat"), ("a", "w2", "dog")])
    gold = tmp_path / "g.csv"
    gold.write_text("item\na\n")
    with pytest.raises(Invalid) as err:
        crowdfile.load(labels, gold_path=gold)
    assert err.value.field == "gold" and "no answer (gold/truth/label/answer) column" in err.value.message


def test_a_file_with_one_answer_names_the_other_choice(tmp_path: Path) -> None:
    # the class standing for "something else" was "", a bare "p:" column in --probabilities
    labels = write_csv(tmp_path / "l.csv", [("a", "w1", "yes"), ("b", "w1", "yes")])
    problem = crowdfile.load(labels)
    assert problem.classes == ["yes", "(other)"]
    out = tmp_path / "o.csv"
    crowdfile.write_answers(out, problem, crowdfile.infer(problem, "mv"), probabilities=True)
    assert out.read_text().splitlines()[0] == "item,answer,confidence,n_labels,p:yes,p:(other)"
    only = write_csv(tmp_path / "o2.csv", [("a", "w1", "(other)")])
    assert crowdfile.load(only).classes == ["(other)", "(something else)"]


def test_a_row_longer_than_pyarrows_block_is_read(tmp_path: Path) -> None:
    """pyarrow reads in 1 MB blocks and refused a longer row ("straddling object ...")."""
    long = "x" * 1_500_000
    csv_path, jsonl_path = tmp_path / "l.csv", tmp_path / "l.jsonl"
    csv_path.write_text(f'item,worker,label\na,w1,"{long}"\nb,w1,y\nb,w2,y\n')
    jsonl_path.write_text("".join(json.dumps({"item": i, "worker": w, "label": lab}) + "\n"
                                  for i, w, lab in (("a", "w1", long), ("b", "w1", "y"), ("b", "w2", "y"))))
    for path in (csv_path, jsonl_path):
        problem = crowdfile.load(path)
        assert problem.items == ["a", "b"] and problem.labels.n_labels == 3, path.name
