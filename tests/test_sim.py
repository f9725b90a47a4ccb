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
from truthline.sim import make_crowd, pseudo_truth, run_crowd, simulate_labels


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
