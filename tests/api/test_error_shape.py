"""Every bad input gets a 4xx in the one error shape, naming the field or line, and writes nothing.

Then a sweep over every route in the OpenAPI document with junk ids, junk bodies and junk query values:
no route may answer 5xx (the ASGI transport re-raises app exceptions, so a crash fails loudly here).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from truthline.api.schemas import ErrorOut
from truthline.store import tables

GOOD = [{"external_id": "ok1", "data": {"text": "fine"}}, {"external_id": "ok2", "data": {"text": "also fine"}}]


def counts(engine: Any) -> tuple[int, int, int]:
    """(items, annotations, live leases): what a failed request must leave untouched."""
    with engine.connect() as conn:
        n_items = conn.execute(sa.select(sa.func.count()).select_from(tables.items)).scalar_one()
        n_ann = conn.execute(sa.select(sa.func.count()).select_from(tables.annotations)).scalar_one()
        n_live = conn.execute(
            sa.select(sa.func.count()).select_from(tables.leases).where(tables.leases.c.state == "active")
        ).scalar_one()
    return n_items, n_ann, n_live


def jsonl(*lines: Any) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


def import_cases(pid: int, limit: int) -> list[tuple[str, dict[str, Any], int, str | None, int | None]]:
    """(name, request kwargs, status, field, line) for imports that must be refused as a whole."""
    ok = {"external_id": "n1", "data": {"text": "x"}}
    return [
        ("malformed jsonl line", {"files": {"file": ("a.jsonl", jsonl(ok, b'{"external_id": "n2", "data": '))}}, 422, None, 2),
        ("malformed csv line", {"files": {"file": ("a.csv", b"external_id,text\nn1,x\nn2,y,extra\n")}}, 422, None, 3),
        ("csv without external_id", {"files": {"file": ("a.csv", b"id,text\nn1,x\n")}}, 422, "external_id", None),
        ("unknown gold label", {"json": [ok, {"external_id": "n2", "data": {"text": "y"}, "gold": "maybe"}]}, 422, "gold", 2),
        ("wrong type priority", {"json": [ok, {"external_id": "n2", "data": {"text": "y"}, "priority": "high"}]}, 422, "priority", 2),
        ("wrong type data", {"json": [{"external_id": "n2", "data": "just text"}]}, 422, None, 1),
        ("not an object", {"json": [ok, 42]}, 422, None, 2),
        ("unknown item field", {"json": [{**ok, "colour": "red"}]}, 422, "colour", 1),
        ("missing external id", {"json": [{"data": {"text": "x"}}]}, 422, "external_id", 1),
        ("duplicate external ids", {"json": [ok, {"external_id": "x2", "data": {"text": "b"}}, dict(ok)]}, 422, "external_id", 3),
        ("body not an array", {"json": {"external_id": "n1"}}, 422, "body", None),
        ("malformed json body", {"content": b"[{", "headers": {"Content-Type": "application/json"}}, 422, "body", None),
        ("too many items", {"json": [{"external_id": f"m{i}", "data": {"text": "x"}} for i in range(51)]}, 413, "body", None),
        ("oversize upload", {"files": {"file": ("big.jsonl", jsonl(*[ok] * (limit // 20 + 5)))}}, 413, "file", None),
        ("oversize raw body", {"content": b"x" * (limit + 1), "headers": {"Content-Type": "text/csv"}}, 413, "file", None),
        ("wrong content type", {"content": b"external_id\nn1\n", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type", None),
        ("unknown file suffix", {"files": {"file": ("items.xlsx", b"PK")}}, 422, "file", None),
        ("bad format param", {"files": {"file": ("a.jsonl", jsonl(ok))}, "params": {"format": "xml"}}, 422, "format", None),
        ("not parquet", {"files": {"file": ("a.parquet", b"not parquet at all")}}, 422, "file", None),
        ("no file part", {"files": {"upload": ("a.jsonl", jsonl(ok))}}, 422, "file", None),
        ("nul in external id", {"json": [{"external_id": "a\u0000b", "data": {"text": "x"}}]}, 422, "external_id", 1),
    ]


def test_bad_imports(manager: Any, world: Any, engine: Any, api_settings: Any, assert_error: Any) -> None:
    url = f"/projects/{world.project_id}/items"
    assert manager.post(url, json=GOOD).status_code == 200
    before = counts(engine)
    for name, kwargs, status, field, line in import_cases(world.project_id, api_settings.max_upload_bytes):
        r = manager.post(url, **kwargs)
        try:
            assert_error(r, status, field=field, line=line)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        assert counts(engine) == before, f"{name}: something was written"
    assert manager.post(url, json=GOOD).json() == {"created": 0, "updated": 0, "unchanged": 2}


def test_bad_requests_elsewhere(
    manager: Any, ann: Any, ann2: Any, anon: Any, make_client: Any, world: Any, engine: Any, assert_error: Any
) -> None:
    pid = world.project_id
    manager.patch(f"/projects/{pid}", json={"lease_seconds": 1})
    manager.post(f"/projects/{pid}/items", json=GOOD)
    lease = ann.post(f"/projects/{pid}/next").json()["lease_id"]
    before = counts(engine)
    cases = [
        ("unknown project", manager.get("/projects/987654"), 404, "project_id"),
        ("unknown project import", manager.post("/projects/987654/items", json=GOOD), 404, "project_id"),
        ("project id not a number", manager.get("/projects/abc"), 422, "project_id"),
        ("project id overflow", manager.get(f"/projects/{2**70}"), 422, "project_id"),
        ("bad token", make_client("garbage").get("/projects"), 401, None),
        ("no token", anon.post(f"/projects/{pid}/next"), 401, None),
        ("foreign lease", ann2.post(f"/leases/{lease}/submit", json={"answer": "pos"}), 403, "lease_id"),
        ("unknown label", ann.post(f"/leases/{lease}/submit", json={"answer": "maybe"}), 422, "answer"),
        ("wrong answer type", ann.post(f"/leases/{lease}/submit", json={"answer": ["pos"]}), 422, "answer"),
        ("missing answer", ann.post(f"/leases/{lease}/submit", json={"active_ms": 3}), 422, "answer"),
        ("wrong type active_ms", ann.post(f"/leases/{lease}/submit", json={"answer": "pos", "active_ms": "long"}), 422, "active_ms"),
        ("submit wrong content type", ann.post(f"/leases/{lease}/submit", content=b"answer=pos",
                                               headers={"Content-Type": "application/x-www-form-urlencoded"}), 422, "body"),
        ("unknown method", manager.get(f"/projects/{pid}/results", params={"method": "oracle"}), 422, "method"),
        ("unknown export format", manager.get(f"/projects/{pid}/export", params={"format": "xlsx"}), 422, "format"),
        ("unknown project field", manager.post("/projects", json={"name": "x", "labels": ["a"], "colour": 1}), 422, "colour"),
        ("wrong type overlap", manager.post("/projects", json={"name": "x", "labels": ["a"], "overlap": "two"}), 422, "overlap"),
        ("boolean overlap", manager.post("/projects", json={"name": "x", "labels": ["a", "b"], "overlap": True}), 422, "overlap"),
        ("boolean lease_seconds", manager.patch(f"/projects/{pid}", json={"lease_seconds": True}), 422, "lease_seconds"),
        ("boolean held id", ann.post(f"/projects/{pid}/next", json={"held": [True]}), 422, "held[0]"),
        ("fractional overlap", manager.patch(f"/projects/{pid}", json={"overlap": 2.5}), 422, "overlap"),
        ("numeric string overlap", manager.patch(f"/projects/{pid}", json={"overlap": "2"}), 422, "overlap"),
        ("malformed json", manager.post("/projects", content=b'{"name": ', headers={"Content-Type": "application/json"}), 422, "body"),
        ("json nested past the parser's depth", manager.post(f"/projects/{pid}/items", content=b"[" * 2000 + b"]" * 2000,
                                                             headers={"Content-Type": "application/json"}), 422, "body"),
        ("body not utf-8", manager.post("/projects", content=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}),
         422, "body"),
        ("oversize body without content-length", manager.post("/projects", content=iter([b" " * 1024] * 3000),
                                                               headers={"Content-Type": "application/json"}), 413, "body"),
        ("logout without a token", anon.post("/auth/logout"), 401, None),
        ("bad method without a token", anon.get(f"/projects/{pid}/results", params={"method": "oracle"}), 401, None),
        ("bad method without a token, export", anon.get(f"/projects/{pid}/export", params={"method": "oracle"}), 401, None),
        ("unknown route", manager.get("/nothing/here"), 404, None),
        ("wrong verb", manager.delete(f"/projects/{pid}"), 405, None),
    ]
    allow = manager.delete("/projects")
    assert allow.status_code == 405 and allow.headers["Allow"] == "GET, POST"  # both routes on the path, not the first
    for name, r, status, field in cases:
        try:
            assert_error(r, status, field=field)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    assert counts(engine) == before
    long = manager.get(f"/projects/{pid}/quality", params={"method": "x" * 20_000})  # quoted, not echoed whole
    assert_error(long, 422, field="method")
    assert len(long.content) < 1_000
    time.sleep(1.1)
    assert_error(ann.post(f"/leases/{lease}/submit", json={"answer": "pos"}), 409, field="lease_id")
    assert counts(engine)[1] == before[1]


JUNK_IDS = ["1", "0", "abc", str(2**64)]
JUNK_BODIES: list[dict[str, Any]] = [
    {},
    {"content": b"\x00\xff\xfe", "headers": {"Content-Type": "application/json"}},
    {"content": b"{", "headers": {"Content-Type": "application/json"}},
    {"json": None},
    {"json": []},
    {"json": [1, "x", None, {"a": [1]}]},
    {"json": {"answer": {"x": [1, 2]}, "active_ms": 10**30, "idempotency_key": "\u0000"}},
    {"json": {"name": "\u0000", "labels": ["\u0000"], "username": "a\u0000", "password": "\u0000" * 9}},
    {"json": {"username": "x" * 5000, "password": 1, "role": []}},
    {"json": [{"external_id": "\u0000", "data": {"text": "x"}}]},
    {"content": b'[{"external_id": "\\ud800", "data": {"text": "\\udfff"}}]', "headers": {"Content-Type": "application/json"}},
    {"content": b'{"answer": "\\ud800", "name": "\\ud800", "labels": ["\\ud800"]}', "headers": {"Content-Type": "application/json"}},
    {"content": b"external_id,text\n\x00,\xff\n", "headers": {"Content-Type": "text/csv"}},
    {"content": b"\xff\xfe{]", "headers": {"Content-Type": "application/x-ndjson"}},
    {"files": {"file": ("x.parquet", b"PAR1garbagePAR1")}},
    {"files": {"file": ("x.csv", b"\xef\xbb\xbfexternal_id\n\xff\xfe\n")}},
    {"content": b"--b\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
]
JUNK_QUERIES = [{"method": "x" * 300, "format": "\u0000"}, {"method": "ds", "format": "parquet"}]


def _routes(app: Any) -> list[tuple[str, str]]:
    """Every (verb, path) in the OpenAPI document; logout last, since it revokes the sweeping client's token."""
    spec = app.openapi()
    routes = [(m.upper(), path) for path, ops in spec["paths"].items() for m in ops]
    return sorted(routes, key=lambda r: r[1].endswith("/auth/logout"))


