"""Checks for values that cannot be stored or served back: NUL characters (PostgreSQL text refuses them),
lone UTF-16 surrogates (valid in JSON escapes, not encodable as UTF-8), and JSON nested too deep to send
(pydantic's serializer stops at 255 levels, so such an item would fail every `next` that leased it). And
for values served as CSV: cells a spreadsheet would run as a formula are defused (`formula_safe`,
`csv_text`, used by every CSV the project writes)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None if it can."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it contains a lone surrogate such as \\ud800)"
    return None


def storable(value: Any) -> bool:
    return not isinstance(value, str) or text_problem(value) is None


MAX_DEPTH = 64  # levels of JSON arrays/objects an item's data may nest


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if `value` nests lists/dicts more than `limit` levels (iterative: no recursion limit to hit)."""
    level = [value]
    for _ in range(limit):
        level = [c for v in level if isinstance(v, (list, dict)) for c in (v.values() if isinstance(v, dict) else v)]
        if not level:
            return False
    return any(isinstance(v, (list, dict)) for v in level)


_FORMULA_START = frozenset("=+-@\t\r")
_GUARDED = _FORMULA_START | {"'"}  # what may follow a guard quote: read back, the quote is dropped
# `unguarded`'s test as a regular expression, for whole columns at once (pyarrow): ' then one of _GUARDED
GUARDED_CELL = "^'[" + "".join(sorted(_GUARDED)).replace("-", "\\-") + "]"


def formula_safe(value: str) -> str:
    """`value` with a leading ' where a spreadsheet would run it as a formula (CSV injection: a requester's
    `=HYPERLINK(...)` external id must not run on the machine of whoever opens the export). Numbers such as
    -3.5 stay as they are, so numeric columns still read as numbers. A value that would itself read back as
    guarded (' then one of =+-@' ...) gets a quote too, so `unguarded` restores every value exactly."""
    if value[:1] == "'" and value[1:2] in _GUARDED:
        return "'" + value
    if value[:1] not in _FORMULA_START:
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def unguarded(value: str) -> str:
    """A CSV cell as it was before `formula_safe` (so an export imports back unchanged). A hand-written
    cell that starts with ' followed by =, +, -, @, ' or a tab loses that first quote, as it would if a
    spreadsheet had saved it."""
    return value[1:] if value[:1] == "'" and value[1:2] in _GUARDED else value


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Header and rows as CSV text, text cells defused for spreadsheets (`formula_safe`)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    writer.writerows([formula_safe(v) if isinstance(v, str) else v for v in row] for row in rows)
    return buf.getvalue()
