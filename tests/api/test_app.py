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
