"""Importing items: validate every record first, then write all of them in one transaction or none.

Re-importing an external_id updates that item's data, and its priority, gold and truth where the record
carries them: a field left out keeps its value, null clears it (idempotent: counts and labels are kept). So
an export, which carries none of the three, imports back without touching them. Records come from
`readers.read_records` or any iterable of (line_no, dict).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from truthline.errors import Conflict, Invalid, Problem
from truthline.services.access import project_for
from truthline.services.readers import FORMATS, format_for, read_records
from truthline.services.text import MAX_DEPTH, text_problem, too_deep
from truthline.store import items as store
from truthline.store.projects import bump_items_version
from truthline.store.db import read_tx, write_tx
from truthline.store.records import ImportReport, Project, User
from truthline.tasktypes import TaskType, get_task_type

__all__ = ["FORMATS", "ImportReport", "format_for", "import_file", "import_items", "read_records"]

MAX_EXTERNAL_ID = 300
MAX_PROBLEMS = 1000  # details listed in one error; the message still counts every bad line
_FIELDS = frozenset({"external_id", "data", "priority", "gold", "truth"})
KEEP: Any = object()  # a field the record leaves out: it stays as stored
_CHUNK = 5000
_INT32 = 2**31 - 1


# One encoder for all rows (json.dumps(**kw) builds one per call); NaN/Infinity are not JSON.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_fast_encode = orjson.dumps


def _check(line: int, rec: Any, tt: TaskType, config: dict[str, Any], problems: list[Problem]) -> tuple | None:
    """A validated row (external_id, data, priority, gold, truth as JSON text) or None, adding problems.
    Hot loop of imports: the common case (all fine) runs straight through."""
    if not isinstance(rec, dict):
        problems.append(Problem("must be a JSON object with external_id and data", line=line))
        return None
    found: list[Problem] = []
    if not rec.keys() <= _FIELDS:
        found += [Problem(f"unknown field; item fields are {', '.join(sorted(_FIELDS))} (put item content under data)",
                          field=str(key)) for key in rec.keys() - _FIELDS]
    ext = rec.get("external_id")
    if type(ext) is int:
        ext = str(ext)
    if not isinstance(ext, str) or not ext.strip():
        found.append(Problem(f"is required: a non-empty string of at most {MAX_EXTERNAL_ID} characters",
                             field="external_id"))
    elif len(ext) > MAX_EXTERNAL_ID:
        found.append(Problem(f"is {len(ext):,} characters long; at most {MAX_EXTERNAL_ID} are allowed",
                             field="external_id"))
    elif problem := text_problem(ext):
        found.append(Problem(problem, field="external_id"))
    found += tt.validate_item(rec.get("data"))
    priority = rec.get("priority", KEEP)
    if priority is not KEEP and (type(priority) is not int or abs(priority) > _INT32):
        found.append(Problem(f"must be an integer (higher is labeled first), got {priority!r}", field="priority"))
    if found:
        problems.extend(Problem(p.message, field=p.field, line=line) for p in found)
        return None
    data = _json_text(rec["data"], "data", found)
    gold, truth = rec.get("gold", KEEP), rec.get("truth", KEEP)
    if gold is not None or truth is not None:
        gold, truth = (KEEP if key not in rec else _answer_text(rec[key], key, tt, config, found)
                       for key in ("gold", "truth"))
    if found:
        problems.extend(Problem(p.message, field=p.field, line=line) for p in found)
        return None
    return ext, data, priority, gold, truth


def _answer_text(value: Any, key: str, tt: TaskType, config: dict[str, Any], found: list[Problem]) -> str | None:
    if value is None:
        return None
    try:
        return _json_text(tt.validate_answer(value, config, field=key), key, found)
    except Invalid as exc:
        found.append(Problem(exc.message, field=key))
        return None


def _json_text(value: Any, key: str, found: list[Problem]) -> str | None:
    """The JSON text stored for value, or None after noting why it cannot be stored."""
    if type(value) is dict:
        # The common item shape ({"text": ...}, {"image_url": ...}): orjson writes these byte for byte
        # like _encode, ~9x faster. Anything else (numbers: NaN and float spelling; non-str keys; lone
        # surrogates, which orjson refuses) takes the json path below.
        for v in value.values():
            if type(v) is not str:
                break
        else:
            try:
                return _fast_encode(value).decode()
            except TypeError:
                pass
    if too_deep(value):
        found.append(Problem(f"nests more than {MAX_DEPTH} levels of arrays/objects", field=key))
        return None
    try:
        text = _encode(value)
    except (ValueError, TypeError, RecursionError) as exc:  # NaN, Parquet timestamps/bytes
        found.append(Problem(f"cannot be stored as JSON: {exc}", field=key))
        return None
    if not text.isascii() and (problem := text_problem(text)):  # NULs come out escaped; lone surrogates don't
        found.append(Problem(problem, field=key))
    return text


def import_items(engine: Engine, actor: User, project_id: int,
                 records: Iterable[tuple[int, dict[str, Any] | Problem]]) -> ImportReport:
    """Import item records into a project (managers, admins). Any bad record: Invalid listing every bad
    line (details), nothing written. Duplicate external_ids within the batch are bad lines too."""
    with read_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
    rows, problems, n_bad = _validate(project, records)
    if not rows and not n_bad:  # "0 created" for an empty file reads as success; it is always a mistake
        raise Invalid("the file holds no item records; nothing was imported", field="file")
    if n_bad:
        first = problems[0]
        more = f" (first {MAX_PROBLEMS} listed)" if n_bad > len(problems) else ""
        raise Invalid(f"{n_bad} bad record(s){more}; nothing was imported. Fix them and import again.",
                      field=first.field, line=first.line, details=problems)
    return _write(engine, project, rows)


def import_file(engine: Engine, actor: User, project_id: int, stream: BinaryIO, fmt: str) -> ImportReport:
    """import_items over `read_records(stream, fmt)`."""
    return import_items(engine, actor, project_id, read_records(stream, fmt))


def _validate(project: Project, records: Iterable[tuple[int, Any]]) -> tuple[list[tuple], list[Problem], int]:
    tt = get_task_type(project.task_type)
    rows: list[tuple] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    n_bad = 0
    for line, rec in records:
        if isinstance(rec, Problem):
            found = [Problem(rec.message, field=rec.field, line=line)]
            row = None
        else:
            found = []
            row = _check(line, rec, tt, project.config, found)
        if row is not None:
            first = seen.setdefault(row[0], line)
            if first != line:
                found.append(Problem(f"duplicate external_id {row[0]!r}: also on line {first}",
                                     field="external_id", line=line))
        if found:
            n_bad += 1
            problems.extend(found[: max(0, MAX_PROBLEMS - len(problems))])
            rows = []  # nothing will be written: stop buffering
        elif not n_bad:
            rows.append(row)  # type: ignore[arg-type]
    return rows, problems, n_bad


def _same(stored: tuple, new: tuple) -> bool:
    """Whether a re-imported item equals the stored one: JSON compared as values, so the same object with
    its keys in another order (another tool's export) is unchanged, while true and 1, or 1 and 1.0, differ."""
    return stored == new or all(a == b or _canonical(a) == _canonical(b) for a, b in zip(stored, new))


def _canonical(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:  # integers past 64 bits
        return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)


def _write(engine: Engine, project: Project, rows: list[tuple]) -> ImportReport:
    try:
        return _write_rows(engine, project, rows)
    except IntegrityError:  # PostgreSQL: a concurrent import created some of the same external ids first
        raise Conflict("another import into this project added some of these items at the same time; "
                       "nothing was imported, import again (it is idempotent)") from None


def _write_rows(engine: Engine, project: Project, rows: list[tuple]) -> ImportReport:
    now = time.time()
    created = updated = unchanged = 0
    with write_tx(engine) as conn, store.bulk_writes(conn):
        fresh = not store.has_items(conn, project.id)
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            old = {} if fresh else store.existing(conn, project.id, [r[0] for r in chunk])
            inserts, updates = [], []
            for ext, data, *kept in chunk:
                prior = old.get(ext)
                if prior is None:  # columns in store.items.INSERT_COLUMNS order
                    priority, gold, truth = (default if v is KEEP else v for v, default in zip(kept, (0, None, None)))
                    inserts.append((project.id, ext, data, priority, gold, truth, project.overlap, 0, 0, True, now))
                    continue
                priority, gold, truth = (was if v is KEEP else v for v, was in zip(kept, prior[2:]))
                if not _same(prior[1:], (data, priority, gold, truth)):
                    updates.append((data, priority, gold, truth, prior[0]))
                else:
                    unchanged += 1
            store.insert_raw(conn, inserts)
            store.update_raw(conn, updates)
            created += len(inserts)
            updated += len(updates)
        if updated:
            bump_items_version(conn, project.id)
    return ImportReport(created=created, updated=updated, unchanged=unchanged)
