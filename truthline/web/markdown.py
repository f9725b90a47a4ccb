"""Render project guidelines (Markdown) to safe HTML.

Raw HTML in the source is escaped (html=False) and markdown-it's link validator drops `javascript:`
and similar URLs, so a manager's guidelines cannot inject script into annotators' pages.
markdown-it-py ships with rich, already a dependency.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """HTML for `text`, safe to insert into a template unescaped."""
    return Markup(_md.render(text or ""))
