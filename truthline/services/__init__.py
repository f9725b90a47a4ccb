"""Use cases composing tasktypes, quality, routing and store. Every function takes the engine and the
acting user and authorizes itself, so the API, the web pages and the CLI share one set of rules."""

from truthline.store.records import Annotation, ImportReport, Member, Project, Task, User

__all__ = ["Annotation", "ImportReport", "Member", "Project", "Task", "User"]
