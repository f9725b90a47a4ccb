"""Projects and their members."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from truthline.errors import Conflict, Forbidden, Invalid, NotFound, shown
from truthline.services.access import PROJECT_ROLES, project_for
from truthline.services.text import storable, text_problem
from truthline.settings import get_settings
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store import projects as store
from truthline.store import users as user_store
from truthline.store.db import read_tx, write_tx
from truthline.store.records import Member, Project, User
from truthline.tasktypes import get_task_type, task_type_names

STATUSES = ("active", "paused", "archived")
_FIELDS = {"name", "task_type", "labels", "guidelines", "overlap", "pay_cents", "status", "lease_seconds"}
MAX_OVERLAP = 1000


def _options() -> set[str]:
    """Task-type options (rating's scale): spec fields of the task types that name them (asked each time: a
    plug-in task type may register after this module is imported)."""
    return {option for name in task_type_names() for option in get_task_type(name).options}


def _option_owners(option: str) -> str:
    return " and ".join(name for name in task_type_names() if option in get_task_type(name).options)


def _int(spec: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"must be an integer from {low} to {high}, got {value!r}", field=key)
    return value


def _validated(spec: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for the merged spec (base = current values or defaults), all checked."""
    if not isinstance(spec, Mapping):
        raise Invalid("project spec must be a JSON object")
    options = _options()
    unknown = sorted(set(spec) - _FIELDS - options)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS | options))}",
                      field=unknown[0])
    for key in ("name", "guidelines", "task_type"):
        if isinstance(spec.get(key), str) and (problem := text_problem(spec[key])):
            raise Invalid(problem, field=key)
    if isinstance(spec.get("labels"), list) and not all(storable(x) for x in spec["labels"]):
        raise Invalid("labels must not contain NUL characters or lone surrogates", field="labels")
    # an option given (rating's scale) makes the labels: not the stored ones; labels given make rating's scale
    if any(spec.get(o) is not None for o in options):
        base = {k: v for k, v in base.items() if k != "labels"}
    elif spec.get("labels") is not None:
        base = {k: v for k, v in base.items() if k not in options}
    merged = {**base, **spec}
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        got = "" if name is None else f", got {type(name).__name__} {shown(name)}"  # YAML `name: 5` is a number
        raise Invalid(f"name is required: a non-empty string of at most 200 characters{got}", field="name")
    task_type = get_task_type(merged.get("task_type", "classification"))
    if not task_type.takes_labels and "labels" not in spec:  # a numeric project's old labels go with its old type
        merged.pop("labels", None)
    misplaced = sorted(set(spec) & options - set(task_type.options))
    if misplaced:
        raise Invalid(f"applies only to {_option_owners(misplaced[0])} projects, not {task_type.name}",
                      field=misplaced[0])
    config = task_type.validate_config(merged)
    guidelines = merged.get("guidelines", "")
    if not isinstance(guidelines, str):
        raise Invalid("guidelines must be a Markdown string", field="guidelines")
    status = merged.get("status", "active")
    if status not in STATUSES:
        raise Invalid(f"status must be one of: {', '.join(STATUSES)}", field="status")
    return {
        "name": name.strip(),
        "task_type": task_type.name,
        "config": {**config, "guidelines": guidelines},
        "overlap": _int(merged, "overlap", 1, 1, MAX_OVERLAP),
        "pay_cents": _int(merged, "pay_cents", 0, 0, 10**9),
        "lease_seconds": _int(merged, "lease_seconds", get_settings().lease_seconds, 1, 7 * 24 * 3600),
        "status": status,
    }


def create_project(engine: Engine, actor: User, spec: Mapping[str, Any]) -> Project:
    """Create a project; its creator becomes its manager. Any signed-in user may create one (admins only
    with settings.project_creators = "admins"). A name the actor already sees on a project is refused:
    commands and pages find projects by name, and a rerun `project create` made a twin that broke them."""
    if get_settings().project_creators == "admins" and not actor.is_admin:
        raise Forbidden("only admins create projects here (TRUTHLINE_PROJECT_CREATORS=admins); ask one")
    values = _validated(spec, {})
    with write_tx(engine) as conn:
        _refuse_taken_name(conn, actor, values["name"])
        project_id = store.insert_project(conn, {**values, "created_by": actor.id, "created_at": time.time()})
        store.upsert_member(conn, project_id, actor.id, "manager")
        return store.get_project(conn, project_id)  # type: ignore[return-value]


