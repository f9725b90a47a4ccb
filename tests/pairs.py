"""Answering pairwise tasks as a person would: by what the candidates say, wherever the lease shows them."""

from __future__ import annotations

from typing import Any

_FIRST = ("a", "a_image_url")


def swapped(item: dict[str, Any], shown: dict[str, Any]) -> bool:
    """Whether a task's data `shown` puts the item's B candidate first (a project in random order)."""
    return tuple(shown.get(k) for k in _FIRST) != tuple(item.get(k) for k in _FIRST)


def press(answer: str, item: dict[str, Any], shown: dict[str, Any]) -> str:
    """What an annotator answers on a task showing `shown` to mean `answer` about `item` (its own a/b)."""
    if answer in ("a", "b") and swapped(item, shown):
        return "b" if answer == "a" else "a"
    return answer
