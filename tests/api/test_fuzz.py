"""Schema-driven fuzzing: Schemathesis generates requests from the OpenAPI document (bodies that are
valid or nearly so, which the junk sweep in test_error_shape.py cannot reach) against the real app on the
backend's database. No operation may answer 5xx, and every refusal comes in the documented ErrorOut shape.

Derandomized and bounded (a few dozen examples per operation), so a run is repeatable and takes seconds;
the exploratory runs that found what this guards against used `schemathesis run` for many minutes.
(The operations are walked by hand: schemathesis' pytest plugin needs a pytest attribute 9.x removed.)"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from truthline.api.schemas import ErrorOut

EXAMPLES = 30  # per operation


def labelled_project(world: Any, manager: Any, ann: Any, ann2: Any) -> None:
    """Items with labels (and one gold item), so results, workers, quality and export run real inference."""
    items = [{"external_id": f"f{i}", "data": {"text": f"item {i}"}} for i in range(6)]
    items[0]["gold"] = "pos"
    assert manager.post(f"/projects/{world.project_id}/items", json=items).status_code == 200
    for client, answer in ((ann, "pos"), (ann2, "neg")):
        for _ in range(4):
            lease = client.post(f"/projects/{world.project_id}/next").json()["lease_id"]
            assert client.post(f"/leases/{lease}/submit", json={"answer": answer}).status_code == 201


def test_generated_requests_get_no_5xx(app: Any, world: Any, manager: Any, ann: Any, ann2: Any) -> None:
    labelled_project(world, manager, ann, ann2)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {world.admin_token}"}
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/auth/logout"):  # would revoke the token mid-run
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def check(case: Any) -> None:
            if "project_id" in (case.path_parameters or {}):
                case.path_parameters["project_id"] = world.project_id  # unknown ids: the junk sweep's job
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
            if response.status_code >= 400:
                assert ErrorOut.model_validate(response.json()).error.message

        check()
        tried.append(operation.label)
    assert len(tried) >= 20, tried
