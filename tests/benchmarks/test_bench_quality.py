"""Smoke tests for the `make bench-quality` harness: the synthetic crowds and the regimes table."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import numpy as np
import pytest

from test_bench_core import load


@pytest.fixture(scope="module")
def quality() -> ModuleType:
    return load("quality")  # it imports quality_data (a dataclass module) the regular way


def test_regimes_are_deterministic_and_well_formed(quality: ModuleType) -> None:
    data = quality
    first, again = data.regimes(seed=0), data.regimes(seed=0)
    assert [s.name for s in first] == list(data.REGIMES)
    for s, t in zip(first, again):
        assert np.array_equal(s.labels, t.labels) and np.array_equal(s.truth, t.truth)
        assert len(s.items) == len(s.workers) == len(s.labels) > 0
        assert s.labels.min() >= 0 and s.labels.max() < s.n_classes
        assert s.workers.max() < s.n_workers and s.truth.shape == (s.n_items,)
        pairs = s.items * s.n_workers + s.workers
        assert len(np.unique(pairs)) == len(pairs)  # one label per (item, worker)
    by_name = {s.name: s for s in first}
    imbalance = by_name["imbalance-9-1"].truth
    assert 0.85 < (imbalance == 0).mean() < 0.95
    assert data.regimes(seed=1)[0].labels.tolist() != first[0].labels.tolist()


def test_regimes_table_reports_auto_against_the_best_method(quality: ModuleType) -> None:
    crowds = [dataclasses.replace(s, name=f"{s.name}#0") for s in quality.regimes()[:2]]
    methods = {m: quality.TL_METHODS[m] for m in ("mv", "ds", "auto")}
    tl = {s.name: quality.run_truthline(s, 1, methods) for s in crowds}
    ck = {crowds[0].name: {"MV": {"answers": tl[crowds[0].name]["mv"]["answers"].tolist()}}}
    text = quality.render_regimes(crowds, tl, ck)
    assert "| tl:auto |" in text and "| ck:MV |" in text
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| auto − best")}
    assert set(rows) == {"| auto − best crowd-kit", "| auto − best other Truthline"}
    # the reported gap is auto's accuracy minus the best other method's, in points
    s = crowds[0]
    acc = {m: float((tl[s.name][m]["answers"] == s.truth).mean()) for m in methods}
    want = f"{(acc['auto'] - max(acc['mv'], acc['ds'])) * 100:+.1f} pt"
    assert rows["| auto − best other Truthline"].split(" | ")[1] == want
    assert rows["| auto − best crowd-kit"].split(" | ")[2].rstrip(" |") == "–"  # no crowd-kit result for the second crowd


def test_regimes_table_averages_over_seeds(quality: ModuleType) -> None:
    crowds = [dataclasses.replace(quality.regimes(seed)[0], name=f"homog-sparse#{seed}") for seed in (0, 1)]
    methods = {m: quality.TL_METHODS[m] for m in ("mv", "auto")}
    tl = {s.name: quality.run_truthline(s, 1, methods) for s in crowds}
    text = quality.render_regimes(crowds, tl, {})
    mean = np.mean([(tl[s.name]["mv"]["answers"] == s.truth).mean() for s in crowds])
    assert f"| tl:mv | {mean:.3f} |" in text and "over 2 seed(s)" in text
    header = next(line for line in text.splitlines() if line.startswith("| method |"))
    assert header == "| method | homog-sparse |"  # one column per kind, not per seed


def _write_set(root, name: str, answers: list[tuple[str, str, str]], truth: list[tuple[str, str]]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "answers.csv").write_text("item,worker,label\n" + "".join(f"{i},{w},{l}\n" for i, w, l in answers))
    (folder / "truth.csv").write_text("item,truth\n" + "".join(f"{i},{t}\n" for i, t in truth))


def test_every_set_folder_is_found_known_ones_first(quality: ModuleType, tmp_path) -> None:
    for name in ("ZC_us", "rte", "bird", "D_Product"):
        _write_set(tmp_path, name, [("a", "w", "0")], [("a", "0")])
    (tmp_path / "notes").mkdir()  # no answers.csv: not a set
    _write_set(tmp_path, "half", [("a", "w", "0")], [])
    (tmp_path / "half" / "truth.csv").unlink()
    assert quality.available_sets(tmp_path) == ["D_Product", "rte", "ZC_us", "bird"]
    assert quality.available_sets(tmp_path / "absent") == []


def test_labels_become_compact_classes(quality: ModuleType, tmp_path) -> None:
    # classes 1..3 (no 0) and one class that only the truth uses
    _write_set(tmp_path, "grades", [("x", "w1", "1"), ("x", "w2", "3"), ("y", "w1", "3"), ("z", "w2", "10")],
               [("x", "1"), ("y", "2"), ("nolabels", "1")])
    s = quality.load_real("grades", tmp_path)
    assert s.n_classes == 4  # 1, 2, 3, 10 in numeric order
    assert s.labels.tolist() == [0, 2, 2, 3] and s.truth.tolist() == [0, 1, -1]
    _write_set(tmp_path, "floats", [("x", "w1", "0"), ("y", "w1", "1")], [("x", "0.0"), ("y", "1.0")])
    f = quality.load_real("floats", tmp_path)  # truth written by pandas as floats: the same classes
    assert (f.n_classes, f.truth.tolist()) == (2, [0, 1])
    _write_set(tmp_path, "words", [("x", "w1", "cat"), ("x", "w2", "dog")], [("x", "dog")])
    t = quality.load_real("words", tmp_path)
    assert (t.n_classes, t.labels.tolist(), t.truth.tolist()) == (2, [0, 1], [1])


def test_sets_in_crowd_kit_spelling_load_too(quality: ModuleType, tmp_path) -> None:
    folder = tmp_path / "toloka"
    folder.mkdir()
    (folder / "answers.csv").write_text("task,performer,label\nt1,p1,0\nt1,p2,1\nt2,p1,1\n")
    (folder / "truth.csv").write_text("task,true_label\nt2,1\n")
    s = quality.load_real("toloka", tmp_path)
    assert (s.n_items, s.n_workers, s.labels.tolist(), s.truth.tolist()) == (2, 2, [0, 1, 1], [-1, 1])
    (folder / "truth.csv").write_text("task,verdict\nt2,1\n")
    with pytest.raises(ValueError, match="no truth column"):
        quality.load_real("toloka", tmp_path)


def test_sets_nothing_can_be_measured_on_are_refused_by_name(quality: ModuleType, tmp_path) -> None:
    _write_set(tmp_path, "one_class", [("x", "w1", "0"), ("y", "w2", "0")], [("x", "0")])
    with pytest.raises(ValueError, match="one class, nothing to infer"):
        quality.load_real("one_class", tmp_path)
    _write_set(tmp_path, "no_truth", [("x", "w1", "0"), ("y", "w2", "1")], [("elsewhere", "1")])
    with pytest.raises(ValueError, match=r"truth\.csv: none of its items has an answer"):
        quality.load_real("no_truth", tmp_path)
    _write_set(tmp_path, "empty", [], [("x", "1")])
    with pytest.raises(ValueError, match=r"answers\.csv: no answers"):
        quality.load_real("empty", tmp_path)
    folder = tmp_path / "short"
    folder.mkdir()
    (folder / "answers.csv").write_text("item,worker,label\nx,w1,0\ny,w2\n")
    (folder / "truth.csv").write_text("item,truth\nx,0\n")
    with pytest.raises(ValueError, match="line 3 has fewer cells than the header"):
        quality.load_real("short", tmp_path)


def test_a_latin1_set_loads(quality: ModuleType, tmp_path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "answers.csv").write_bytes("item,worker,label\ncaf\xe9,w1,0\ncafe,w1,1\n".encode("latin-1"))
    (folder / "truth.csv").write_bytes("item,truth\ncaf\xe9,0\n".encode("latin-1"))
    s = quality.load_real("old", tmp_path)
    # items in order: "cafe" < "café"; only café has truth
    assert (s.n_items, s.items.tolist(), s.truth.tolist()) == (2, [1, 0], [-1, 0])


def test_a_bad_set_is_skipped_and_listed_the_others_still_run(quality: ModuleType, tmp_path) -> None:
    answers = [(f"i{i}", f"w{w}", str((i + (w == 0)) % 2)) for i in range(20) for w in range(3)]
    _write_set(tmp_path, "fine", answers, [(f"i{i}", str(i % 2)) for i in range(20)])
    _write_set(tmp_path, "one_class", [("x", "w1", "0")], [("x", "0")])
    out = tmp_path / "table.md"
    quality.main(["--datasets", str(tmp_path), "--out", str(out), "--no-crowdkit", "--no-synthetic",
                  "--no-regimes", "--no-wide", "--repeats", "1"])
    text = out.read_text()
    assert "| method | fine | mean (real sets) |" in text and "| tl:mv | 1.000 | 1.0000 |" in text
    assert f"## Sets skipped\n\n- `one_class`: {tmp_path / 'one_class'}: every answer and truth is '0'" in text


def test_ebcc_figures_are_read_from_the_readme(quality: ModuleType, tmp_path) -> None:
    (tmp_path / "README.md").write_text(
        "# sets\n\n| set | MV | EBCC (published) |\n|---|---|---|\n| a | 0.5 | 0.812 |\n| b | 0.6 | – |\n\n"
        "| other | EBCC |\n|---|---|\n| c | 0.9 |\n")
    assert quality.published_ebcc(tmp_path) == {"a": 0.812}
    assert quality.published_ebcc(tmp_path / "absent") == {}


def test_targets_section_checks_each_set_and_the_means(quality: ModuleType) -> None:
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    sets = [quality.LabelSet(n, np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64), 10, 1, 2, truth)
            for n in ("near", "far")]
    right, one_wrong, two_wrong = truth.copy(), truth.copy(), truth.copy()
    one_wrong[0], two_wrong[:2] = 1, 1 - truth[:2]
    tl = {"near": {"auto": {"answers": right}}, "far": {"auto": {"answers": two_wrong}}}
    ck = {"near": {"DS": {"answers": one_wrong.tolist()}, "MV": {"answers": two_wrong.tolist()}},
          "far": {"DS": {"answers": right.tolist()}, "MV": {"answers": two_wrong.tolist()},
                  "MMSR": {"error": "ValueError: Skill value is missing"}}}
    text = "\n".join(quality.render_targets(sets, tl, ck, {"near": 0.95}))
    without = "(without Wawa, OneCoinDS, DS100, GLAD, MACE, ZBS, KOS, MMSR)"  # the crowd-kit methods that did not run
    assert f"| near | 1.000 | 0.900 DS {without} | +10.0 pt | yes |" in text
    assert f"| far | 0.800 | 1.000 DS {without} | -20.0 pt | **no** |" in text
    assert "crowd-kit failed (these count as not run): MMSR on far (ValueError: Skill value is missing)." in text
    assert "auto 0.9000; crowd-kit: MV 0.8000 (beaten), DS 0.9500 (**not beaten**)" in text
    four = [dataclasses.replace(sets[0], n_classes=4)]  # KOS handles two classes only: not missed on four
    assert "(without Wawa, OneCoinDS, DS100, GLAD, MACE, ZBS, MMSR)" in "\n".join(quality.render_targets(four, tl, ck, {}))
    assert "Over the 1 set(s) with an EBCC figure: auto 1.0000, EBCC (published) 0.9500 (beaten)" in text


def test_crowdkit_glad_and_mace_are_left_out_on_very_large_sets(quality: ModuleType) -> None:
    def labelset(name: str, n: int) -> object:
        z = np.zeros(n, np.int64)
        return quality.LabelSet(name, z, z, z, 1, 1, 2, np.zeros(1, np.int64))

    assert quality._crowdkit_methods(labelset("small", 10), False, 100) == quality.CK_METHODS
    four = dataclasses.replace(labelset("four", 10), n_classes=4)
    assert quality._crowdkit_methods(four, False, 100) == [m for m in quality.CK_METHODS if m != "KOS"]
    big = quality._crowdkit_methods(labelset("big", 101), False, 100)
    assert "GLAD" not in big and "MACE" not in big and "DS" in big
    assert quality._crowdkit_methods(labelset("synthetic", 10), False, 100) == quality.CK_SYNTHETIC
    assert quality._crowdkit_methods(labelset("synthetic", 10), True, 100) == quality.CK_METHODS


def test_balanced_accuracy_does_not_reward_the_majority_class(quality: ModuleType) -> None:
    truth = np.array([0] * 8 + [1] * 2 + [-1])  # the last item has no truth
    always_zero = np.zeros(11, np.int64)
    assert quality.accuracy(always_zero, truth) == pytest.approx(0.8)
    assert quality.balanced_accuracy(always_zero, truth) == pytest.approx(0.5)  # recall 1.0 and 0.0
    finds_one = always_zero.copy()
    finds_one[[0, 8]] = 1  # one negative lost, one positive found
    assert quality.balanced_accuracy(finds_one, truth) == pytest.approx((7 / 8 + 1 / 2) / 2)


def test_wide_crowds_table_names_the_models_auto_tried(quality: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    big = quality.wide_crowds(seed=0)
    assert [s.name for s in big] == list(quality.WIDE)
    for s, (n_items, n_workers, k, per_item, _) in zip(big, quality.WIDE.values()):
        assert (s.n_items, s.n_workers, s.n_classes, len(s.labels)) == (n_items, n_workers, k, n_items * per_item)
        pairs = s.items * s.n_workers + s.workers
        assert len(np.unique(pairs)) == len(pairs)  # one label per (item, worker)
    small = dataclasses.replace(quality.regimes(seed=0)[1], name="four classes")  # 50 workers x 4^2 = 800 cells
    monkeypatch.setattr(quality.auto, "BCC_MAX_CELLS", 799)
    line = next(x for x in quality.bench_wide([small]).splitlines() if x.startswith("| four classes |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == f"{len(small.labels):,}"
    assert cells[8] == "pooled, one_coin, ds, mace, ebcc"  # bcc left out: one cell over the limit
    assert set(cells[9].split(", ")) <= set(cells[8].split(", ")) and cells[9]
    assert all(0.5 < float(cells[c]) <= 1.0 for c in (5, 6, 7))  # auto, ds, mv


def test_confidence_section_compares_auto_with_and_without_tempering(quality: ModuleType, tmp_path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    hard = rng.random(200) < 0.3  # everyone guesses on these: the models grow too sure of them
    answers = [(f"i{i}", f"w{w}", str(truth[i] if rng.random() < (0.5 if hard[i] else 0.8) else 1 - truth[i]))
               for i in range(200) for w in rng.choice(12, 8, replace=False)]
    _write_set(tmp_path, "guesses", answers, [(f"i{i}", str(t)) for i, t in enumerate(truth)])
    out = tmp_path / "table.md"
    quality.main(["--datasets", str(tmp_path), "--out", str(out), "--no-crowdkit", "--no-synthetic",
                  "--no-regimes", "--no-wide", "--repeats", "1"])
    text = out.read_text()
    section = text.split("## Confidence")[1].split("## Seconds")[0]
    tau = float(section.split("Temperature `auto` chose: guesses ")[1].split(".\n")[0])
    assert tau < 1
    ece, loss, workers = section.split("### ")[1:4]
    assert "Expected calibration error" in ece and "Log loss of the truth" in loss
    assert "Workers' accuracy" in workers and "| tl:auto |" in workers

    def cell(table: str, row: str) -> float:
        return float(next(line for line in table.splitlines() if line.startswith(f"| {row} |")).split("|")[2])

    for table in (ece, loss):  # tempering made auto's confidence more honest on this crowd
        assert cell(table, "tl:auto") < cell(table, "tl:auto, untempered (calibrate=False)")


def test_worker_accuracy_error_compares_the_workers_table_with_the_truth(quality: ModuleType) -> None:
    from truthline.quality import CrowdLabels

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 100)
    items = np.repeat(np.arange(100), 3)
    workers = np.tile([0, 1, 2], 100)
    right = rng.random(300) < np.array([0.9, 0.75, 0.6])[workers]
    data = CrowdLabels.from_arrays(items, workers, np.where(right, truth[items], 1 - truth[items]), n_classes=2)
    knows = np.eye(2)[truth]  # posteriors that are the truth: only the Beta prior's pull is left
    assert quality.worker_accuracy_error(data, knows, truth) < 0.02
    assert quality.worker_accuracy_error(data, knows[:, ::-1], truth) > 0.2  # posteriors that are all wrong
    assert np.isnan(quality.worker_accuracy_error(data, knows, truth, min_labels=101))  # no worker judged


def test_gold_section_shows_gold_softening_what_held_out_labels_trust(quality: ModuleType, tmp_path) -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 400)
    blind = rng.random(400) < 0.25  # three workers in four give the same wrong answer: the labels agree, wrongly
    answers = [(f"i{i}", f"w{w}", str(truth[i] if rng.random() < (0.25 if blind[i] else 0.85) else 1 - truth[i]))
               for i in range(400) for w in rng.choice(15, 7, replace=False)]
    _write_set(tmp_path, "blind", answers, [(f"i{i}", str(t)) for i, t in enumerate(truth)])
    out = tmp_path / "table.md"
    args = ["--datasets", str(tmp_path), "--out", str(out), "--no-crowdkit", "--no-synthetic", "--no-regimes",
            "--no-wide", "--repeats", "1"]
    quality.main(args)
    section = out.read_text().split("## `auto`'s confidence with gold")[1]

    def cell(row: str) -> float:
        return float(next(line for line in section.splitlines() if line.startswith(f"| {row} |")).split("|")[2])

    assert cell("tau, with gold") < cell("tau, held-out labels") - 0.2
    assert cell("calibration error, with gold") < cell("calibration error, held-out labels") / 2
    assert cell("log loss of the truth, with gold") < cell("log loss of the truth, untempered")
    quality.main([*args, "--no-gold"])
    assert "confidence with gold" not in out.read_text()
