"""The simulated workforce: offline generator (pure) and a live crowd labeling through real HTTP."""

from __future__ import annotations

import socket
import threading
import time

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.engine import Engine

from truthline.api.app import create_app
from truthline.cli.serving import background_server
from truthline.quality import CrowdLabels, aggregate
from truthline.services import projects, results, users
from truthline.settings import Settings
from truthline.sim import (
    NumericWorker,
    make_crowd,
    make_numeric_crowd,
    pseudo_truth,
    pseudo_value,
    run_crowd,
    simulate_labels,
    written,
)


def test_crowd_has_stochastic_confusions_speeds_and_spammers() -> None:
    crowd = make_crowd(20, 4, seed=1, spammer_fraction=0.2)
    assert len(crowd) == 20 and len({w.name for w in crowd}) == 20
    for w in crowd:
        assert w.confusion.shape == (4, 4) and np.allclose(w.confusion.sum(axis=1), 1) and (w.confusion >= 0).all()
        assert w.median_ms > 0
    kinds = [w.kind for w in crowd]
    assert kinds.count("random") + kinds.count("constant") == 4 and "constant" in kinds and "random" in kinds
    honest = [w for w in crowd if w.kind == "honest"]
    assert all(0.3 < w.accuracy < 1 for w in honest)
    assert len({round(w.accuracy, 6) for w in honest}) == len(honest)  # each worker is different
    again = make_crowd(20, 4, seed=1, spammer_fraction=0.2)
    assert all((a.confusion == b.confusion).all() for a, b in zip(crowd, again, strict=True))


def test_make_crowd_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        make_crowd(0, 3)
    with pytest.raises(ValueError):
        make_crowd(3, 1)


def test_simulate_labels_overlap_distinct_workers_and_types() -> None:
    truth = np.random.default_rng(0).integers(0, 3, 500)
    crowd = make_crowd(8, 3, seed=2)
    items, workers, labels, active = simulate_labels(truth, crowd, (2, 4), seed=3)
    assert items.dtype == workers.dtype == labels.dtype == active.dtype == np.int64
    per_item = np.bincount(items, minlength=500)
    assert per_item.min() >= 2 and per_item.max() <= 4 and len(set(per_item.tolist())) == 3
    pairs = set(zip(items.tolist(), workers.tolist(), strict=True))
    assert len(pairs) == items.size  # no worker labels an item twice
    assert labels.min() >= 0 and labels.max() < 3 and (active > 0).all()
    same = simulate_labels(truth, crowd, (2, 4), seed=3)
    assert all((a == b).all() for a, b in zip((items, workers, labels, active), same, strict=True))


def test_simulate_labels_rejects_impossible_overlap() -> None:
    with pytest.raises(ValueError, match="overlap"):
        simulate_labels(np.zeros(5, dtype=int), make_crowd(3, 2), 4)


def test_spammers_make_ds_beat_mv() -> None:
    truth = np.random.default_rng(5).integers(0, 5, 3000)
    crowd = make_crowd(30, 5, seed=5, spammer_fraction=0.3)
    items, workers, labels, _ = simulate_labels(truth, crowd, 3, seed=5)
    data = CrowdLabels.from_arrays(items, workers, labels, n_items=truth.size, n_workers=30, n_classes=5)
    acc = {m: float((aggregate(data, method=m).answers == truth).mean()) for m in ("mv", "ds")}
    assert acc["ds"] > acc["mv"] + 0.03, acc


def test_pseudo_truth_is_stable() -> None:
    assert pseudo_truth("item-1", 7) == pseudo_truth("item-1", 7)
    assert len({pseudo_truth(f"item-{i}", 7) for i in range(100)}) == 7


