"""Streamed export of a project's items, inferred answers and every raw annotation (managers and admins)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from truthline.services import exporting as service

from ..deps import ProjectId, current_user, get_engine, method_param

router = APIRouter(tags=["export"])


@router.get(
    "/projects/{project_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in service.MEDIA_TYPES.values()}, "description": "The export file, streamed"}},
    summary="Download items with answers, confidence and raw annotations as JSONL, CSV or Parquet "
            "(pairwise projects also: preference pairs)",
)
async def export(
    project_id: ProjectId,
    user: Any = Depends(current_user),  # first: a caller without a token gets 401, not a 422 about `method`
    format: Literal["jsonl", "csv", "parquet", "preferences"] = Query(
        "jsonl", description="File format. preferences (pairwise projects): JSON Lines of RLHF/DPO pairs "
                             "{external_id, prompt, prompt_image, chosen, rejected, chosen_id, rejected_id, confidence}, one per "
                             "item the crowd preferred a side of (ties and unanswered items left out)."),
    method: str = Depends(method_param),
    probabilities: bool = Query(False, description="Add each label's probability per item (soft labels)."),
    engine: Any = Depends(get_engine),
) -> StreamingResponse:
    # iter_export authorizes and runs inference before returning, so errors become normal JSON errors;
    # the chunks (one batch of items each) are then pulled from the database as the client reads.
    chunks = await run_in_threadpool(service.iter_export, engine, user, project_id, format, method, probabilities)
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}.{service.SUFFIXES[format]}"'}
    return StreamingResponse(chunks, media_type=service.MEDIA_TYPES[format], headers=headers)
