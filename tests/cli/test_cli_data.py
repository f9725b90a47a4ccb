"""`project`, `import`, `export`, `aggregate`, `workers`: happy paths and bad input (exit 2, naming field/line)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from truthline.services import projects, tasks, users
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)


def label_all(db_url: str, pid: int, n_workers: int = 3) -> None:
    """Workers w0..w2 label every item of project `pid`; w2 always says "bird" (a spammer)."""
    engine = make_engine(db_url)
    admin = users.first_admin(engine)
    for w in range(n_workers):
        user = users.create_user(engine, admin, f"w{w}", None)
        projects.add_member(engine, admin, pid, user.username, "annotator")
    projects.update_project(engine, admin, pid, {"overlap": n_workers})
    for w in range(n_workers):
        user = users.get_user_by_name(engine, admin, f"w{w}")
        while (task := tasks.next_task(engine, user, pid)) is not None:
            i = int(task.external_id[1:])
            answer = "bird" if w == 2 else ["cat", "dog", "bird"][i % 3]
            tasks.submit(engine, user, task.lease_id, answer, 1000 + w, f"k{task.lease_id}")
    engine.dispose()


def test_project_create_and_list(cli: Cli, seeded: dict) -> None:
    result = cli("project", "list", db=seeded["db"])
    assert result.exit_code == 0
    assert "Pets" in result.stdout and "cat, dog, bird" in result.stdout


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: [unclosed\n", "line"),
        ("- just\n- a list\n", "mapping"),
        ("name: X\nlabels: [a, b]\ncolour: red\n", "colour"),
        ("name: X\nlabels: [a, b]\noverlap: 0\n", "overlap"),
        ("name: X\ntask_type: video\nlabels: [a]\n", "task_type"),
        # rating: labels disagreeing with the scale (one was quietly dropped); a 5,000-digit value (a traceback)
        ("name: X\ntask_type: rating\nscale: {min: 1, max: 5}\nlabels: [a, b]\n", "labels"),
        ("name: X\ntask_type: rating\nscale: {min: 1, max: 1e5000}\n", "scale.max"),
    ],
)
def test_project_create_bad_config_names_the_problem(cli: Cli, seeded: dict, text: str, needle: str) -> None:
    config = seeded["tmp"] / "bad.yaml"
    config.write_text(text)
    result = cli("project", "create", "--config", config, db=seeded["db"])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and "Traceback" not in result.output


def test_project_create_missing_file(cli: Cli, seeded: dict) -> None:
    result = cli("project", "create", "--config", seeded["tmp"] / "nope.yaml", db=seeded["db"])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_import_is_idempotent_and_reads_csv_and_parquet(cli: Cli, seeded: dict) -> None:
    again = cli("import", str(seeded["pid"]), seeded["items"], db=seeded["db"])
    assert again.exit_code == 0 and "0 created, 0 updated, 12 unchanged" in again.stdout
    csv_file = seeded["tmp"] / "more.csv"
    csv_file.write_text("external_id,text\nc1,hello\nc2,world\n")
    result = cli("import", "Pets", csv_file, db=seeded["db"])
    assert result.exit_code == 0 and "2 created" in result.stdout, result.output
    pq_file = seeded["tmp"] / "more.parquet"
    pq.write_table(pa.table({"external_id": ["q1"], "data": [json.dumps({"text": "parquet pet"})]}), pq_file)
    result = cli("import", "Pets", pq_file, db=seeded["db"])
    assert result.exit_code == 0 and "1 created" in result.stdout, result.output


def test_import_bad_lines_are_all_named_and_nothing_is_written(cli: Cli, seeded: dict) -> None:
    bad = seeded["tmp"] / "bad.jsonl"
    bad.write_text(
        '{"external_id": "n1", "data": {"text": "fine"}}\n'
        '{"external_id": "n2", "data": {"text": "broken"}\n'
        '{"external_id": "n3", "data": {"text": "x"}, "gold": "hamster"}\n'
        '{"external_id": "n1", "data": {"text": "dup"}}\n'
    )
    result = cli("import", "Pets", bad, db=seeded["db"])
    assert result.exit_code == 2
    for needle in ("line 2", "line 3", "gold", "line 4", "duplicate", "nothing was imported"):
        assert needle in result.stderr, (needle, result.stderr)
    check = cli("import", "Pets", seeded["items"], db=seeded["db"])
    assert "0 created" in check.stdout  # n1 was not half-written


def test_import_unknown_project_and_format(cli: Cli, seeded: dict) -> None:
    result = cli("import", "Hamsters", seeded["items"], db=seeded["db"])
    assert result.exit_code == 2 and "no project named 'Hamsters'" in result.stderr  # bad input
    odd = seeded["tmp"] / "items.xml"
    odd.write_text("<items/>")
    result = cli("import", "Pets", odd, db=seeded["db"])
    assert result.exit_code == 2 and "--format" in result.stderr
    result = cli("import", "Pets", seeded["tmp"] / "missing.jsonl", db=seeded["db"])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_aggregate_and_workers_show_ds_and_accuracy_against_truth(cli: Cli, seeded: dict) -> None:
    label_all(seeded["db"], seeded["pid"])
    result = cli("aggregate", "Pets", "--method", "ds", db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "p0" in result.stdout and "12 items, 12 with an answer" in result.stdout
    assert "Accuracy against truth" in result.stdout
    mv = cli("aggregate", "Pets", "--method", "mv", "--limit", "0", db=seeded["db"])
    assert mv.exit_code == 0 and "p11" in mv.stdout
    auto = cli("aggregate", "Pets", db=seeded["db"])  # the default method's own figure comes first
    assert auto.exit_code == 0 and "(12 items): auto 1.000, Dawid-Skene 1.000" in auto.stdout
    workers = cli("workers", "Pets", db=seeded["db"])
    assert workers.exit_code == 0, workers.output
    rows = {m[1]: m.groups()[1:] for m in re.finditer(
        r"(w\d)\s*│\s*12\s*│\s*([\d.]+) \[([\d.]+), ([\d.]+)\]\s*│\s*([\d.]+)\s*│\s*0 / 0\s*│", workers.stdout)}
    assert sorted(rows) == ["w0", "w1", "w2"], workers.stdout
    acc, lower, upper, spam = (dict(zip(rows, map(float, col))) for col in zip(*rows.values()))
    assert all(lower[w] < acc[w] < upper[w] for w in rows)
    assert upper["w2"] < lower["w0"] and spam["w2"] < 0.05 < 0.9 < spam["w0"]  # w2 always says "bird"
    assert re.search(r"Krippendorff's alpha 0\.\d+, Fleiss' kappa 0\.\d+", workers.stdout)
    assert "auto blended:" in workers.stdout
    confusions = re.search(r"Most frequent confusions \(by the auto answers\): (.*)", workers.stdout)
    assert confusions and all(" labelled bird " in c for c in confusions.group(1).split("; ")), workers.stdout
    mv_workers = cli("workers", "Pets", "--method", "mv", db=seeded["db"])
    assert mv_workers.exit_code == 0 and "auto blended" not in mv_workers.stdout


def test_workers_sorts_and_writes_the_table(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    empty = tmp_path / "none.csv"
    result = cli("workers", "Pets", "--out", empty, db=seeded["db"])
    assert result.exit_code == 0 and "no labels yet" in result.stdout
    assert empty.read_text().splitlines() == ["worker,user_id,n_labels,accuracy,lower,upper,spammer_score,gold_labels,"
                                              "gold_correct,mean_active_ms,slip_kind,slip_answer,slip_given,slip_labels,slip_of"]
    label_all(seeded["db"], seeded["pid"])
    out = tmp_path / "workers.csv"
    result = cli("workers", "Pets", "--sort", "spammer", "--limit", "1", "--out", out, db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert re.search(r"│ w2\s*│", result.stdout) and "w0" not in result.stdout  # the spammer first, then the limit
    assert "wrote 3 workers to" in result.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["worker"] == "w2" and sorted(r["worker"] for r in rows) == ["w0", "w1", "w2"]  # all, not --limit
    assert list(rows[0]) == ["worker", "user_id", "n_labels", "accuracy", "lower", "upper", "spammer_score",
                             "gold_labels", "gold_correct", "mean_active_ms", "slip_kind", "slip_answer", "slip_given",
                             "slip_labels", "slip_of"]
    # w2 says "bird" to everything: its most frequent slip is a non-bird class taken for a bird, every time
    assert rows[0]["slip_kind"] == "confused" and rows[0]["slip_given"] == "bird"
    assert rows[0]["slip_labels"] == rows[0]["slip_of"] != ""
    assert rows[1]["slip_answer"] == ""  # the careful workers: no slip, empty cells
    assert re.search(r"Habitual slips: w2: \w+ → bird \((\d+) of \1\)$", result.stdout, re.M)
    assert float(rows[0]["upper"]) < float(rows[1]["lower"]) and rows[0]["n_labels"] == "12"
    jsonl = tmp_path / "workers.jsonl"
    assert cli("workers", "Pets", "--sort", "name", "--out", jsonl, db=seeded["db"]).exit_code == 0
    assert [json.loads(line)["worker"] for line in jsonl.read_text().splitlines()] == ["w0", "w1", "w2"]
    bad = cli("workers", "Pets", "--sort", "speed", db=seeded["db"])
    assert bad.exit_code == 2 and "--sort must be one of" in bad.stderr
    bad = cli("workers", "Pets", "--out", tmp_path / "w.txt", db=seeded["db"])
    assert bad.exit_code == 2 and "w.txt" in bad.stderr and not (tmp_path / "w.txt").exists()


def test_aggregate_scores_the_method_against_gold_without_truth(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    engine = make_engine(seeded["db"])
    admin = users.first_admin(engine)
    items = tmp_path / "gold.jsonl"
    items.write_text("".join(f'{{"external_id": "g{i}", "data": {{"text": "g{i}"}}, "gold": "cat"}}\n' for i in range(4)))
    config = tmp_path / "golden.yaml"
    config.write_text("name: Golden\ntask_type: classification\nlabels: [cat, dog]\noverlap: 2\n")
    assert cli("project", "create", "--config", config, db=seeded["db"]).exit_code == 0
    assert cli("import", "Golden", items, db=seeded["db"]).exit_code == 0
    pid = next(p.id for p in projects.list_projects(engine, admin) if p.name == "Golden")
    for w, answer in (("gw0", "cat"), ("gw1", "dog")):
        user = users.create_user(engine, admin, w, None)
        projects.add_member(engine, admin, pid, user.username, "annotator")
        while (task := tasks.next_task(engine, user, pid)) is not None:
            tasks.submit(engine, user, task.lease_id, answer, 1000, f"{w}-{task.lease_id}")
    engine.dispose()
    result = cli("aggregate", "Golden", "--method", "one_coin", db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Accuracy against gold \(4 items\): one_coin [\d.]+, Dawid-Skene", result.stdout), result.stdout


def test_workers_of_a_multilabel_project_say_which_labels_are_missed_or_added(cli: Cli, seeded: dict,
                                                                              tmp_path: Path) -> None:
    config = tmp_path / "tags.yaml"
    config.write_text("name: Tags\ntask_type: multilabel\nlabels: [red, round, sweet]\noverlap: 3\n")
    assert cli("project", "create", "--config", config, db=seeded["db"]).exit_code == 0
    items = tmp_path / "tags.jsonl"
    items.write_text("".join(f'{{"external_id": "t{i}", "data": {{"text": "t{i}"}}}}\n' for i in range(8)))
    assert cli("import", "Tags", items, db=seeded["db"]).exit_code == 0
    labels = tmp_path / "labels.csv"  # every item is red; w2 forgets red on every item
    labels.write_text("external_id,worker,answer\n" + "".join(
        f't{i},w{w},"[""red""]"\n' if w < 2 else f"t{i},w{w},[]\n" for i in range(8) for w in range(3)))
    imported = cli("import", "Tags", "--labels", labels, "--create-workers", db=seeded["db"])
    assert imported.exit_code == 0, imported.output
    result = cli("workers", "Tags", "--method", "mv", db=seeded["db"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "Labels workers miss or add most (by the mv answers): red missed 33% (8 of 24), added 0% (0 of 0)" in said
    assert "Habitual slips: w2: misses red (8 of 8)" in said


def test_aggregate_unknown_method_is_bad_input(cli: Cli, seeded: dict) -> None:
    result = cli("aggregate", "Pets", "--method", "magic", db=seeded["db"])
    assert result.exit_code == 2 and "method" in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_writes_every_format(cli: Cli, seeded: dict, fmt: str) -> None:
    label_all(seeded["db"], seeded["pid"])
    out = seeded["tmp"] / f"out.{fmt}"
    result = cli("export", "Pets", "--format", fmt, "--out", out, db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert not out.with_name(out.name + ".partial").exists()
    raw = out.read_bytes()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in raw.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(raw.decode())))
    else:
        rows = pq.read_table(out).to_pylist()
    assert len(rows) == 12 and {r["external_id"] for r in rows} == {f"p{i}" for i in range(12)}
    assert all("truth" not in r and "gold" not in r for r in rows)


def test_export_probabilities(cli: Cli, seeded: dict) -> None:
    label_all(seeded["db"], seeded["pid"])
    out = seeded["tmp"] / "soft.jsonl"
    result = cli("export", "Pets", "--probabilities", "--method", "mv", "--out", out, db=seeded["db"])
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r["probabilities"] for r in map(json.loads, out.read_bytes().splitlines())}
    # p0: w0 and w1 say cat, w2 says bird
    assert rows["p0"] == {"cat": pytest.approx(2 / 3, abs=1e-6), "dog": 0.0, "bird": pytest.approx(1 / 3, abs=1e-6)}


def test_export_bad_format_writes_nothing(cli: Cli, seeded: dict) -> None:
    out = seeded["tmp"] / "out.xml"
    result = cli("export", "Pets", "--format", "xml", "--out", out, db=seeded["db"])
    assert result.exit_code == 2 and "--format" in result.stderr and not out.exists()


def test_export_to_a_missing_directory_is_bad_input(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    result = cli("export", "Pets", "--out", tmp_path / "no" / "such" / "dir.jsonl", db=seeded["db"])
    assert result.exit_code == 2 and "does not exist" in result.stderr and ".partial" not in result.stderr


def test_export_out_paths(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    """A symlink is written through (kept as a link), a device in place; paths that cannot be files are clear errors."""
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    assert cli("export", "Pets", "--out", link, db=seeded["db"]).exit_code == 0
    assert link.is_symlink() and len(real.read_text().splitlines()) == 12
    pipe = tmp_path / "pipe"  # a FIFO, like /dev/stdout (not /dev/null itself: a regression would replace it)
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = cli("export", "Pets", "--out", pipe, db=seeded["db"])
    reader.join(10)
    assert result.exit_code == 0 and pipe.is_fifo() and len(got[0].splitlines()) == 12, result.output
    for bad, code, words in (("/", 2, "names no file"), (".", 2, "names no file"), (str(real / "sub"), 2, "directory"),
                             (str(tmp_path / ("x" * 300)), 1, "too long")):
        result = cli("export", "Pets", "--out", bad, db=seeded["db"])
        assert result.exit_code == code and words in result.stderr and "Traceback" not in result.output, (bad, result.output)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []


def test_export_to_standard_output_appends_or_streams(seeded: dict, tmp_path: Path) -> None:
    # a real process, so /dev/stdout leads to what the shell opened: `>> file` used to have a file renamed
    # over it (its earlier lines gone) and a pipe failed ("pipe:[N].partial: no such file")
    command = [sys.executable, "-m", "truthline.cli", "--db", seeded["db"], "export", "Pets", "--out", "/dev/stdout"]
    appended = tmp_path / "log.jsonl"
    appended.write_text("earlier line\n")
    with appended.open("ab") as fh:
        done = subprocess.run(command, stdout=fh, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = appended.read_text().splitlines()
    assert lines[0] == "earlier line" and [json.loads(x)["external_id"] for x in lines[1:]] == [f"p{i}" for i in range(12)]
    assert b"Wrote /dev/stdout" in done.stderr  # the note is not in the data
    piped = subprocess.run(command, capture_output=True, timeout=120)
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == 12, piped.stderr


def test_project_references(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    assert cli("workers", "\u00b2", db=seeded["db"]).exit_code == 2  # a superscript two is a name, not id 2
    result = cli("workers", "\u0661", db=seeded["db"])  # Arabic-Indic one: not project 1
    assert result.exit_code == 2 and "no project named" in result.stderr
    config = tmp_path / "again.yaml"
    config.write_text("name: Pets\ntask_type: classification\nlabels: [a, b]\n")
    twin = cli("project", "create", "--config", config, db=seeded["db"])  # a rerun must not make a twin
    assert twin.exit_code == 1 and f"project #{seeded['pid']} is already named 'Pets'" in twin.stderr
    assert cli("user", "create", "eve", "--password", "pass-word-1", db=seeded["db"]).exit_code == 0
    assert cli("--as", "eve", "project", "create", "--config", config, db=seeded["db"]).exit_code == 0  # hers
    result = cli("workers", "Pets", db=seeded["db"])  # the admin sees both
    assert result.exit_code == 2 and "2 projects are named 'Pets'" in result.stderr


def test_import_labels_migrates_existing_labels(cli: Cli, seeded: dict) -> None:
    labels = seeded["tmp"] / "labels.jsonl"
    labels.write_text("".join(
        f'{{"external_id": "p{i}", "worker": "old-{w}", "answer": "{["cat", "dog", "bird"][i % 3]}", "active_ms": 900}}\n'
        for i in range(12) for w in range(2)
    ))
    refused = cli("import", "Pets", labels, "--labels", db=seeded["db"])
    assert refused.exit_code == 2 and "old-0" in refused.stderr and "--create-workers" in refused.stderr
    result = cli("import", "Pets", labels, "--labels", "--create-workers", db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "24 labels created, 0 unchanged, 2 workers created" in result.stdout
    again = cli("import", "Pets", labels, "--labels", db=seeded["db"])
    assert again.exit_code == 0 and "0 labels created, 24 unchanged" in again.stdout
    agg = cli("aggregate", "Pets", "--method", "mv", db=seeded["db"])
    assert "Accuracy against truth (12 items): Dawid-Skene 1.000, majority vote 1.000" in agg.stdout


def test_import_labels_bad_lines_and_formats(cli: Cli, seeded: dict) -> None:
    bad = seeded["tmp"] / "bad-labels.jsonl"
    bad.write_text('{"external_id": "p1", "worker": "admin", "answer": "hamster"}\n{"external_id": "zz", "worker": "admin", "answer": "cat"}\n')
    result = cli("import", "Pets", bad, "--labels", db=seeded["db"])
    assert result.exit_code == 2 and "line 1" in result.stderr and "answer" in result.stderr
    as_parquet = seeded["tmp"] / "labels.parquet"
    as_parquet.write_bytes(b"PAR1")
    result = cli("import", "Pets", as_parquet, "--labels", db=seeded["db"])
    assert result.exit_code == 2 and "--labels reads .jsonl, .json or .csv" in result.stderr
    bad_csv = seeded["tmp"] / "bad-labels.csv"
    bad_csv.write_text("external_id,worker,answer,active_ms\np1,admin,cat,900\np2,admin,dog,fast\n")
    result = cli("import", "Pets", bad_csv, "--labels", db=seeded["db"])
    assert result.exit_code == 2 and "line 3" in result.stderr and "active_ms" in result.stderr
    bad_csv.write_text("external_id,rater,answer\np1,admin,cat\n")
    result = cli("import", "Pets", bad_csv, "--labels", db=seeded["db"])
    assert result.exit_code == 2 and "line 1, worker" in result.stderr and "missing: worker" in result.stderr
    bad_csv.write_text("external_id,worker,answer,rater\np1,admin,cat,x\n")
    result = cli("import", "Pets", bad_csv, "--labels", db=seeded["db"])
    assert result.exit_code == 2 and "rater" in result.stderr and "unknown field" in result.stderr


def test_import_labels_from_csv(cli: Cli, seeded: dict) -> None:
    """A label CSV as other tools export it: active_ms may be left empty; cells our exports defused read back."""
    labels = seeded["tmp"] / "labels.csv"
    labels.write_text("external_id,worker,answer,active_ms\n" + "".join(
        f"p{i},csv-{w},{['cat', 'dog', 'bird'][i % 3]},{'' if w else 700}\n" for i in range(12) for w in range(2)))
    result = cli("import", "Pets", labels, "--labels", "--create-workers", db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "24 labels created, 0 unchanged, 2 workers created" in result.stdout
    agg = cli("aggregate", "Pets", "--method", "mv", db=seeded["db"])
    assert "Accuracy against truth (12 items): Dawid-Skene 1.000, majority vote 1.000" in agg.stdout


def test_project_list_names_a_rating_scale(cli: Cli, seeded: dict) -> None:
    """Not its values: a 0-100 scale filled the screen with 101 of them."""
    config = seeded["tmp"] / "score.yaml"
    config.write_text("name: Score\ntask_type: rating\nscale: {min: 0, max: 100}\n")
    assert cli("project", "create", "--config", config, db=seeded["db"]).exit_code == 0
    config.write_text("name: Halves\ntask_type: rating\nscale: {min: 0, max: 2, step: 0.5}\n")
    assert cli("project", "create", "--config", config, db=seeded["db"]).exit_code == 0
    listed = cli("project", "list", db=seeded["db"]).stdout
    assert "scale 0 to 100" in listed and "scale 0 to 2 by 0.5" in listed and "1, 2, 3" not in listed


def test_a_rating_project_from_yaml_to_aggregate(cli: Cli, seeded: dict) -> None:
    """Values as YAML numbers, numeric gold and labels (JSONL and CSV), a re-import of 4 as "4" unchanged;
    aggregate shows each item's estimate."""
    db, tmp = seeded["db"], seeded["tmp"]
    config = tmp / "stars.yaml"
    config.write_text("name: Stars\ntask_type: rating\nlabels: [1, 2, 3, 4, 5]\n")
    assert cli("project", "create", "--config", config, db=db).exit_code == 0
    items = tmp / "stars.jsonl"
    items.write_text('{"external_id": "s1", "data": {"text": "a"}, "gold": 5}\n{"external_id": "s2", "data": {"text": "b"}}\n')
    assert cli("import", "Stars", items, db=db).exit_code == 0
    labels = tmp / "stars-labels.jsonl"
    labels.write_text('{"external_id": "s2", "worker": "r1", "answer": 4}\n')
    assert cli("import", "Stars", labels, "--labels", "--create-workers", db=db).exit_code == 0
    as_csv = tmp / "stars-labels.csv"
    as_csv.write_text("external_id,worker,answer\ns2,r1,4.0\ns2,r2,3\n")
    result = cli("import", "Stars", as_csv, "--labels", "--create-workers", db=db)
    assert result.exit_code == 0 and "1 labels created, 1 unchanged" in result.stdout, result.output
    assert "differ" not in result.stdout
    agg = cli("aggregate", "Stars", "--method", "mv", db=db)
    assert agg.exit_code == 0 and "estimate" in agg.stdout, agg.output
    assert re.search(r"s1\s+│ 5\s+│ 1\.000\s+│ 5\.000", agg.stdout), agg.stdout  # gold
    assert re.search(r"s2\s+│ [34]\s+│ 0\.500\s+│ 3\.500", agg.stdout), agg.stdout  # a 4 and a 3
