"""`truthline infer FILE`: a crowd label file in, answers out, no database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_infer_prints_answers_and_writes_files(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\n" + "".join(
        f"q{i},w{w},{'cat' if (i + (w == 3)) % 2 else 'dog'}\n" for i in range(10) for w in range(4)))
    truth = tmp_path / "truth.csv"
    truth.write_text("item,truth\n" + "".join(f"q{i},{'cat' if i % 2 else 'dog'}\n" for i in range(10)))
    result = cli("infer", labels, "--truth", truth, "--method", "ds", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "10 items, 4 workers, 40 labels, 2 classes" in result.output
    assert "accuracy against --truth: 1.0000 over 10 items" in result.output
    assert result.output.count("│ q") == 3  # --limit rows
    assert "Inferred answers" in result.output and result.output.count("5 (50.0%)") == 2  # the bars per class
    # w3 contradicts every item: a quarter of each class's labels
    assert ("Most frequent confusions (by these answers): cat labelled dog 25% (5); dog labelled cat 25% (5)"
            in " ".join(result.output.split()))
    out, workers = tmp_path / "answers.jsonl", tmp_path / "workers.csv"
    result = cli("infer", labels, "--out", out, "--workers-out", workers)
    assert result.exit_code == 0, result.output
    assert "auto blended: ds 0.50, bcc 0.50" in result.output and "wrote 10 answers" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["item"]: r["answer"] for r in rows} == {f"q{i}": "cat" if i % 2 else "dog" for i in range(10)}
    assert "probabilities" not in rows[0]

    result = cli("infer", labels, "--method", "mv", "--out", out, "--probabilities")
    assert result.exit_code == 0, result.output
    soft = {r["item"]: r["probabilities"] for r in map(json.loads, out.read_text().splitlines())}
    assert soft["q1"] == {"cat": 0.75, "dog": 0.25} and soft["q2"] == {"cat": 0.25, "dog": 0.75}  # w3 dissents
    flat = tmp_path / "answers.csv"
    assert cli("infer", labels, "--method", "mv", "--out", flat, "--probabilities").exit_code == 0
    table = list(csv.DictReader(io.StringIO(flat.read_text())))
    assert list(table[0]) == ["item", "answer", "confidence", "n_labels", "p:cat", "p:dog"]
    assert {r["item"]: (r["p:cat"], r["p:dog"]) for r in table}["q1"] == ("0.75", "0.25")
    result = cli("infer", labels, "--probabilities")
    assert result.exit_code == 2 and "--probabilities needs --out" in result.stderr
    lines = workers.read_text().splitlines()
    assert lines[0].startswith("worker,n_labels,accuracy,lower,upper") and len(lines) == 5


def test_infer_csv_outputs_defuse_spreadsheet_formulas(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\n" + "".join(f"=q{i},@w{w},-1\n" for i in range(3) for w in range(2)))
    out, workers = tmp_path / "answers.csv", tmp_path / "workers.csv"
    result = cli("infer", labels, "--method", "mv", "--out", out, "--workers-out", workers)
    assert result.exit_code == 0, result.output
    answers = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["item"], r["answer"]) for r in answers] == [(f"'=q{i}", "-1") for i in range(3)]  # -1: a number
    assert sorted(r["worker"] for r in csv.DictReader(io.StringIO(workers.read_text()))) == ["'@w0", "'@w1"]
    assert cli("infer", labels, "--method", "mv", "--out", tmp_path / "a.jsonl").exit_code == 0
    assert json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])["item"] == "=q0"  # JSONL: verbatim


def test_infer_reads_its_own_csv_back_unguarded(cli: Cli, tmp_path: Path) -> None:
    """A defused answers file given back as --gold names the same items (=q0, not '=q0)."""
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\n" + "".join(f"=q{i},w{w},{'=a' if i else 'b'}\n"
                                                      for i in range(3) for w in range(2)))
    answers = tmp_path / "answers.csv"
    assert cli("infer", labels, "--method", "mv", "--out", answers).exit_code == 0
    assert "'=q1,'=a" in answers.read_text()
    split = tmp_path / "split.csv"  # the same items, now split 1-1: only the gold can decide them
    split.write_text("item,worker,label\n" + "".join(f"=q{i},w0,b\n=q{i},w1,=a\n" for i in range(3)))
    out = tmp_path / "again.jsonl"
    result = cli("infer", split, "--method", "mv", "--gold", answers, "--out", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["item"]: (r["answer"], r["confidence"]) for r in rows} == {
        "=q0": ("b", 1.0), "=q1": ("=a", 1.0), "=q2": ("=a", 1.0)}


