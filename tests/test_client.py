"""The Python SDK against a real server on 127.0.0.1: every endpoint, and errors as TruthlineAPIError."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from truthline.api.app import create_app
from truthline.cli.serving import background_server
from truthline.client import Client, TruthlineAPIError
from truthline.settings import Settings
from tests.pairs import press


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    with background_server(create_app(Settings(max_upload_bytes=100_000), engine=engine)) as url:
        yield url


@pytest.fixture
def tl(server: str, admin: Any) -> Iterator[Client]:
    with Client(server, admin.token) as client:
        yield client


def test_public_api() -> None:
    import truthline.client as module

    assert set(module.__all__) == {"Client", "TruthlineAPIError"}


# Every REST endpoint and the Client method that calls it: a new endpoint fails this test until the SDK has it.
ENDPOINTS = {
    ("post", "/auth/login"): "login", ("post", "/auth/logout"): "logout", ("get", "/me"): "me",
    ("post", "/users"): "create_user", ("post", "/tokens"): "create_token",
    ("get", "/projects"): "list_projects", ("post", "/projects"): "create_project",
    ("get", "/projects/{project_id}"): "get_project", ("patch", "/projects/{project_id}"): "update_project",
    ("get", "/projects/{project_id}/members"): "list_members", ("post", "/projects/{project_id}/members"): "add_member",
    ("delete", "/projects/{project_id}/members/{username}"): "remove_member",
    ("post", "/projects/{project_id}/items"): "import_items", ("post", "/projects/{project_id}/next"): "next_task",
    ("post", "/leases/{lease_id}/submit"): "submit", ("post", "/leases/{lease_id}/skip"): "skip",
    ("post", "/leases/{lease_id}/release"): "release", ("post", "/leases/{lease_id}/renew"): "renew",
    ("get", "/projects/{project_id}/results"): "results",
    ("get", "/projects/{project_id}/workers"): "workers", ("get", "/projects/{project_id}/summary"): "summary",
    ("get", "/projects/{project_id}/export"): "export", ("get", "/projects/{project_id}/quality"): "quality",
    ("get", "/projects/{project_id}/ranking"): "ranking",
    ("get", "/projects/{project_id}/ranking/head-to-head"): "head_to_head",
    ("get", "/users"): "list_users", ("patch", "/users/{username}"): "update_user",
    ("delete", "/users/{username}/tokens"): "revoke_tokens", ("post", "/me/password"): "change_password",
}


def test_client_covers_every_endpoint(engine: Engine) -> None:
    spec = create_app(Settings(), engine=engine).openapi()
    served = {(m, p.removeprefix("/api/v1")) for p, ops in spec["paths"].items() for m in ops}
    assert served == set(ENDPOINTS), served ^ set(ENDPOINTS)
    assert all(callable(getattr(Client, name)) for name in ENDPOINTS.values())


def test_full_loop_through_the_sdk(tl: Client, server: str, tmp_path: Path) -> None:
    assert tl.me()["username"] == "admin"
    project = tl.create_project({"name": "Pets", "task_type": "classification", "labels": ["cat", "dog"], "overlap": 2})
    pid = project["id"]
    assert tl.get_project(pid)["labels"] == ["cat", "dog"]
    assert [p["id"] for p in tl.list_projects()] == [pid]
    assert tl.update_project(pid, {"guidelines": "Look closely."})["guidelines"] == "Look closely."
    assert tl.import_items(pid, [{"external_id": "a", "data": {"text": "purr"}, "gold": "cat"}]) == {
        "created": 1, "updated": 0, "unchanged": 0}
    upload = tmp_path / "more.jsonl"
    upload.write_text('{"external_id": "b", "data": {"text": "woof"}}\n{"external_id": "c", "data": {"text": "hiss"}}\n')
    assert tl.upload_items(pid, upload)["created"] == 2
    csv_upload = tmp_path / "more.csv"
    csv_upload.write_text("external_id,text\nd,meow\n")
    assert tl.upload_items(pid, csv_upload)["created"] == 1

    names = []
    for i in range(2):
        tl.create_user(f"ann{i}", "password123")
        tl.add_member(pid, f"ann{i}", "annotator")
        names.append(f"ann{i}")
    assert {m["username"] for m in tl.list_members(pid)} >= set(names)
    tl.create_user("ann.x@lab", "password123")  # "@" is escaped in the path
    tl.add_member(pid, "ann.x@lab", "annotator")
    tl.remove_member(pid, "ann.x@lab")
    assert "ann.x@lab" not in {m["username"] for m in tl.list_members(pid)}

    for name in names:
        with Client(server) as ann:
            ann.login(name, "password123")
            assert ann.me()["username"] == name
            assert isinstance(ann.create_token("laptop"), str)
            seen = set()
            while (task := ann.next_task(pid)) is not None:
                assert "gold" not in json.dumps(task) and task["labels"] == ["cat", "dog"]
                seen.add(task["item"]["external_id"])
                if task["item"]["external_id"] == "c" and name == "ann0":
                    ann.skip(task["lease_id"])
                    continue
                first = ann.submit(task["lease_id"], "cat", active_ms=900, idempotency_key=f"{name}-{task['lease_id']}")
                replay = ann.submit(task["lease_id"], "cat", active_ms=900, idempotency_key=f"{name}-{task['lease_id']}")
                assert first["id"] == replay["id"]
            assert seen == {"a", "b", "c", "d"}
            ann.logout()
            with pytest.raises(TruthlineAPIError) as gone:
                ann.me()
            assert gone.value.status_code == 401

    rows = {r["external_id"]: r for r in tl.results(pid, method="mv")}
    assert rows["a"]["answer"] == "cat" and rows["c"]["n_labels"] == 1
    soft_rows = {r["external_id"]: r["probabilities"] for r in tl.results(pid, method="mv", probabilities=True)}
    assert soft_rows["a"] == {"cat": 1.0, "dog": 0.0} and "probabilities" not in rows["a"]
    assert {w["username"] for w in tl.workers(pid)} == set(names)
    assert tl.summary(pid)["progress"]["items"] == 4
    quality = tl.quality(pid, method="ds")
    assert quality["method"] == "ds" and {w["username"] for w in quality["workers"]} == set(names)
    assert tl.workers(pid, method="ds") == quality["workers"]  # one figure per worker on every surface
    out = io.BytesIO()
    assert tl.export(pid, out, fmt="jsonl", method="mv") == len(out.getvalue())
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["external_id"] for r in exported} == {"a", "b", "c", "d"}
    out = io.BytesIO()
    tl.export(pid, out, method="mv", probabilities=True)
    soft = {r["external_id"]: r["probabilities"] for r in map(json.loads, out.getvalue().splitlines())}
    assert soft["a"] == {label: float(label == rows["a"]["answer"]) for label in soft["a"]}
    pq_out = tmp_path / "out.parquet"
    with pq_out.open("wb") as fh:
        tl.export(pid, fh, fmt="parquet")
    assert pq.read_table(pq_out).num_rows == 4


def test_pairwise_ranking_through_the_sdk(tl: Client) -> None:
    pid = tl.create_project({"name": "Arena", "task_type": "pairwise"})["id"]
    pairs = [{"external_id": f"p{k}", "data": {"text": "q", "a": "x", "b": "y", "a_id": "big", "b_id": "small"}}
             for k in range(4)]
    tl.import_items(pid, pairs)
    while (task := tl.next_task(pid)) is not None:
        assert set(task["item"]["data"]) == {"text", "a", "b"}  # blind: no model names
        tl.submit(task["lease_id"], press("a", pairs[0]["data"], task["item"]["data"]))  # "x", wherever shown
    ranking = tl.ranking(pid, method="mv")
    versus = tl.head_to_head(pid, method="mv", top=2)  # the ranking's two sides, and their record
    assert [s["id"] for s in versus["sides"]] == [r["id"] for r in ranking["ranking"]] and versus["exact_covariance"]
    first = versus["sides"][0]["versus"][0]
    assert first["items"] == 4 and first["wins"] == ranking["ranking"][0]["wins"] and first["win_probability"] >= 0.5
    with pytest.raises(TruthlineAPIError) as err:
        tl.head_to_head(pid, top=0)
    assert err.value.status_code == 422 and err.value.field == "top"
    assert ranking["method"] == "mv" and [r["id"] for r in ranking["ranking"]] == ["big", "small"]
    assert ranking["ranking"][0]["wins"] == 4
    with pytest.raises(TruthlineAPIError) as err:
        tl.ranking(tl.create_project({"name": "Cats", "labels": ["cat", "dog"]})["id"])
    assert err.value.status_code == 422 and err.value.field == "project_id"


def test_user_administration_through_the_sdk(tl: Client, server: str) -> None:
    tl.create_user("ann", "password123")
    with Client(server) as ann:
        ann.login("ann", "password123")
        assert ann.change_password("password123", "password456") == 0  # no other token yet
        assert ann.me()["username"] == "ann"
        changed = tl.update_user("ann", active=False)
        assert {k: v for k, v in changed.items() if k != "id"} == {"username": "ann", "role": "member",
                                                                   "active": False, "tokens_revoked": 1}
        with pytest.raises(TruthlineAPIError) as err:
            ann.me()
        assert err.value.status_code == 401
    assert [(u["username"], u["active"]) for u in tl.list_users()] == [("admin", True), ("ann", False)]
    tl.update_user("ann", active=True, password="password789")
    with Client(server) as ann:
        ann.login("ann", "password789")
        assert tl.revoke_tokens("ann") == 1


def test_errors_carry_the_json_error_shape(tl: Client, server: str) -> None:
    with pytest.raises(TruthlineAPIError) as bad:
        tl.create_project({"name": "X", "labels": ["a"], "colour": "red"})
    assert bad.value.status_code == 422 and bad.value.code == "invalid" and bad.value.field == "colour"
    assert str(bad.value) == "422 invalid: colour: Extra inputs are not permitted"  # the field once, no echo line
    pid = tl.create_project({"name": "X", "task_type": "classification", "labels": ["a", "b"]})["id"]
    with pytest.raises(TruthlineAPIError) as lines:
        tl.import_items(pid, [{"external_id": "1", "data": {"text": "ok"}}, {"external_id": "2", "data": {}}])
    assert lines.value.line == 2 and lines.value.details and "line 2" in str(lines.value)
    tl.import_items(pid, [{"external_id": "r", "data": {"text": "release me"}}])
    lease = tl.next_task(pid)
    assert lease is not None and 0 < lease["expires_in"] <= 600
    renewed = tl.renew(lease["lease_id"])
    assert renewed["lease_id"] == lease["lease_id"] and 599 < renewed["expires_in"] <= 600
    assert tl.release(lease["lease_id"])["state"] == "released"
    assert tl.next_task(pid)["item"]["external_id"] == "r"  # type: ignore[index]  # offered again
    with pytest.raises(TruthlineAPIError) as missing:
        tl.get_project(9999)
    assert missing.value.status_code == 404 and missing.value.code == "not_found"
    with pytest.raises(TruthlineAPIError) as big:
        tl.upload_items(pid, io.BytesIO(b'{"external_id": "x", "data": {"text": "y"}}\n' * 5000), fmt="jsonl")
    assert big.value.status_code == 413
    with pytest.raises(TruthlineAPIError) as export_error:
        tl.export(pid, io.BytesIO(), fmt="xml")
    assert export_error.value.status_code == 422
    with Client(server, "wrong-token") as anon, pytest.raises(TruthlineAPIError) as unauth:
        anon.me()
    assert unauth.value.status_code == 401
    with Client(server) as anon, pytest.raises(TruthlineAPIError) as login:
        anon.login("admin", "wrong-password")
    assert login.value.status_code == 401


def test_error_from_a_non_truthline_response() -> None:
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="Bad Gateway from a proxy"))
    with Client("http://proxy.invalid", "t", transport=transport) as client, pytest.raises(TruthlineAPIError) as err:
        client.me()
    assert err.value.status_code == 502 and err.value.code == "http_error" and "proxy" in err.value.message


def test_error_text_names_the_place_once() -> None:
    many = TruthlineAPIError(422, "invalid", "2 bad record(s)", "data", 2,
                             [{"message": "must be a non-empty JSON object", "field": "data", "line": 2},
                              {"message": "external_id is required", "field": "external_id", "line": 3}])
    assert str(many) == ("422 invalid: line 2, data: 2 bad record(s)\n  - line 2, data: must be a non-empty JSON object"
                         "\n  - line 3: external_id is required")
    assert str(TruthlineAPIError(409, "conflict", "lease expired", "lease_id")) == "409 conflict: lease_id: lease expired"
