"""Queries on annotations: idempotent insert lookups, label arrays for inference, export batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.db import raw_rows
from truthline.store.fastpath import execute as run  # conn.execute, faster on SQLite
from truthline.store.records import Annotation, to_datetime
from truthline.store.tables import annotations, leases, users


def _annotation(row: Any, replayed: bool = False) -> Annotation | None:
    if row is None:
        return None
    return Annotation(
        id=row.id, project_id=row.project_id, item_id=row.item_id, user_id=row.user_id, lease_id=row.lease_id,
        answer=row.answer, active_ms=row.active_ms, idempotency_key=row.idempotency_key,
        created_at=to_datetime(row.created_at), replayed=replayed,
    )


_BY_KEY = sa.select(annotations).where(annotations.c.user_id == sa.bindparam("user_id"),
                                       annotations.c.idempotency_key == sa.bindparam("key"))
_BY_LEASE = sa.select(annotations).where(annotations.c.lease_id == sa.bindparam("lease_id"))
_INSERT = annotations.insert()


def by_key(conn: Connection, user_id: int, key: str) -> Annotation | None:
    return _annotation(run(conn, _BY_KEY, {"user_id": user_id, "key": key}).first(), replayed=True)


def by_lease(conn: Connection, lease_id: int) -> Annotation | None:
    return _annotation(run(conn, _BY_LEASE, {"lease_id": lease_id}).first(), replayed=True)


def insert(conn: Connection, values: dict[str, Any]) -> Annotation:
    res = run(conn, _INSERT, values)
    return Annotation(
        id=int(res.inserted_primary_key[0]), project_id=values["project_id"], item_id=values["item_id"],
        user_id=values["user_id"], lease_id=values["lease_id"], answer=values["answer"],
        active_ms=values["active_ms"], idempotency_key=values["idempotency_key"],
        created_at=to_datetime(values["created_at"]),
    )


def label_rows(conn: Connection, project_id: int) -> tuple[Sequence[int], Sequence[int], list[str]]:
    """(item_ids, user_ids, answers as JSON text) of every annotation in the project, in item order
    (ids as lists or int64 arrays). Answers come as text: callers decode each distinct answer once."""
    if conn.dialect.name == "sqlite":
        return _sqlite_label_rows(conn, project_id)
    rows = raw_rows(conn, "SELECT item_id, user_id, CAST(answer AS TEXT) FROM annotations WHERE project_id = ?",
                    (project_id,))
    if not rows:
        return [], [], []
    item_ids, user_ids, answers = map(list, zip(*rows, strict=True))
    return item_ids, user_ids, answers


_WINDOW = 200_000  # item ids per query: bounds the concatenated text (~1M labels, ~8 MB at overlap 5)


def _sqlite_label_rows(conn: Connection, project_id: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Three concatenated columns per window of item ids instead of a tuple per label, parsed by NumPy:
    under half the time of fetchall and a fraction of its memory. The aggregates of one query see the
    same rows in the same (index) order, so the columns line up. Stored answers are JSON text, in which
    a raw U+001F cannot occur (JSON escapes control characters), so it separates them."""
    ends = [raw_rows(conn, f"SELECT item_id FROM annotations WHERE project_id = ? ORDER BY item_id {way} LIMIT 1",
                     (project_id,)) for way in ("ASC", "DESC")]  # two index probes (min+max in one query scans)
    if not ends[0]:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    items: list[np.ndarray] = []
    users: list[np.ndarray] = []
    answers: list[str] = []
    for start in range(ends[0][0][0], ends[1][0][0] + 1, _WINDOW):
        item_text, user_text, answer_text = raw_rows(
            conn, "SELECT group_concat(item_id), group_concat(user_id), group_concat(answer, char(31)) "
                  "FROM annotations WHERE project_id = ? AND item_id BETWEEN ? AND ?",
            (project_id, start, start + _WINDOW - 1))[0]
        if item_text is not None:
            items.append(np.fromstring(item_text, dtype=np.int64, sep=","))
            users.append(np.fromstring(user_text, dtype=np.int64, sep=","))
            answers += answer_text.split("\x1f")
    return np.concatenate(items), np.concatenate(users), answers


_NOTES_SQL = {
    # Each item's raw annotations as one JSON array, built by the database (C) instead of row by row in Python.
    "sqlite": (
        "SELECT a.item_id, json_group_array(json_object('worker', u.username, 'answer', json(a.answer), "
        "'active_ms', a.active_ms, 'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at, 'unixepoch'))), "
        "count(*) FROM annotations a JOIN users u ON u.id = a.user_id "
        "WHERE a.project_id = ? AND a.item_id BETWEEN ? AND ? GROUP BY a.item_id ORDER BY a.item_id"
    ),
    "postgresql": (
        "SELECT a.item_id, CAST(json_agg(json_build_object('worker', u.username, 'answer', a.answer, "
        "'active_ms', a.active_ms, 'created_at', to_char(to_timestamp(a.created_at) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY a.id) AS TEXT), count(*) "
        "FROM annotations a JOIN users u ON u.id = a.user_id "
        "WHERE a.project_id = ? AND a.item_id BETWEEN ? AND ? GROUP BY a.item_id ORDER BY a.item_id"
    ),
}


