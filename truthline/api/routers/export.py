"""Streamed export of a project's items, inferred answers and every raw annotation (managers and admins)."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from truthline.services import exporting as service

from ..deps import ProjectId, current_user, get_engine, method_param
from ..streaming import ByteStream

router = APIRouter(tags=["export"])

MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


@router.get(
    "/projects/{project_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "The export file, streamed"}},
    summary="Download items with answers, confidence and raw annotations as JSONL, CSV or Parquet",
)
async def export(
    project_id: ProjectId,
    format: Literal["jsonl", "csv", "parquet"] = Query("jsonl", description="File format."),
    method: str = Depends(method_param),
    user: Any = Depends(current_user),
    engine: Any = Depends(get_engine),
) -> StreamingResponse:
    write = partial(_write, engine, user, project_id, format, method)
    body = await ByteStream(write).start()  # authorization errors surface here, before any byte is sent
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}.{format}"'}
    return StreamingResponse(body, media_type=MEDIA_TYPES[format], headers=headers)


def _write(engine: Any, user: Any, project_id: ProjectId, fmt: str, method: str, out: Any) -> None:
    service.export(engine, user, project_id, fmt, out, method=method)