def test_infer_bad_input_exits_2_naming_the_column(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,rater,label\nq1,w1,cat\n")
    result = cli("infer", labels)
    assert result.exit_code == 2 and "no worker column" in result.stderr and "rater" in result.stderr
    assert cli("infer", tmp_path / "missing.csv").exit_code == 2
    labels.write_text("item,worker,label\nq1,w1,cat\n")
    result = cli("infer", labels, "--out", tmp_path / "answers.txt")
    assert result.exit_code == 2 and "write results as .csv or .jsonl" in result.stderr


def test_infer_on_a_real_data_set_matches_the_library(cli: Cli, tmp_path: Path) -> None:
    folder = DATASETS / "ZC_in"
    if not (folder / "answers.csv").exists():
        pytest.skip(f"real data set ZC_in not found under {DATASETS}")
    from truthline.quality import aggregate
    from tests.quality.crowd_data import load_set

    data, truth = load_set("ZC_in")
    known = truth >= 0
    expected = float((aggregate(data, "auto").answers[known] == truth[known]).mean())
    result = cli("infer", folder / "answers.csv", "--truth", folder / "truth.csv", "--out", tmp_path / "a.csv")
    assert result.exit_code == 0, result.output
    assert f"accuracy against --truth: {expected:.4f} over {int(known.sum()):,} items" in result.output
    assert np.isclose(expected, 0.78, atol=0.02)
    tau = float(aggregate(data, "auto").worker_params["temperature"][0])
    assert tau < 1 and f"auto chose: ebcc 1.00; confidences tempered (τ {tau:.2f})" in result.output  # one model: "chose"


def test_infer_numeric_and_pairwise_kinds(cli: Cli, tmp_path: Path) -> None:
    values = tmp_path / "v.csv"
    values.write_text("item,worker,value\n"
                      + "".join(f"m{i},w{w},{i * 10 + w % 2}\n" for i in range(5) for w in range(3)))
    result = cli("infer", values, "--kind", "numeric", "--out", tmp_path / "v.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [r["item"] for r in rows] == [f"m{i}" for i in range(5)] and rows[3]["n_labels"] == 3
    # the methods a numeric project takes: mv is the plain mean (10, 10 and 11 -> 10.333...), others refused
    result = cli("infer", values, "--kind", "numeric", "--method", "mv", "--out", tmp_path / "mv.jsonl")
    assert result.exit_code == 0, result.output
    plain = [json.loads(line) for line in (tmp_path / "mv.jsonl").read_text().splitlines()]
    assert plain[1]["estimate"] == pytest.approx(31 / 3)
    assert cli("infer", values, "--kind", "numeric", "--method", "ds").exit_code == 0
    refused = cli("infer", values, "--kind", "numeric", "--method", "glad")
    assert refused.exit_code == 2 and "numeric projects infer with auto" in refused.stderr
    pairs = tmp_path / "p.csv"
    pairs.write_text("item_a,item_b,winner,worker\n" + "x,y,x,w1\nx,y,x,w2\ny,z,y,w1\nx,z,x,w3\n")
    result = cli("infer", pairs, "--kind", "pairwise")
    assert result.exit_code == 0 and "4 comparisons" in result.output and "│ x" in result.output
    refused = cli("infer", pairs, "--kind", "pairwise", "--method", "ds")
    assert refused.exit_code == 2 and "only for categorical labels" in refused.stderr
    refused = cli("infer", pairs, "--kind", "pairwise", "--probabilities", "--out", tmp_path / "p.jsonl")
    assert refused.exit_code == 2 and "--probabilities: only for categorical labels" in refused.stderr
    assert cli("infer", pairs, "--kind", "graph").exit_code == 2


def test_infer_numeric_gold_is_clamped_and_reveals_a_shared_bias(cli: Cli, tmp_path: Path) -> None:
    """Every worker reads 5 high: nothing in the labels shows it, a few gold values do."""
    values = tmp_path / "v.csv"
    values.write_text("item,worker,value\n" + "".join(
        f"i{i},w{w},{i * 10 + 5 + (w - 1) * 0.1:.1f}\n" for i in range(12) for w in range(3)))
    gold = tmp_path / "g.csv"
    gold.write_text("item,gold\n" + "".join(f"i{i},{i * 10}\n" for i in range(4)) + "elsewhere,7\n")
    truth = tmp_path / "t.csv"
    truth.write_text("item,truth\n" + "".join(f"i{i},{i * 10}\n" for i in range(12)))

    def run(*extra: Any) -> tuple[float, dict[str, float]]:
        out = tmp_path / "v.jsonl"
        result = cli("infer", values, "--kind", "numeric", "--truth", truth, "--out", out, *extra)
        assert result.exit_code == 0, result.output
        rows = {r["item"]: r["estimate"] for r in map(json.loads, out.read_text().splitlines())}
        return float(result.output.split("mean absolute error against --truth: ")[1].split()[0]), rows

    without, _ = run()
    with_gold, rows = run("--gold", gold)  # over the 8 items that are not gold
    trusted, _ = run("--gold", gold, "--bias-prior", "0")  # 4 gold labels per worker, not shrunk toward 0
    assert without == pytest.approx(5.0, abs=0.05) and with_gold < 2.5 and trusted < 0.1
    assert rows["i0"] == 0 and rows["i3"] == 30  # clamped
    assert "1 --gold rows name items" in cli("infer", values, "--kind", "numeric", "--gold", gold).output
    bad = tmp_path / "bad.csv"
    bad.write_text("item,gold\ni0,zero\n")
    refused = cli("infer", values, "--kind", "numeric", "--gold", bad)
    assert refused.exit_code == 2 and "zero" in refused.stderr


def test_infer_numeric_bias_prior_decides_how_far_biases_are_trusted(cli: Cli, tmp_path: Path) -> None:
    # w0 adds 1 to every value and w1 takes 1 off (too little to look like outliers to the robust model);
    # items are seen by three of six workers in turn
    rng = np.random.default_rng(1)
    rows = [(i, (i + j) % 6) for i in range(40) for j in range(3)]
    bias = {0: 1.0, 1: -1.0}
    values = tmp_path / "v.csv"
    values.write_text("item,worker,value\n" + "".join(
        f"i{i},w{w},{i + bias.get(w, 0.0) + rng.normal(0, 0.3):.3f}\n" for i, w in rows))
    truth = tmp_path / "t.csv"
    truth.write_text("item,truth\n" + "".join(f"i{i},{i}\n" for i in range(40)))

    def mae(*extra: str) -> float:
        result = cli("infer", values, "--kind", "numeric", "--truth", truth, *extra)
        assert result.exit_code == 0, result.output
        return float(result.output.split("mean absolute error against --truth: ")[1].split()[0])

    free, default, pinned = mae("--bias-prior", "0"), mae(), mae("--bias-prior", "1000")
    # fitted biases remove the offsets; pinned at 0 they leak into the items those workers saw
    assert pinned - free > 0.02 and free <= default < pinned
    bad = cli("infer", values, "--kind", "numeric", "--bias-prior", "-1")
    assert bad.exit_code == 2 and "bias_prior: must be a finite number >= 0" in bad.stderr
    wrong_kind = cli("infer", values, "--bias-prior", "2")
    assert wrong_kind.exit_code == 2 and "--bias-prior only applies to numeric labels" in wrong_kind.stderr


def test_infer_says_how_many_truth_rows_matched_nothing(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\nq1,w1,cat\nq1,w2,cat\nq2,w1,dog\n")
    truth = tmp_path / "truth.csv"
    truth.write_text("item,truth\nq1,cat\nQ2,dog\nq3,dog\n")
    result = cli("infer", labels, "--truth", truth, "--method", "mv")
    assert result.exit_code == 0, result.output
    assert "note: 2 --truth rows name items the labels file does not have" in result.output
    assert "over 1 items" in result.output
    # the other kinds said only "over 0 items" when no truth row matched
    numeric, pairwise, multi = tmp_path / "n.csv", tmp_path / "p.csv", tmp_path / "m.csv"
    numeric.write_text("item,worker,value\nq1,w1,1.5\nq1,w2,2.5\n")
    pairwise.write_text("item_a,item_b,winner,worker\nq1,q2,q1,w1\nq2,q3,q2,w1\n")
    multi.write_text("item,worker,labels\nq1,w1,a|b\nq1,w2,a\n")
    other = tmp_path / "other.csv"
    other.write_text("item,truth\nQ1,1\nz,2\n")
    for kind, path in (("numeric", numeric), ("pairwise", pairwise), ("multilabel", multi)):
        result = cli("infer", path, "--kind", kind, "--truth", other)
        assert result.exit_code == 0, (kind, result.output)
        assert "note: 2 --truth rows name items the labels file does not have" in result.output, kind


def test_infer_multilabel_kind_takes_a_method(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "m.csv"
    labels.write_text("item,worker,labels\n" + "".join(f"q{i},w{w},red|blue\n" for i in range(3) for w in range(3)))
    result = cli("infer", labels, "--kind", "multilabel", "--method", "mv", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r["answer"] for r in rows] == ["blue|red"] * 3
    assert cli("infer", labels, "--kind", "multilabel", "--gold", labels).exit_code == 2
    auto = cli("infer", labels, "--kind", "multilabel", "--out", tmp_path / "a.jsonl")
    assert auto.exit_code == 0 and "  blue: chosen by every answer" in auto.output  # no blend to speak of


def test_infer_multilabel_auto_says_what_it_chose_for_each_label(cli: Cli, tmp_path: Path) -> None:
    import numpy as np

    from truthline.quality.multilabel import aggregate_multilabel
    from truthline.quality.auto import choice

    rng = np.random.default_rng(1)
    truth = rng.random((30, 2)) < 0.4
    rows, selected = [], []
    for i in range(30):
        for w in range(4):  # three careful workers, one ticking at random
            chosen = rng.random(2) < 0.5 if w == 3 else truth[i] ^ (rng.random(2) < 0.1)
            rows.append(f"q{i:02d},w{w},{'|'.join(t for t, c in zip(('blue', 'red'), chosen) if c)}\n")
            selected.append(chosen)
    labels = tmp_path / "m.csv"
    labels.write_text("item,worker,labels\n" + "".join(rows))
    result = cli("infer", labels, "--kind", "multilabel", "--out", tmp_path / "m.jsonl")
    assert result.exit_code == 0, result.output
    fit = aggregate_multilabel(np.repeat(np.arange(30), 4), np.tile(np.arange(4), 30), np.array(selected),
                               method="auto")
    assert "auto, label by label" in result.output
    for name, params in zip(("blue", "red"), fit.label_params):  # the file's labels, sorted
        used = ", ".join(f"{m} {w:.2f}" for m, w in choice(params)["models"].items())
        assert f"  {name}: {used}" in result.output
    mv = cli("infer", labels, "--kind", "multilabel", "--method", "mv", "--out", tmp_path / "mv.jsonl")
    assert mv.exit_code == 0 and "label by label" not in mv.output


def test_infer_says_when_auto_tempered_its_confidence(cli: Cli, tmp_path: Path) -> None:
    from tests.quality.crowd_data import hard_items
    from truthline.quality import aggregate

    crowd, _ = hard_items()
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\n" + "".join(
        f"q{i},w{w},{'yes' if k else 'no'}\n"
        for i, w, k in zip(crowd.items.tolist(), crowd.workers.tolist(), crowd.labels.tolist())))
    out = tmp_path / "answers.jsonl"
    result = cli("infer", labels, "--out", out)
    assert result.exit_code == 0, result.output
    tau = float(aggregate(crowd, "auto").worker_params["temperature"][0])
    assert tau < 1 and f"confidences tempered (τ {tau:.2f})" in result.output
    confidence = np.array([json.loads(line)["confidence"] for line in out.read_text().splitlines()])
    untempered = aggregate(crowd, "auto", calibrate=False).confidence
    assert confidence.mean() < untempered.mean() - 0.02  # the file carries the tempered confidence
    assert "confidences tempered" not in cli("infer", labels, "--method", "ds").output


def test_infer_shows_how_far_the_confidence_holds_against_truth(cli: Cli, tmp_path: Path) -> None:
    from tests.quality.crowd_data import simulate
    from truthline.quality import aggregate, calibration_error

    crowd, truth = simulate(n_items=200, n_workers=12, k=3, per_item=3, seed=4)
    labels, truth_file, gold = tmp_path / "labels.csv", tmp_path / "truth.csv", tmp_path / "gold.csv"
    labels.write_text("item,worker,label\n" + "".join(
        f"q{i},w{w},c{k}\n" for i, w, k in zip(crowd.items.tolist(), crowd.workers.tolist(), crowd.labels.tolist())))
    truth_file.write_text("item,truth\n" + "".join(f"q{i},c{k}\n" for i, k in enumerate(truth.tolist())))
    gold.write_text("item,label\n" + "".join(f"q{i},c{truth[i]}\n" for i in range(30)))
    result = cli("infer", labels, "--truth", truth_file, "--gold", gold, "--method", "ds")
    assert result.exit_code == 0, result.output
    # gold items are certain by construction: only the other 170 items with truth count
    agg = aggregate(crowd, "ds", known={i: int(truth[i]) for i in range(30)})
    hidden = np.arange(30, 200)
    expected = calibration_error(agg.confidence[hidden], agg.answers[hidden] == truth[hidden])
    assert f"calibration error against --truth: {expected:.3f} over 170 items" in result.output
    assert "Confidence against --truth" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:4] in {f"0.{d}-" for d in range(10)}]
    assert rows and sum(int(r[1]) for r in rows) == 170  # one row per band, every item in one band

    few = tmp_path / "few.csv"
    few.write_text("item,truth\n" + "".join(f"q{i},c{truth[i]}\n" for i in range(10)))
    result = cli("infer", labels, "--truth", few, "--method", "ds")
    assert "accuracy against --truth" in result.output and "calibration error" not in result.output