@pytest.mark.parametrize("who", ["manager", "ann", "anon"])
def test_no_route_answers_5xx_to_garbage(app: Any, world: Any, make_client: Any, who: str) -> None:
    token = {"manager": world.manager_token, "ann": world.ann_token, "anon": None}[who]
    client: httpx.Client = make_client(token)
    routes = _routes(app)
    assert len(routes) >= 18
    seen = 0
    for i, ((verb, path), junk_id) in enumerate(itertools.product(routes, JUNK_IDS)):
        url = path.replace("/api/v1", "", 1).replace("{project_id}", junk_id).replace("{lease_id}", junk_id)
        for j, body in enumerate(JUNK_BODIES if verb in ("POST", "PATCH") else [{}]):
            junk_query = JUNK_QUERIES[(i + j) % len(JUNK_QUERIES)]
            for query in ({}, junk_query) if junk_id == "1" else (junk_query,):  # the real id: bare and junk
                r = client.request(verb, url, params=query, **body)
                assert r.status_code < 500, (verb, url, body, query, r.text)
                if r.status_code >= 400:
                    err = ErrorOut.model_validate(r.json()).error  # the shape the OpenAPI document gives
                    assert set(r.json()["error"]) == {"code", "message", "field", "line", "details"}, (verb, url, r.text)
                    assert err.message, (verb, url, r.text)
                seen += 1
    assert seen > 500
