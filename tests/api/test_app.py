"""The app factory: docs and OpenAPI where documented, refusal on an unmigrated database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from truthline.api.app import create_app
from truthline.errors import NotReady
from truthline.settings import Settings


def test_openapi_and_docs(anon: Any) -> None:
    spec = anon.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/projects/{project_id}/items", "/api/v1/leases/{lease_id}/submit",
                 "/api/v1/projects/{project_id}/export"):
        assert path in paths
    assert "bearer" in str(spec.json()["components"]["securitySchemes"]).lower()
    assert "multipart/form-data" in paths["/api/v1/projects/{project_id}/items"]["post"]["requestBody"]["content"]
    docs = anon.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_openapi_documents_the_one_error_shape(anon: Any) -> None:
    """Generated clients read errors from the document: every operation's 4xx is our ErrorOut, and FastAPI's
    default 422 body (`{"detail": [...]}`, never sent) is nowhere."""
    spec = anon.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for verb, op in operations.items():
            assert set(op["responses"]) - {"200", "201", "204"} == {"4XX"}, (verb, path)
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    method = next(p for p in spec["paths"]["/api/v1/projects/{project_id}/results"]["get"]["parameters"] if p["name"] == "method")
    assert {"auto", "mv", "ds", "ebcc"} <= set(method["schema"]["enum"])
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message", "field", "line", "details"}


def test_unmigrated_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotReady, match="truthline db upgrade"):
        create_app(Settings(db=f"sqlite:///{tmp_path / 'empty.db'}"))


def test_migrated_database_is_served(db_url: str) -> None:
    app = create_app(Settings(db=db_url))
    try:
        assert app.state.engine.dialect.name in ("sqlite", "postgresql")
        assert app.state.settings.db == db_url
    finally:
        app.state.engine.dispose()


def test_oversized_json_bodies_are_413(manager: Any, assert_error: Any) -> None:
    from truthline.api.app import JSON_BODY_LIMIT

    body = {"name": "big", "labels": ["a"], "guidelines": "x" * (JSON_BODY_LIMIT + 10)}
    assert_error(manager.post("/projects", json=body), 413)


def test_api_answers_are_never_cached_or_sniffed(anon: Any, manager: Any, ann: Any, world: Any) -> None:
    """A login answer holds a token and results hold labels: no browser or proxy cache may keep them."""
    pid = world.project_id
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "a", "data": {"text": "t"}}]).status_code == 200
    answers = [
        anon.post("/auth/login", json={"username": "ann", "password": "password123"}),  # 200, a token
        anon.get("/me"),  # 401
        manager.get(f"/projects/{pid}/export", params={"format": "csv", "method": "mv"}),  # streamed
        manager.get(f"/projects/{pid}/workers", params={"format": "csv", "method": "mv"}),
        ann.post(f"/projects/{pid}/next"),
        manager.get("/no-such-endpoint"),  # 404
    ]
    assert [r.status_code for r in answers] == [200, 401, 200, 200, 200, 404]
    for r in answers:
        assert (r.headers["cache-control"], r.headers["x-content-type-options"]) == ("no-store", "nosniff"), r.url
        assert len(r.headers.get_list("cache-control")) == 1
