from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Conflict, Forbidden, Invalid, NotFound
from truthline.services import projects
from truthline.services.tasks import next_task


def test_create_project_makes_the_creator_manager(engine: Engine, make_person: Callable) -> None:
    alice = make_person("alice")
    p = projects.create_project(engine, alice.user, {"name": "Pets", "labels": ["cat", "dog"], "overlap": 3,
                                                     "guidelines": "# Be kind", "pay_cents": 5})
    assert (p.task_type, p.labels, p.overlap, p.pay_cents, p.status, p.lease_seconds) == (
        "classification", ["cat", "dog"], 3, 5, "active", 600)
    assert projects.project_role(engine, alice.user, p.id) == "manager"
    assert [m.as_dict() for m in projects.list_members(engine, alice.user, p.id)] == [
        {"user_id": alice.user.id, "username": "alice", "role": "manager"}]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"labels": ["a", "b"]}, "name"),
        ({"name": "x", "labels": "a,b"}, "labels"),
        ({"name": "x", "labels": ["a"]}, "labels"),
        ({"name": "x", "labels": ["a", "a"]}, "labels"),
        ({"name": "x", "labels": ["a", ""]}, "labels"),
        ({"name": "x", "labels": ["a", "b"], "task_type": "bbox3d"}, "task_type"),
        ({"name": "x", "labels": ["a", "b"], "overlap": 0}, "overlap"),
        ({"name": "x", "labels": ["a", "b"], "overlap": "3"}, "overlap"),
        ({"name": "x", "labels": ["a", "b"], "pay_cents": -1}, "pay_cents"),
        ({"name": "x", "labels": ["a", "b"], "status": "done"}, "status"),
        ({"name": "x", "labels": ["a", "b"], "lease_seconds": 0}, "lease_seconds"),
        ({"name": "x", "labels": ["a", "b"], "guidelines": 3}, "guidelines"),
        ({"name": "x", "labels": ["a", "b"], "colour": "red"}, "colour"),
    ],
)
def test_bad_specs_name_the_field(engine: Engine, admin: Any, spec: dict, field: str) -> None:
    with pytest.raises(Invalid) as err:
        projects.create_project(engine, admin.user, spec)
    assert err.value.field == field


def test_visibility(engine: Engine, admin: Any, project: Any, make_person: Callable, make_annotator: Callable) -> None:
    outsider = make_person()
    worker = make_annotator(project)
    assert projects.list_projects(engine, outsider.user) == []
    assert [p.id for p in projects.list_projects(engine, worker.user)] == [project.id]
    assert [p.id for p in projects.list_projects(engine, admin.user)] == [project.id]
    with pytest.raises(NotFound):
        projects.get_project(engine, outsider.user, project.id)
    with pytest.raises(NotFound):
        projects.get_project(engine, admin.user, 9999)
    assert projects.get_project(engine, worker.user, project.id).id == project.id


def test_only_managers_and_admins_manage(engine: Engine, project: Any, make_annotator: Callable) -> None:
    worker = make_annotator(project)
    with pytest.raises(Forbidden):
        projects.update_project(engine, worker.user, project.id, {"name": "mine"})
    with pytest.raises(Forbidden):
        projects.add_member(engine, worker.user, project.id, worker.user.username, "manager")
    with pytest.raises(Forbidden):
        projects.list_members(engine, worker.user, project.id)


def test_update_project(engine: Engine, admin: Any, project: Any) -> None:
    p = projects.update_project(engine, admin.user, project.id, {"status": "paused", "labels": ["cat", "dog"]})
    assert (p.status, p.labels, p.name) == ("paused", ["cat", "dog"], project.name)
    with pytest.raises(Invalid) as err:
        projects.update_project(engine, admin.user, project.id, {"overlap": -2})
    assert err.value.field == "overlap"


@pytest.mark.parametrize("task_type", ["classification", "multilabel"])
def test_labels_in_use_cannot_be_removed(engine: Engine, admin: Any, make_project: Callable, add_items: Callable,
                                         make_annotator: Callable, label_all: Callable, task_type: str) -> None:
    """Dropping (or renaming) a label that answers use would make those answers fall out of every result,
    export and count; adding and reordering labels stays free."""
    project = make_project(task_type=task_type, labels=["cat", "dog", "bird", "fish"])
    multi = task_type == "multilabel"
    add_items(project, 2, gold=["cat"] if multi else "cat")
    add_items(project, 3, start=2, truth=["bird"] if multi else "bird")
    label_all(project, [make_annotator(project)], lambda p, t: ["dog", "cat"] if multi else "dog")
    for removed, uses in (("dog", "which 5 labels use"), ("cat", "2 gold answers"), ("bird", "3 truth answers")):
        keep = [label for label in ("cat", "dog", "bird", "fish") if label != removed]
        with pytest.raises(Invalid) as err:
            projects.update_project(engine, admin.user, project.id, {"labels": [*keep, removed.upper()]})
        assert err.value.field == "labels" and repr(removed) in err.value.message and uses in err.value.message
    assert projects.get_project(engine, admin.user, project.id).labels == ["cat", "dog", "bird", "fish"]
    changed = projects.update_project(engine, admin.user, project.id, {"labels": ["bird", "dog", "cat", "emu"]})
    assert changed.labels == ["bird", "dog", "cat", "emu"]  # fish was unused: it may go


