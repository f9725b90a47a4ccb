"""The labeling loop: lease the next item, submit an answer to a lease, skip it, or release it unanswered.

`next` and `submit` are the hot path (every label goes through both), so they are `async def`: the service
call is the request's only hop to the threadpool, and the response is serialized once by its pydantic model
(`json_response`) instead of FastAPI's validate-then-encode of the response_model (kept for the docs).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from truthline.errors import Invalid
from truthline.services import tasks as service
from truthline.store.records import to_datetime

from ..deps import LeaseId, ProjectId, current_user, get_engine
from ..responses import json_response
from ..schemas import AnnotationOut, LeaseStateOut, NextIn, RenewOut, SubmitIn, TaskItem, TaskOut

router = APIRouter(tags=["labeling"])


def _task_out(task: Any) -> TaskOut:
    project = task.project
    item = TaskItem(id=task.item_id, external_id=task.external_id, data=task.data)
    return TaskOut(lease_id=task.lease_id, item=item, expires_at=task.expires_at,
                   expires_in=round(task.expires_at.timestamp() - time.time(), 3), task_type=project.task_type,
                   labels=project.labels)


@router.post(
    "/projects/{project_id}/next",
    response_model=TaskOut,
    responses={204: {"description": "Nothing left for you to label in this project"}},
    summary="Lease the next item to label (asking again returns your live lease, unless you list it in `held`)",
)
async def next_task(
    request: Request,
    project_id: ProjectId,
    body: NextIn | None = Body(None),
    user: Any = Depends(current_user),
) -> Response:
    engine = request.app.state.engine  # read here rather than via a dependency: one less to solve per request
    task = await run_in_threadpool(service.next_task, engine, user, project_id, body.held if body else ())
    return Response(status_code=204) if task is None else json_response(_task_out(task))


def _key(body: SubmitIn, header: str | None) -> str | None:
    if header and body.idempotency_key and header != body.idempotency_key:
        raise Invalid("the Idempotency-Key header and the body's idempotency_key differ; send one", field="idempotency_key")
    return header or body.idempotency_key


@router.post(
    "/leases/{lease_id}/submit",
    response_model=AnnotationOut,
    status_code=201,
    responses={200: {"description": "Replay of an earlier submit with the same idempotency key", "model": AnnotationOut}},
    summary="Submit an answer to your lease (idempotent by key)",
)
async def submit(
    request: Request,
    lease_id: LeaseId,
    body: SubmitIn = Body(...),
    header_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
    user: Any = Depends(current_user),
) -> Response:
    key = _key(body, header_key)
    engine = request.app.state.engine
    annotation = await run_in_threadpool(service.submit, engine, user, lease_id, body.answer, body.active_ms, key)
    return json_response(AnnotationOut.model_validate(annotation), status_code=200 if annotation.replayed else 201)


@router.post("/leases/{lease_id}/skip", response_model=LeaseStateOut, summary="Decline the item; you won't be offered it again")
def skip(lease_id: LeaseId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> LeaseStateOut:
    service.skip(engine, user, lease_id)
    return LeaseStateOut(lease_id=lease_id, state="skipped")


@router.post("/leases/{lease_id}/renew", response_model=RenewOut,
             summary="Give your live lease its full length again, from now (still working on the item)")
def renew(lease_id: LeaseId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> RenewOut:
    expires_at = service.renew(engine, user, lease_id)
    return RenewOut(lease_id=lease_id, expires_at=to_datetime(expires_at), expires_in=round(expires_at - time.time(), 3))


@router.post(
    "/leases/{lease_id}/release", response_model=LeaseStateOut, summary="Give a live lease back unanswered (no skip recorded)"
)
def release(lease_id: LeaseId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> LeaseStateOut:
    return LeaseStateOut(lease_id=lease_id, state=service.release(engine, user, lease_id))
