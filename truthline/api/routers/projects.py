"""Projects (create, list, get, update) and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Response

from truthline.services import projects as service

from ..deps import ProjectId, current_user, get_engine
from ..schemas import MemberIn, MemberList, MemberOut, ProjectIn, ProjectList, ProjectOut, ProjectPatch

router = APIRouter(tags=["projects"])


@router.get("/projects", response_model=ProjectList, summary="Projects you can see")
def list_projects(user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return {"projects": list(service.list_projects(engine, user))}


@router.post("/projects", response_model=ProjectOut, status_code=201, summary="Create a project")
def create_project(body: ProjectIn, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.create_project(engine, user, body.model_dump(exclude_none=True))


@router.get("/projects/{project_id}", response_model=ProjectOut, summary="One project")
def get_project(project_id: ProjectId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.get_project(engine, user, project_id)


@router.patch("/projects/{project_id}", response_model=ProjectOut, summary="Change a project's settings (managers)",
              description="Labels may be added or reordered; removing (or renaming) one that annotations, gold or "
                          "truth answers use is refused (422 naming `labels`): those answers would drop out of "
                          "results and exports. The task type is fixed once items exist.")
def update_project(
    project_id: ProjectId, body: ProjectPatch, user: Any = Depends(current_user), engine: Any = Depends(get_engine)
) -> Any:
    return service.update_project(engine, user, project_id, body.model_dump(exclude_unset=True))


@router.get("/projects/{project_id}/members", response_model=MemberList, summary="A project's members")
def list_members(project_id: ProjectId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return {"members": list(service.list_members(engine, user, project_id))}


@router.post("/projects/{project_id}/members", response_model=MemberOut, status_code=201, summary="Add or re-role a member")
def add_member(
    project_id: ProjectId, body: MemberIn, user: Any = Depends(current_user), engine: Any = Depends(get_engine)
) -> Any:
    return service.add_member(engine, user, project_id, body.username, body.role)


@router.delete("/projects/{project_id}/members/{username}", status_code=204,
               summary="Remove a member (their labels stay; their live leases can no longer be submitted)")
def remove_member(
    project_id: ProjectId, username: str = Path(max_length=200), user: Any = Depends(current_user),
    engine: Any = Depends(get_engine),
) -> Response:
    service.remove_member(engine, user, project_id, username)
    return Response(status_code=204)