def _refuse_taken_name(conn: Connection, actor: User, name: str, own_id: int | None = None) -> None:
    """Conflict if a project the actor can see (admins: any) other than `own_id` has this name."""
    same = [p.id for p in store.list_projects(conn, None if actor.is_admin else actor.id, name=name)
            if p.id != own_id]
    if same:
        raise Conflict(f"project #{same[0]} is already named {name!r}; pick another name", field="name")


def list_projects(engine: Engine, actor: User) -> list[Project]:
    """Every project for admins; the projects the actor is a member of otherwise."""
    with read_tx(engine) as conn:
        return store.list_projects(conn, None if actor.is_admin else actor.id)


def get_project(engine: Engine, actor: User, project_id: int) -> Project:
    with read_tx(engine) as conn:
        return project_for(conn, actor, project_id)[0]


def require_manager(engine: Engine, actor: User, project_id: int) -> Project:
    """The project if the actor may manage it (manager or admin): NotFound / Forbidden otherwise. Lets a
    handler refuse before reading a large upload."""
    with read_tx(engine) as conn:
        return project_for(conn, actor, project_id, manage=True)[0]


def project_role(engine: Engine, actor: User, project_id: int) -> str | None:
    """The actor's role in the project (None for an admin who is not a member)."""
    with read_tx(engine) as conn:
        return project_for(conn, actor, project_id)[1]


def update_project(engine: Engine, actor: User, project_id: int, changes: Mapping[str, Any]) -> Project:
    """Change fields of a project (managers, admins). Changing the task type is refused once items exist;
    a new overlap applies to every item at once."""
    with write_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
        current = {"name": project.name, "task_type": project.task_type, "labels": project.labels,
                   "guidelines": project.guidelines, "overlap": project.overlap, "pay_cents": project.pay_cents,
                   "status": project.status, "lease_seconds": project.lease_seconds,
                   **{o: project.config[o] for o in _options() if o in project.config}}  # numeric's range
        values = _validated(changes, current)
        if values["name"] != project.name:
            _refuse_taken_name(conn, actor, values["name"], own_id=project.id)
        if values["task_type"] != project.task_type:
            from truthline.store.items import has_items

            if has_items(conn, project.id):
                raise Invalid("task_type cannot change once items are imported; create a new project",
                              field="task_type")
        # an option of the old task type (rating's scale) goes with it: a classification project has no scale
        kept = {k: v for k, v in project.config.items() if k not in _options()}
        values["config"] = {**kept, **values["config"]}
        # an option that makes the labels (rating's scale, pairwise ties: each type lists it first) is what a
        # refusal names, when sent
        options = get_task_type(values["task_type"]).options
        given = next((o for o in options if o in changes and "labels" not in changes), "labels")
        _check_removed_labels(conn, project, values["config"].get("labels", project.labels), given)
        if values["task_type"] == project.task_type and values["config"].get("range") != project.config.get("range"):
            _check_narrowed_range(conn, project, values["config"])
        store.update_project(conn, project.id, values)
        if values["overlap"] != project.overlap:
            store.set_items_overlap(conn, project.id, values["overlap"])
        return store.get_project(conn, project.id)  # type: ignore[return-value]


def _named(text: str | None) -> set[str]:
    """The labels a stored answer (JSON text: a label, or a multilabel list of them) names."""
    value = None if text is None else json.loads(text)
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else {value} - {None}


