"""Checks for strings that no database can store: NUL characters (PostgreSQL text refuses them) and
lone UTF-16 surrogates (valid in JSON escapes, not encodable as UTF-8)."""

from __future__ import annotations

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
