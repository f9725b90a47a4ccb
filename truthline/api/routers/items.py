"""Bulk item import: a JSON array, a multipart file, or a raw JSONL/CSV/Parquet body. All or nothing."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from truthline.services import importing, projects
from truthline.settings import Settings

from ..deps import ProjectId, current_user, get_engine, get_settings_dep
from ..schemas import ImportReportOut
from ..uploads import OPENAPI_BODY, import_records

router = APIRouter(tags=["items"])


@router.post(
    "/projects/{project_id}/items",
    response_model=ImportReportOut,
    summary="Import items (re-importing an external_id updates it); a batch with any bad line imports nothing",
    openapi_extra=OPENAPI_BODY,
)
async def import_items(
    project_id: ProjectId,
    request: Request,
    format: Literal["jsonl", "csv", "parquet", "json"] | None = Query(
        None, description="File format; default: from the file name or Content-Type."
    ),
    user: Any = Depends(current_user),
    engine: Any = Depends(get_engine),
    settings: Settings = Depends(get_settings_dep),
) -> Any:
    await run_in_threadpool(projects.require_manager, engine, user, project_id)  # 404/403 before reading the body
    async with import_records(request, settings, format) as records:
        return await run_in_threadpool(importing.import_items, engine, user, project_id, records)