def _check_removed_labels(conn: Connection, project: Project, labels: Sequence[str], field: str = "labels") -> None:
    """Refuse to drop labels that annotations, gold or truth answers use: those answers would fall out of
    every result, export and count (renaming is dropping one label and adding another). `field`: what the
    change named (labels, or the option that makes them: a scale, ties)."""
    removed = [label for label in project.labels if label not in set(labels)]
    if not removed:
        return
    references = item_store.reference_counts(conn, project.id)
    uses = {  # what -> (labels named, how many) per distinct stored answer, each decoded once
        "labels": [(_named(text), n) for text, n in annotation_store.answer_counts(conn, project.id)],
        "gold answers": [(_named(gold), n) for gold, _, n in references],
        "truth answers": [(_named(truth), n) for _, truth, n in references],
    }
    for label in removed:
        parts = [f"{total} {what}" for what, answers in uses.items()
                 if (total := sum(n for named, n in answers if label in named))]
        if parts:
            said = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
            if field == "labels":
                raise Invalid(f"labels: cannot remove {label!r}, which {said} use; keep it (new labels can be "
                              "added), or start a new project", field="labels")
            raise Invalid(f"would drop the label {label!r}, which {said} use (they would fall out of every result "
                          f"and export); keep {field} as it is, or start a new project", field=field)


def _check_narrowed_range(conn: Connection, project: Project, config: Mapping[str, Any]) -> None:
    """Refuse a numeric project's new range when stored labels, gold or truth answers fall outside it: they
    would stay, unanswerable, and results would quietly clamp to the new ends."""
    task_type = get_task_type(project.task_type)
    outside: dict[str, int] = {}
    example = None

    def check(text: str | None, n: int, what: str) -> None:
        nonlocal example
        if text is None:
            return
        value = json.loads(text)
        try:
            task_type.validate_answer(value, config)
        except Invalid:
            outside[what] = outside.get(what, 0) + n
            example = value if example is None else example

    for text, n in annotation_store.answer_counts(conn, project.id):
        check(text, n, "labels")
    for gold, truth, n in item_store.reference_counts(conn, project.id):
        check(gold, n, "gold answers")
        check(truth, n, "truth answers")
    if outside:
        said = " and ".join(f"{n} {what}" for what, n in outside.items())
        raise Invalid(f"{said} lie outside the new range (e.g. {example}); widen it, or start a new project",
                      field="range")


def add_member(engine: Engine, actor: User, project_id: int, username: str, role: str) -> Member:
    """Add a user to the project with a role, or change their role (managers, admins)."""
    if role not in PROJECT_ROLES:
        raise Invalid(f"role must be one of: {', '.join(PROJECT_ROLES)}", field="role")
    for attempt in range(2):  # PostgreSQL: a concurrent add of the same member wins the insert; then update
        try:
            with write_tx(engine) as conn:
                project, _ = project_for(conn, actor, project_id, manage=True)
                user = (user_store.get_user_by_name(conn, username)
                        if isinstance(username, str) and storable(username) else None)
                if user is None:
                    raise NotFound(f"user {username!r} not found; an admin can create it first", field="username")
                if role != "manager":
                    _keep_a_manager(conn, project.id, user)
                store.upsert_member(conn, project.id, user.id, role)
                return Member(user_id=user.id, username=user.username, role=role)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def remove_member(engine: Engine, actor: User, project_id: int, username: str) -> None:
    """Take a user off the project (managers, admins); its last manager stays (Conflict)."""
    with write_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
        user = user_store.get_user_by_name(conn, username) if storable(username) else None
        if user is not None:
            _keep_a_manager(conn, project.id, user)
        if user is None or not store.remove_member(conn, project.id, user.id):
            raise NotFound(f"{username!r} is not a member of project {project.id}", field="username")


def _keep_a_manager(conn: Connection, project_id: int, user: User) -> None:
    """Conflict if `user` is the project's only manager: removed or demoted, they would leave a project only
    admins could reach (a one-click Remove beside one's own name on the manage page)."""
    managers = store.lock_managers(conn, project_id)
    if managers == [user.id]:
        raise Conflict(f"{user.username!r} is the project's only manager; make someone else manager first",
                       field="username")


def list_members(engine: Engine, actor: User, project_id: int) -> list[Member]:
    with read_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
        return store.list_members(conn, project.id)
