"""The requester's forms (new project, project settings, import items, members): form fields turned into service
arguments, and the services' domain errors turned into what a form shows next to its fields.

No HTTP here: routes.py reads the request, calls these, calls the service and renders the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from truthline.errors import Invalid, TruthlineError, located

PROJECT_FIELDS = ("name", "task_type", "labels", "overlap", "guidelines", "range", "tolerance", "ties",
                  "random_order")
SETTINGS_FIELDS = ("overlap", "guidelines", "status", "pay_cents", "range", "tolerance", "ties", "random_order")
STATUSES = ("active", "paused", "archived")  # the services' STATUSES, in the order the settings form lists them
MEMBER_FIELDS = ("username", "role")
MEMBER_ROLES = ("annotator", "reviewer", "manager")  # the services' PROJECT_ROLES, the common one first
MAX_BAD_LINES = 20  # bad lines an import form lists; the message still counts them all
NOTICES = {
    "project-created": "Project created. Import its items and add its annotators below.",
    "settings-saved": "Settings saved.",
    "member-saved": "Member saved.",
    "member-removed": "Member removed.",
}


@dataclass
class FormState:
    """What a form shows: the user's input kept, a message per field, and one for the whole form."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    lines: list[str] = field(default_factory=list)  # an import's bad lines (the first MAX_BAD_LINES)
    more_lines: int = 0


def new_project_form() -> FormState:
    return FormState({"name": "", "task_type": "classification", "labels": "", "overlap": "1", "guidelines": "",
                      "range_min": "", "range_max": "", "tolerance": "", "ties": "",
                      "random_order": "true"})


def new_member_form() -> FormState:
    return FormState({"username": "", "role": "annotator"})


def ticked(value: str) -> str:
    """A checkbox as a form value: "true" when the browser sent it ticked, "" otherwise."""
    return "true" if value.strip().lower() in ("true", "on", "1") else ""


def settings_form(project: Any) -> FormState:
    """The manage page's settings form filled with the project's current values (a numeric project's range
    and tolerance, a pairwise project's ties and order: blank or unticked for other task types, which the page hides)."""
    bounds = project.range or {}
    return FormState({
        "overlap": str(project.overlap), "guidelines": project.guidelines, "status": project.status,
        "pay_cents": str(project.pay_cents),
        "range_min": _number_text(bounds.get("min")), "range_max": _number_text(bounds.get("max")),
        "tolerance": _number_text(project.tolerance), "ties": "true" if project.ties else "",
        "random_order": "true" if project.random_order else "",
    })


def _number_text(value: Any) -> str:
    return "" if value is None else str(value)


def _whole(text: str, key: str, what: str) -> int:
    """A form's whole-number field, named in the error when it is not one (the service checks the bounds)."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise Invalid(f"{key} must be a whole number ({what}), got {text[:40]!r}", field=key)
    return int(text)


def settings_changes(project: Any, values: dict[str, str]) -> dict[str, Any]:
    """The update_project changes for the settings form: every field it shows, sent whether changed or not
    (an unchanged range or ties checks nothing: the service looks for stored answers only when they change).
    A numeric project's range gets the ends typed ({}: unbounded both ways) and a blank tolerance is 0, the
    default; a pairwise project's boxes set `ties` and `random_order`. Labels, name and lease are left as they
    are. Guidelines come back from a browser's textarea with CRLF line ends: stored with LF, as typed elsewhere."""
    changes: dict[str, Any] = {
        "overlap": _whole(values["overlap"], "overlap", "how many people label each item"),
        "guidelines": values["guidelines"].replace("\r\n", "\n"),
        "status": values["status"],
        "pay_cents": _whole(values["pay_cents"], "pay_cents", "cents paid per accepted answer"),
    }
    if project.range is not None:  # numeric
        bounds = {key: values.get(f"range_{key}", "").strip() for key in ("min", "max")}
        changes["range"] = {key: text for key, text in bounds.items() if text}
        changes["tolerance"] = values.get("tolerance", "").strip() or 0
    if project.ties is not None:  # pairwise
        changes.update(ties=bool(values.get("ties")), random_order=bool(values.get("random_order")))
    return changes


def project_spec(values: dict[str, str]) -> dict[str, Any]:
    """The create_project spec for the new-project form: labels one per line (blank lines dropped); a numeric
    project's range and tolerance only where typed (the service reads numeric text and names a bad one).
    A pairwise project's labels are fixed (a, b and, with ties, tie): its labels box is ignored and its "ties
    allowed" and "random order" boxes set `ties` and `random_order`; they are ignored for other task types (the
    page hides them, and a box left ticked before switching type must not refuse the form over a field the user
    cannot see)."""
    overlap = values["overlap"].strip() or "1"
    if not re.fullmatch(r"[0-9]{1,9}", overlap):
        raise Invalid(f"overlap must be a whole number (how many people label each item), got {overlap[:40]!r}",
                      field="overlap")
    labels = [line.strip() for line in values["labels"].splitlines() if line.strip()]
    spec: dict[str, Any] = {"name": values["name"], "task_type": values["task_type"], "labels": labels,
                            "overlap": int(overlap), "guidelines": values["guidelines"]}
    bounds = {key: values.get(f"range_{key}", "").strip() for key in ("min", "max")}
    if any(bounds.values()):
        spec["range"] = {key: text for key, text in bounds.items() if text}
    if values.get("tolerance", "").strip():
        spec["tolerance"] = values["tolerance"].strip()
    if values["task_type"] == "pairwise":
        del spec["labels"]
        spec.update(ties=bool(values.get("ties")), random_order=bool(values.get("random_order")))
    return spec


def failed(state: FormState, exc: TruthlineError, fields: tuple[str, ...]) -> FormState:
    """`state` with the error shown next to the field it names (`labels[2]` -> labels), else above the form."""
    root = re.split(r"[.\[]", exc.field or "", maxsplit=1)[0]
    if root in fields:
        state.errors[root] = exc.message
    else:
        state.message = located(exc.message, exc.field if exc.field not in ("csrf", "file") else None, exc.line)
    if exc.details and (len(exc.details) > 1 or exc.details[0].line is not None):
        state.message = exc.message
        state.errors.pop(root, None)
        state.lines = [located(p.message, p.field, p.line) for p in exc.details[:MAX_BAD_LINES]]
        state.more_lines = len(exc.details) - len(state.lines)
    return state


def import_notice(created: int | None, updated: int | None, unchanged: int | None) -> str | None:
    """The manage page's line after an import (the counts come back in the redirect's query string)."""
    if created is None or updated is None or unchanged is None:
        return None
    return f"Imported: {created} created, {updated} updated, {unchanged} unchanged."