def test_numeric_crowd_is_biased_noisy_and_wild_in_the_answers_units() -> None:
    crowd = make_numeric_crowd(40, scale=10.0, seed=1, wild_fraction=0.1)
    kinds = [w.kind for w in crowd]
    assert kinds[-4:] == ["wild"] * 4 and kinds.count("wild") == 4  # the last ones, as make_crowd's spammers
    assert {"honest", "biased", "noisy"} <= set(kinds[:-4])
    for w in crowd:
        if w.kind == "biased":
            assert 1.0 <= abs(w.bias) <= 2.5 and w.noise <= 0.6
        elif w.kind == "noisy":
            assert 1.5 <= w.noise <= 3.0
        elif w.kind == "honest":
            assert 0.2 <= w.noise <= 0.6 and abs(w.bias) < 1.0
        else:
            assert 0.3 <= w.wild_rate <= 0.6 and w.wild_spread == 30.0
    again = make_numeric_crowd(40, scale=10.0, seed=1, wild_fraction=0.1)
    assert [(w.bias, w.noise, w.kind) for w in crowd] == [(w.bias, w.noise, w.kind) for w in again]
    tenfold = make_numeric_crowd(40, scale=100.0, seed=1, wild_fraction=0.1)  # same crowd, other units
    assert [w.noise for w in tenfold] == pytest.approx([10 * w.noise for w in crowd])
    for bad in ({"n_workers": 0}, {"scale": 0.0}, {"decimals": 7}, {"wild_fraction": 1.5}):
        with pytest.raises(ValueError):
            make_numeric_crowd(**{"n_workers": 3, **bad})


def test_numeric_workers_answer_truth_plus_bias_plus_noise_as_typed() -> None:
    rng = np.random.default_rng(0)
    biased = NumericWorker("b", bias=3.0, noise=0.5, median_ms=1000.0, kind="biased")
    answers = [biased.answer(20.0, rng) for _ in range(2000)]
    assert all(type(a) is int for a in answers)  # whole numbers, as JSON integers
    assert np.mean(answers) == pytest.approx(23.0, abs=0.1) and 0.3 < np.std(answers) < 0.8
    boxed = NumericWorker("w", bias=0.0, noise=0.1, median_ms=1000.0, kind="wild", wild_rate=0.5, wild_spread=30.0,
                          decimals=1, low=0.0, high=25.0)
    values = np.array([boxed.answer(20.0, rng) for _ in range(2000)])
    assert values.min() >= 0.0 and values.max() <= 25.0  # kept within the project's range
    assert np.allclose(values * 10, np.round(values * 10))  # one decimal
    far = np.abs(values - 20.0) > 2.0
    assert 0.4 < far.mean() < 0.55  # about half wild (1 in 15 of those lands near the truth)
    assert written(3.7, 0) == 4 and type(written(3.7, 0)) is int
    assert written(1.234, 1) == 1.2 and written(-3.0, 0, low=0.0) == 0 and written(7.25, 1, high=5.5) == 5.5


def test_pseudo_value_is_stable_and_within_bounds() -> None:
    values = [pseudo_value(f"item-{i}", 10.0, 20.0) for i in range(200)]
    assert values == [pseudo_value(f"item-{i}", 10.0, 20.0) for i in range(200)]
    assert min(values) >= 10.0 and max(values) < 20.0 and max(values) - min(values) > 9.0


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    with background_server(create_app(Settings(), engine=engine)) as url:
        yield url


def test_run_crowd_labels_a_project_through_http(
    engine: Engine, server: str, make_project: Callable[..., Any], add_items: Callable[..., None], admin: Any
) -> None:
    project = make_project(overlap=3, labels=["a", "b", "c"])
    add_items(project, 25)
    crowd = make_crowd(5, 3, seed=4, spammer_fraction=0.2)
    tokens = {}
    for w in crowd:
        user = users.create_user(engine, admin.user, w.name, None)
        projects.add_member(engine, admin.user, project.id, w.name, "annotator")
        tokens[w.name] = users.create_token(engine, user)
    ticks: list[int] = []
    report = run_crowd(server, project.id, tokens, crowd, ["a", "b", "c"], on_submit=lambda: ticks.append(1))
    assert report.errors == 0 and report.first_error is None
    assert report.submitted == 75 == len(ticks) == sum(report.per_worker.values())
    assert len(report.submit_latencies) == 75 and report.elapsed > 0
    rows = results.item_results(engine, admin.user, project.id, method="mv")
    assert all(r["n_labels"] == 3 for r in rows)