def test_infer_says_how_many_gold_items_checked_the_confidence(cli: Cli, tmp_path: Path) -> None:
    from tests.quality.crowd_data import blind_spot
    from truthline.quality import aggregate

    crowd, truth = blind_spot()
    labels, gold = tmp_path / "labels.csv", tmp_path / "gold.csv"
    labels.write_text("item,worker,label\n" + "".join(
        f"q{i},w{w},{k}\n" for i, w, k in zip(crowd.items.tolist(), crowd.workers.tolist(), crowd.labels.tolist())))
    gold.write_text("item,label\n" + "".join(f"q{i},{truth[i]}\n" for i in range(60)))
    result = cli("infer", labels, "--gold", gold)
    assert result.exit_code == 0, result.output
    tau = float(aggregate(crowd, "auto", known={i: int(truth[i]) for i in range(60)}).worker_params["temperature"][0])
    assert tau < 0.5 and f"confidences tempered (τ {tau:.2f}, checked against 60 gold items)" in result.output
    assert "gold items)" not in cli("infer", labels).output  # without gold, held-out labels alone


def test_infer_refuses_an_output_that_is_an_input_or_the_other_output(cli: Cli, tmp_path: Path) -> None:
    labels, gold, truth = tmp_path / "labels.csv", tmp_path / "gold.csv", tmp_path / "truth.csv"
    labels.write_text("item,worker,label\na,w1,cat\na,w2,cat\na,w3,dog\n")
    gold.write_text("item,gold\na,cat\n")
    truth.write_text("item,truth\na,cat\n")
    before = labels.read_text()
    cases = [(("--out", labels), "--out labels.csv is also the labels file"),
             (("--out", tmp_path / "." / "labels.csv"), "--out labels.csv is also the labels file"),
             (("--gold", gold, "--workers-out", gold), "--workers-out gold.csv is also --gold"),
             (("--truth", truth, "--out", truth), "--out truth.csv is also --truth"),
             (("--out", tmp_path / "x.csv", "--workers-out", tmp_path / "x.csv"), "--workers-out x.csv is also --out")]
    for options, words in cases:
        result = cli("infer", labels, "--method", "mv", *options)
        assert result.exit_code == 2 and words in result.stderr, options
    assert labels.read_text() == before and gold.read_text() == "item,gold\na,cat\n"
    assert not (tmp_path / "x.csv").exists()


