"""Importing existing labels (migrations from other tools, seeding demos and benchmarks).

Each record is {"external_id", "worker": username, "answer", "active_ms"=0}. All-or-nothing like item
imports. A label that already exists for (item, worker) is left as it is (idempotent re-import). Where the
worker only skipped the item, let a lease on it expire, or holds a live lease on it, the imported label
takes that lease's place (a live lease ends as submitted). Workers must exist; with `create_workers=True` an
admin creates missing ones as token-only accounts. Every worker becomes an annotator of the project, and is
never routed an item it already has a label for. Imported labels are kept even where they take an item past the
project's overlap (they were given; dropping some would lose data): such items simply get no more routing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from truthline.errors import Conflict, Forbidden, Invalid, Problem, shown
from truthline.routing.claim import end_lease
from truthline.services.access import project_for
from truthline.services.importing import MAX_PROBLEMS
from truthline.services.tasks import IMPORT_KEY_PREFIX, MAX_ACTIVE_MS
from truthline.services.text import storable
from truthline.services.users import valid_username
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store import leases as lease_store
from truthline.store import projects as project_store
from truthline.store import users as user_store
from truthline.store.db import read_tx, write_tx
from truthline.store.records import User
from truthline.tasktypes import get_task_type

_FIELDS = frozenset({"external_id", "worker", "answer", "active_ms"})
_CHUNK = 5000


@dataclass(frozen=True)
class LabelImportReport:
    created: int = 0
    unchanged: int = 0  # already stored for (item, worker), the same answer or not
    workers_created: int = 0
    differing: int = 0  # of `unchanged`, those whose stored answer is not the file's (the stored one is kept)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "unchanged": self.unchanged, "workers_created": self.workers_created,
                "differing": self.differing}


def import_annotations(engine: Engine, actor: User, project_id: int, records: Iterable[tuple[int, Any]],
                       create_workers: bool = False) -> LabelImportReport:
    """Import labels into a project (managers, admins). Any bad record: Invalid listing every bad line."""
    if create_workers and not actor.is_admin:
        raise Forbidden("only an admin can create workers while importing labels", field="create_workers")
    with read_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
    tt = get_task_type(project.task_type)
    rows: list[tuple[int, str, str, Any, int]] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for line, rec in records:
        found: list[Problem] = []
        if isinstance(rec, Problem):  # the reader's: a line it could not make a record of
            found.append(rec)
        elif not isinstance(rec, dict):
            found.append(Problem("must be a JSON object with external_id, worker, answer"))
        else:
            found += [Problem("unknown field; label fields are " + ", ".join(sorted(_FIELDS)), field=str(k))
                      for k in rec.keys() - _FIELDS]
            ext, worker, ms = rec.get("external_id"), rec.get("worker"), rec.get("active_ms", 0)
            for key, value in (("external_id", ext), ("worker", worker)):
                if not isinstance(value, str) or not value or not storable(value):
                    found.append(Problem("is required: a non-empty string", field=key))
            if isinstance(worker, str) and worker and not valid_username(worker):  # may become a user
                found.append(Problem(f"{shown(worker)} is not a valid username: 1-100 letters, digits or . _ @ -",
                                     field="worker"))
            if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_ACTIVE_MS:
                found.append(Problem(f"must be an integer number of milliseconds from 0 to {MAX_ACTIVE_MS}",
                                     field="active_ms"))
            try:
                answer = tt.validate_answer(rec.get("answer"), project.config)
            except Invalid as exc:
                found.append(Problem(exc.message, field="answer"))
            if not found:
                first = seen.setdefault((ext, worker), line)
                if first != line:
                    found.append(Problem(f"duplicate label of {worker!r} on {ext!r}: also on line {first}",
                                         field="worker"))
                else:
                    rows.append((line, ext, worker, answer, ms))
        problems.extend(Problem(p.message, field=p.field, line=line) for p in found)
    if not rows and not problems:  # "0 created" for an empty file reads as success; it is always a mistake
        raise Invalid("the file holds no label records; nothing was imported", field="file")
    return _write(engine, project.id, rows, problems, create_workers)


def _fail(problems: list[Problem], n_bad: int) -> Invalid:
    first = problems[0]
    return Invalid(f"{n_bad} bad record(s); nothing was imported. Fix them and import again.",
                   field=first.field, line=first.line, details=problems[:MAX_PROBLEMS])


def _write(engine: Engine, project_id: int, rows: list[tuple], problems: list[Problem],
           create_workers: bool) -> LabelImportReport:
    if problems:  # the good records' unknown items and workers too: every bad line in one run
        with read_tx(engine) as conn:
            problems = sorted(problems + _unknown(conn, project_id, rows, create_workers), key=lambda p: p.line or 0)
        raise _fail(problems, len({p.line for p in problems}))
    try:
        return _write_rows(engine, project_id, rows, create_workers)
    except IntegrityError:  # PostgreSQL: a concurrent import or claim made some of the same rows first
        raise Conflict("labels or workers were added concurrently; nothing was imported, import again "
                       "(it is idempotent)") from None


def _unknown(conn: Connection, project_id: int, rows: list[tuple], create_workers: bool) -> list[Problem]:
    """Problems for rows naming an item not in the project, or (unless created) a user who does not exist."""
    ext_ids = sorted({r[1] for r in rows})
    items: set[str] = set()
    for start in range(0, len(ext_ids), _CHUNK):
        items.update(item_store.existing(conn, project_id, ext_ids[start : start + _CHUNK]))
    names = {r[2] for r in rows}
    users = names if create_workers else {n for n in names if user_store.get_user_by_name(conn, n) is not None}
    return _unknown_problems(rows, items, users)


def _unknown_problems(rows: list[tuple], items: Container[str], users: Container[str]) -> list[Problem]:
    bad = [Problem(f"no item with external_id {r[1]!r} in this project", field="external_id", line=r[0])
           for r in rows if r[1] not in items]
    bad += [Problem(f"no user {r[2]!r}; create it first, or let an admin import with --create-workers",
                    field="worker", line=r[0]) for r in rows if r[2] not in users]
    return bad


def _write_rows(engine: Engine, project_id: int, rows: list[tuple], create_workers: bool) -> LabelImportReport:
    now = time.time()
    created = unchanged = workers_created = differing = 0
    with write_tx(engine) as conn, item_store.bulk_writes(conn):
        item_ids = {}
        ext_ids = sorted({r[1] for r in rows})
        for start in range(0, len(ext_ids), _CHUNK):
            found = item_store.existing(conn, project_id, ext_ids[start : start + _CHUNK])
            item_ids.update({ext: v[0] for ext, v in found.items()})
        user_ids: dict[str, int] = {}
        for name in sorted({r[2] for r in rows}):
            user = user_store.get_user_by_name(conn, name)
            if user is None and create_workers:
                user = user_store.insert_user(conn, name, None, "member", now)
                workers_created += 1
            if user is not None:
                user_ids[name] = user.id
                if project_store.member_role(conn, project_id, user.id) is None:
                    project_store.upsert_member(conn, project_id, user.id, "annotator")
        bad = _unknown_problems(rows, item_ids, user_ids)
        if bad:
            raise _fail(bad, len({p.line for p in bad}))
        taken = lease_store.pairs_on_items(conn, sorted(set(item_ids.values())))
        stored = annotation_store.answers_on_items(conn, sorted({item for (item, _), (_, state) in taken.items()
                                                                 if state == "submitted"}))
        leases, notes, counts = [], [], {}
        for _line, ext, worker, answer, ms in rows:
            item_id, user_id = item_ids[ext], user_ids[worker]
            lease_id, state = taken.get((item_id, user_id), (None, None))
            if state == "submitted":
                unchanged += 1
                differing += (item_id, user_id) in stored and json.loads(stored[item_id, user_id]) != answer
                continue
            if state == "active":  # the live lease's slot becomes this label
                end_lease(conn, lease_id, item_id, "submitted", was_live=True)
            else:
                if state is None:
                    leases.append({"project_id": project_id, "item_id": item_id, "user_id": user_id,
                                   "state": "submitted", "created_at": now, "expires_at": now})
                else:  # skipped or expired: no slot held; the label is one more on the item
                    lease_store.set_state(conn, lease_id, "submitted")
                counts[item_id] = counts.get(item_id, 0) + 1
            notes.append({"project_id": project_id, "item_id": item_id, "user_id": user_id, "lease_id": lease_id,
                          "answer": answer, "active_ms": ms, "idempotency_key": f"{IMPORT_KEY_PREFIX}{item_id}",
                          "created_at": now})
        lease_store.insert_many(conn, leases)
        annotation_store.insert_many(conn, notes)
        lease_store.add_labels(conn, counts)
        created = len(notes)
    return LabelImportReport(created=created, unchanged=unchanged, workers_created=workers_created,
                             differing=differing)