def test_run_crowd_submits_numbers_for_a_numeric_project(
    engine: Engine, server: str, make_project: Callable[..., Any], add_items: Callable[..., None], admin: Any
) -> None:
    project = make_project(name="Counts", task_type="numeric", labels=[], range={"min": 0, "max": 50}, overlap=3)
    add_items(project, 12)
    crowd = make_numeric_crowd(4, scale=10.0, seed=3, wild_fraction=0.0, low=0, high=50)
    tokens = {}
    for w in crowd:
        user = users.create_user(engine, admin.user, w.name, None)
        projects.add_member(engine, admin.user, project.id, w.name, "annotator")
        tokens[w.name] = users.create_token(engine, user)
    truth = {f"item-{i}": float(3 * i) for i in range(12)}
    report = run_crowd(server, project.id, tokens, crowd, [], truth_of=lambda task: truth[task["item"]["external_id"]])
    assert report.errors == 0 and report.submitted == 36, report.first_error
    rows = results.item_results(engine, admin.user, project.id, method="auto")
    assert all(r["n_labels"] == 3 and isinstance(r["answer"], int) for r in rows)
    off = [abs(r["answer"] - truth[r["external_id"]]) for r in rows]
    assert max(off) <= 3, off  # honest and biased workers, no wild ones: near the truth throughout
    add_items(project, 2, start=12)
    drawn = run_crowd(server, project.id, tokens, crowd, [])  # no truth_of: pseudo_value, kept within the range
    assert drawn.submitted == 6 and drawn.errors == 0, drawn.first_error


def test_run_crowd_stops_at_max_submits_and_reports_bad_tokens(
    engine: Engine, server: str, make_project: Callable[..., Any], add_items: Callable[..., None], admin: Any
) -> None:
    project = make_project(overlap=2)
    add_items(project, 30)
    crowd = make_crowd(3, 3, seed=1, spammer_fraction=0.0)
    tokens = {}
    for w in crowd:
        user = users.create_user(engine, admin.user, w.name, None)
        projects.add_member(engine, admin.user, project.id, w.name, "annotator")
        tokens[w.name] = users.create_token(engine, user)
    report = run_crowd(server, project.id, tokens, crowd, ["cat", "dog", "bird"], max_submits=10)
    assert report.submitted == 10
    bad = run_crowd(server, project.id, {w.name: "not-a-token" for w in crowd}, crowd, ["cat", "dog", "bird"])
    assert bad.submitted == 0 and bad.errors == 3 and bad.first_error and "401" in bad.first_error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _crowd_members(engine: Engine, admin: Any, project: Any, n: int) -> tuple[list[Any], dict[str, str]]:
    crowd = make_crowd(n, 2, seed=2, spammer_fraction=0.0)
    tokens = {}
    for w in crowd:
        user = users.create_user(engine, admin.user, w.name, None)
        projects.add_member(engine, admin.user, project.id, w.name, "annotator")
        tokens[w.name] = users.create_token(engine, user)
    return crowd, tokens


def test_run_crowd_rides_out_a_server_that_comes_up_late(
    engine: Engine, make_project: Callable[..., Any], add_items: Callable[..., None], admin: Any
) -> None:
    project = make_project(overlap=2, labels=["a", "b"])
    add_items(project, 10)
    crowd, tokens = _crowd_members(engine, admin, project, 2)
    port = _free_port()
    out: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: out.setdefault("report", run_crowd(
        f"http://127.0.0.1:{port}", project.id, tokens, crowd, ["a", "b"], retries=8, backoff=0.05)))
    worker.start()
    time.sleep(0.3)  # the crowd's first calls find nothing listening
    with background_server(create_app(Settings(), engine=engine), port=port):
        worker.join(timeout=60)
    report = out["report"]
    assert report.errors == 0 and report.submitted == 20
    assert all(r["n_labels"] == 2 for r in results.item_results(engine, admin.user, project.id, method="mv"))


def test_run_crowd_reports_a_server_that_never_answers(
    engine: Engine, make_project: Callable[..., Any], add_items: Callable[..., None], admin: Any
) -> None:
    project = make_project(overlap=1, labels=["a", "b"])
    add_items(project, 3)
    crowd, tokens = _crowd_members(engine, admin, project, 2)
    started = time.perf_counter()
    report = run_crowd(f"http://127.0.0.1:{_free_port()}", project.id, tokens, crowd, ["a", "b"],
                       retries=2, backoff=0.01)
    assert time.perf_counter() - started < 10
    assert report.submitted == 0 and 1 <= report.errors <= 2  # the first worker to give up stops the other
    assert report.first_error and report.first_error.startswith("network error (ConnectError)")
    assert isinstance(report.unreachable, httpx.ConnectError)