def notes_json(conn: Connection, project_id: int, first_id: int, last_id: int) -> dict[int, tuple[str, int]]:
    """item_id -> (JSON array of {worker, answer, active_ms, created_at}, count) for items first_id..last_id,
    annotations in the order they were made; created_at is ISO 8601 UTC with milliseconds."""
    rows = raw_rows(conn, _NOTES_SQL[conn.dialect.name], (project_id, first_id, last_id))
    return {item_id: (notes, n) for item_id, notes, n in rows}


def answers_on_items(conn: Connection, item_ids: list[int]) -> dict[tuple[int, int], str]:
    """(item id, user id) -> that user's answer on that item, as JSON text (imported labels have no lease)."""
    out: dict[tuple[int, int], str] = {}
    for start in range(0, len(item_ids), 900):
        chunk = item_ids[start : start + 900]
        marks = ", ".join("?" * len(chunk))
        rows = raw_rows(conn, f"SELECT item_id, user_id, CAST(answer AS TEXT) FROM annotations "
                              f"WHERE item_id IN ({marks})", tuple(chunk))
        out.update(((item, user), answer) for item, user, answer in rows)
    return out


def usernames(conn: Connection, user_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(user_ids), 900):
        q = sa.select(users.c.id, users.c.username).where(users.c.id.in_(user_ids[start : start + 900]))
        out.update({r.id: r.username for r in conn.execute(q)})
    return out


def answer_counts(conn: Connection, project_id: int) -> list[tuple[str, int]]:
    """(answer as JSON text, how many annotations gave it) for each distinct answer in the project."""
    return [(text, int(n)) for text, n in raw_rows(
        conn, "SELECT CAST(answer AS TEXT), COUNT(*) FROM annotations WHERE project_id = ? "
              "GROUP BY CAST(answer AS TEXT)", (project_id,))]


def first_picks(conn: Connection, project_id: int, imported_prefix: str) -> dict[int, tuple[int, int]]:
    """Pairwise: user_id -> (their "a" or "b" answers given on a lease, how many of those chose the candidate
    the lease showed first). Imported labels (idempotency keys starting `imported_prefix`) are left out, also
    where one took over a lease: nobody knows what order their worker saw."""
    answer = sa.cast(annotations.c.answer, sa.Text)
    first = sa.case((sa.and_(leases.c.swapped, answer == '"b"'), 1),
                    (sa.and_(~leases.c.swapped, answer == '"a"'), 1), else_=0)
    q = (
        sa.select(annotations.c.user_id, sa.func.count(), sa.func.sum(first))
        .join(leases, leases.c.id == annotations.c.lease_id)
        .where(annotations.c.project_id == project_id, answer.in_(['"a"', '"b"']),
               ~annotations.c.idempotency_key.startswith(imported_prefix, autoescape=True))
        .group_by(annotations.c.user_id)
    )
    return {int(uid): (int(n), int(k)) for uid, n, k in conn.execute(q)}


def mean_active_ms(conn: Connection, project_id: int) -> dict[int, float]:
    """user_id -> mean active time per label in the project, over the labels whose time was measured: 0 ms
    means not measured (labels imported without active_ms, clients that do not time), and counted it would
    make a worker look faster than they are. Workers with no measured label are left out."""
    q = (
        sa.select(annotations.c.user_id, sa.func.avg(sa.func.nullif(annotations.c.active_ms, 0)))
        .where(annotations.c.project_id == project_id)
        .group_by(annotations.c.user_id)
    )
    return {int(uid): float(ms) for uid, ms in conn.execute(q) if ms is not None}


_COLUMNS = ("project_id", "item_id", "user_id", "lease_id", "answer", "active_ms", "idempotency_key", "created_at")


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Bulk insert (label imports). Plain DB-API executemany with each distinct answer JSON-encoded once
    (as the JSON column would: json.dumps): Core's per-row parameter processing was ~40% of the time."""
    if not rows:
        return
    encoded: dict[Any, str] = {}

    def text(answer: Any) -> str:
        try:
            return encoded[answer]
        except KeyError:
            value = encoded[answer] = json.dumps(answer)
            return value
        except TypeError:  # unhashable (lists)
            return json.dumps(answer)

    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO annotations ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))})"
    conn.exec_driver_sql(sql, [(r["project_id"], r["item_id"], r["user_id"], r["lease_id"], text(r["answer"]),
                                r["active_ms"], r["idempotency_key"], r["created_at"]) for r in rows])