def test_task_type_is_fixed_once_items_exist(engine: Engine, admin: Any, project: Any, add_items: Callable) -> None:
    projects.update_project(engine, admin.user, project.id, {"task_type": "multilabel"})
    add_items(project, 1)
    with pytest.raises(Invalid) as err:
        projects.update_project(engine, admin.user, project.id, {"task_type": "classification"})
    assert err.value.field == "task_type"


def test_raising_overlap_reopens_finished_items(engine: Engine, admin: Any, project: Any, add_items: Callable,
                                                make_annotator: Callable, label_all: Callable) -> None:
    add_items(project, 3)
    a, b = make_annotator(project), make_annotator(project)
    assert label_all(project, [a, b]) == 3  # overlap 1: a takes everything
    assert next_task(engine, b.user, project.id) is None
    projects.update_project(engine, admin.user, project.id, {"overlap": 2})
    assert label_all(project, [a, b]) == 3  # now b labels each item once more
    projects.update_project(engine, admin.user, project.id, {"overlap": 1})
    assert next_task(engine, make_annotator(project).user, project.id) is None


def test_members(engine: Engine, admin: Any, project: Any, make_person: Callable) -> None:
    make_person("bob")
    assert projects.add_member(engine, admin.user, project.id, "bob", "annotator").role == "annotator"
    assert projects.add_member(engine, admin.user, project.id, "bob", "reviewer").role == "reviewer"
    assert {m.username: m.role for m in projects.list_members(engine, admin.user, project.id)} == {
        "admin": "manager", "bob": "reviewer"}
    with pytest.raises(Invalid) as err:
        projects.add_member(engine, admin.user, project.id, "bob", "owner")
    assert err.value.field == "role"
    with pytest.raises(NotFound) as nf:
        projects.add_member(engine, admin.user, project.id, "ghost", "annotator")
    assert nf.value.field == "username"
    projects.remove_member(engine, admin.user, project.id, "bob")
    with pytest.raises(NotFound):
        projects.remove_member(engine, admin.user, project.id, "bob")


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_unstorable_strings_are_invalid(engine: Engine, admin: Any, project: Any, text: str) -> None:
    for spec, field in (({"name": text, "labels": ["a", "b"]}, "name"),
                        ({"name": "x", "labels": ["a", text]}, "labels"),
                        ({"name": "x", "labels": ["a", "b"], "guidelines": text}, "guidelines")):
        with pytest.raises(Invalid) as err:
            projects.create_project(engine, admin.user, spec)
        assert err.value.field == field
    with pytest.raises(NotFound):
        projects.add_member(engine, admin.user, project.id, text, "annotator")


def test_require_manager(engine: Engine, admin: Any, project: Any, make_annotator: Callable,
                         make_person: Callable) -> None:
    assert projects.require_manager(engine, admin.user, project.id).id == project.id
    with pytest.raises(Forbidden):
        projects.require_manager(engine, make_annotator(project).user, project.id)
    with pytest.raises(NotFound):
        projects.require_manager(engine, make_person().user, project.id)


def test_a_name_the_actor_already_sees_is_refused(engine: Engine, admin: Any, make_project: Callable,
                                                  make_person: Callable) -> None:
    """Commands and pages find projects by name: a rerun `project create` made a twin that broke them."""
    first = make_project(name="Pets")
    with pytest.raises(Conflict) as err:
        make_project(name="Pets")
    assert err.value.field == "name" and f"project #{first.id} is already named 'Pets'" in err.value.message
    other = make_project(name="Birds")
    with pytest.raises(Conflict):
        projects.update_project(engine, admin.user, other.id, {"name": "Pets"})
    assert projects.update_project(engine, admin.user, first.id, {"name": "Pets"}).name == "Pets"  # itself
    eve = make_person("eve")
    assert make_project(actor=eve.user, name="Pets").name == "Pets"  # eve cannot see the admin's


def test_project_creation_can_be_kept_to_admins(engine: Engine, admin: Any, make_project: Callable,
                                                make_person: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    from truthline.settings import get_settings

    worker = make_person("worker")
    monkeypatch.setenv("TRUTHLINE_PROJECT_CREATORS", "admins")
    get_settings.cache_clear()
    try:
        with pytest.raises(Forbidden) as err:
            make_project(actor=worker.user, name="Mine")
        assert "TRUTHLINE_PROJECT_CREATORS" in err.value.message
        assert make_project(name="Theirs").name == "Theirs"  # the admin still can
    finally:
        monkeypatch.delenv("TRUTHLINE_PROJECT_CREATORS")
        get_settings.cache_clear()
    assert make_project(actor=worker.user, name="Mine").name == "Mine"  # the default: everyone


def test_a_project_keeps_a_manager(engine: Engine, admin: Any, make_project: Callable, make_person: Callable) -> None:
    """Removed or demoted, a project's only manager left a project only admins could reach."""
    owner = make_person("owner")
    project = make_project(actor=owner.user, name="Owned")
    for change in (lambda: projects.remove_member(engine, owner.user, project.id, "owner"),
                   lambda: projects.add_member(engine, admin.user, project.id, "owner", "annotator")):
        with pytest.raises(Conflict) as err:
            change()
        assert err.value.field == "username" and "only manager" in err.value.message
    make_person("deputy")
    projects.add_member(engine, owner.user, project.id, "deputy", "manager")
    projects.remove_member(engine, owner.user, project.id, "owner")
    assert [(m.username, m.role) for m in projects.list_members(engine, admin.user, project.id)] == [("deputy", "manager")]
