"""Inferred answers per item, worker estimates, agreement and a project summary (managers and admins)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from truthline.services import dashboard
from truthline.services import projects as project_service
from truthline.services import ranking
from truthline.services import results as service
from truthline.services.text import csv_text

from ..deps import ProjectId, current_user, get_engine, method_param
from ..schemas import HeadToHeadOut, QualityOut, RankingOut, ResultsOut, SummaryOut, WorkersOut

router = APIRouter(tags=["results"])
# `user` comes before `method` in every signature: dependencies run in order, so a caller without a
# token gets 401; the services check the method name after the project's access rule (403/404 first).


@router.get("/projects/{project_id}/results", response_model=ResultsOut, response_model_exclude_unset=True,
            summary="Each item's inferred answer and confidence")
def item_results(
    project_id: ProjectId, user: Any = Depends(current_user), method: str = Depends(method_param),
    probabilities: bool = Query(False, description="Add each label's probability per item (soft labels)."),
    engine: Any = Depends(get_engine)
) -> Any:
    rows = list(service.item_results(engine, user, project_id, method=method, probabilities=probabilities))
    return {"project_id": project_id, "method": method, "results": rows}


@router.get("/projects/{project_id}/workers", response_model=WorkersOut, response_model_exclude_unset=True,
            responses={200: {"content": {"text/csv": {}}, "description": "JSON, or with format=csv a CSV file"}},
            summary="Each worker's accuracy interval, spammer score and gold record")
def worker_stats(
    project_id: ProjectId, user: Any = Depends(current_user), method: str = Depends(method_param),
    format: Literal["json", "csv"] = Query("json", description="csv: a file to download (text cells defused "
                                           "for spreadsheets)."),
    engine: Any = Depends(get_engine),
) -> Any:
    rows = dashboard.workers_table(engine, user, project_id, method=method)
    if format == "csv":
        task_type = project_service.get_project(engine, user, project_id).task_type  # numeric: bias, noise
        text = csv_text(*dashboard.worker_file(rows, task_type))
        headers = {"Content-Disposition": f'attachment; filename="project-{project_id}-workers.csv"'}
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
    return {"project_id": project_id, "method": method, "workers": rows}


# exclude_unset: the scale alphas (rating, numeric) and a numeric project's error_vs_truth, bias and noise are
# in those projects' answers only, not null in every other project's
@router.get("/projects/{project_id}/quality", response_model=QualityOut, response_model_exclude_unset=True,
            summary="Agreement metrics, each worker's accuracy interval and spammer score, the models auto blended")
def quality_report(
    project_id: ProjectId, user: Any = Depends(current_user), method: str = Depends(method_param), engine: Any = Depends(get_engine)
) -> Any:
    return {"project_id": project_id, "method": method, **dashboard.quality_report(engine, user, project_id, method)}


@router.get("/projects/{project_id}/ranking", response_model=RankingOut,
            summary="pairwise: what produced the candidates (models, systems), ranked, with score intervals")
def project_ranking(
    project_id: ProjectId, user: Any = Depends(current_user), method: str = Depends(method_param), engine: Any = Depends(get_engine)
) -> Any:
    return {"project_id": project_id, **ranking.project_ranking(engine, user, project_id, method)}


@router.get("/projects/{project_id}/ranking/head-to-head", response_model=HeadToHeadOut,
            summary="pairwise: the best sides' predicted win probabilities against each other, with intervals")
def head_to_head(
    project_id: ProjectId, user: Any = Depends(current_user), method: str = Depends(method_param),
    top: int = Query(ranking.DEFAULT_TOP,
                     description=f"How many of the best sides to compare (1 to {ranking.MAX_TOP})."),
    engine: Any = Depends(get_engine),
) -> Any:
    # top's range is checked by the service, after the project's access rule (403/404 first)
    return {"project_id": project_id, **ranking.head_to_head(engine, user, project_id, method, top)}


@router.get("/projects/{project_id}/summary", response_model=SummaryOut, summary="Progress, label distribution, MV-vs-DS agreement, accuracy vs gold")
def project_summary(project_id: ProjectId, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.project_summary(engine, user, project_id)