def test_infer_checks_limit_and_method_before_reading(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\na,w1,\n")  # unreadable: the option is refused first
    result = cli("infer", labels, "--limit", "-1")
    assert result.exit_code == 2 and "--limit must be 0 (all rows) or more; got -1" in result.stderr
    for kind in ("categorical", "multilabel"):
        result = cli("infer", labels, "--kind", kind, "--method", "oracle")
        assert result.exit_code == 2 and "unknown --method 'oracle'; valid names: auto" in result.stderr, kind


def test_infer_refuses_a_repeated_column_without_a_traceback(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label,label\na,w1,cat,dog\n")
    result = cli("infer", labels)
    assert result.exit_code == 2 and "labels.csv: line 1: column 'label' appears twice" in result.stderr


def test_infer_scores_truth_without_the_gold_items(cli: Cli, tmp_path: Path) -> None:
    labels, gold, truth = tmp_path / "labels.csv", tmp_path / "gold.csv", tmp_path / "truth.csv"
    labels.write_text("item,worker,label\na,w1,cat\na,w2,cat\nb,w1,cat\nb,w2,cat\n")
    gold.write_text("item,gold\na,dog\n")
    truth.write_text("item,truth\na,dog\nb,dog\n")
    result = cli("infer", labels, "--method", "mv", "--gold", gold, "--truth", truth)
    assert result.exit_code == 0, result.output
    assert "accuracy against --truth: 0.0000 over 1 items (1 gold left out)" in result.output  # not 0.5 over 2
    truth.write_text("item,truth\na,dog\n")
    result = cli("infer", labels, "--method", "mv", "--gold", gold, "--truth", truth)
    assert "accuracy against --truth: – (all 1 items with truth are gold" in result.output
    assert "1.0000" not in result.output


def test_infer_pairwise_says_why_there_is_no_correlation(cli: Cli, tmp_path: Path) -> None:
    pairs, truth = tmp_path / "p.csv", tmp_path / "t.csv"
    pairs.write_text("item_a,item_b,winner,worker\nx,y,x,w1\nx,y,y,w2\n")
    truth.write_text("item,truth\nx,1\ny,2\n")
    result = cli("infer", pairs, "--kind", "pairwise", "--truth", truth)
    assert result.exit_code == 0, result.output
    assert ("Spearman rank correlation against --truth: – over 2 items (the inferred scores are all equal: "
            "no ranking to compare)") in result.output
    assert "nan" not in result.output and result.stderr == ""


def test_infer_checks_output_folders_before_reading(cli: Cli, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("item,worker,label\na,w1,cat\na,w2,cat\nb,w1,dog\nb,w2,dog\n")
    out = tmp_path / "answers.csv"
    # the answers used to be written before the workers file failed on its missing folder
    result = cli("infer", labels, "--out", out, "--workers-out", tmp_path / "missing" / "workers.csv")
    assert result.exit_code == 2 and "the folder" in result.stderr and "missing does not exist" in result.stderr
    assert not out.exists()
