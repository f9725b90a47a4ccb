"""Domain errors. They know nothing about HTTP; `truthline.api.errors` maps them to status codes.

Every error carries a machine-readable `code`, a human `message` that says what to do next, and,
where it applies, the `field` (a dotted path such as ``answer`` or ``items[3].external_id``) and
the input `line` (1-based) it is about. `details` holds one entry per problem when there are several
(a batch import reports every bad line at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any


def shown(value: Any, limit: int = 80) -> str:
    """`value` as an error message quotes it: repr, cut to `limit` characters (a 2 MB bad answer must not
    come back as a 2 MB error)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Problem:
    """One thing wrong with the input."""

    message: str
    field: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in {"message": self.message, "field": self.field, "line": self.line}.items() if v is not None}


@dataclass
class TruthlineError(Exception):
    message: str
    field: str | None = None
    line: int | None = None
    details: list[Problem] = dc_field(default_factory=list)
    code: str = "error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return described(self.message, self.field, self.line, [(p.message, p.field, p.line) for p in self.details])


def located(message: str, field: str | None, line: int | None) -> str:
    """`message` behind "line N, field: ", leaving out the field where the message already starts with it
    ("name is required", "project_id: Input should be ...") and both where it already says "line N:"
    ("labels.csv: line 3: label is empty")."""
    if line is not None and f"line {line}:" in message:
        return message
    named = bool(field) and (message.startswith(f"{field}:") or message.startswith(f"{field} "))
    where = [x for x in (f"line {line}" if line is not None else "", "" if named else field or "") if x]
    return (f"{', '.join(where)}: " if where else "") + message


def described(message: str, field: str | None, line: int | None,
              details: list[tuple[str, str | None, int | None]]) -> str:
    """The error's located message, then each problem on its own line (one problem that only repeats the
    message is not listed again)."""
    text = located(message, field, line)
    if details and not (len(details) == 1 and details[0][0] == message):
        text += "".join(f"\n  - {located(*d)}" for d in details)
    return text


@dataclass
class Invalid(TruthlineError):
    """The input is wrong (bad field, bad line, unknown label). Maps to 422."""

    code: str = "invalid"


@dataclass
class NotFound(TruthlineError):
    code: str = "not_found"


@dataclass
class Conflict(TruthlineError):
    """The request is well-formed but clashes with current state (expired lease, duplicate). 409."""

    code: str = "conflict"


@dataclass
class Unauthorized(TruthlineError):
    """No or bad credentials. 401."""

    code: str = "unauthorized"


@dataclass
class Forbidden(TruthlineError):
    """Authenticated but not allowed. 403."""

    code: str = "forbidden"


@dataclass
class TooLarge(TruthlineError):
    """An upload over the configured limit. 413."""

    code: str = "too_large"


@dataclass
class Throttled(TruthlineError):
    """Too many attempts (failed logins), or too many at once; retry_after: seconds to wait. 429."""

    code: str = "too_many_requests"
    retry_after: int = 60


@dataclass
class NotReady(TruthlineError):
    """The system is not ready for this (e.g. database not migrated). 503 / CLI exit 1."""

    code: str = "not_ready"
