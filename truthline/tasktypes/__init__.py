"""Task-type registry. Built-ins: classification, multilabel, rating, numeric, pairwise. Add one: subclass
`TaskType` in a new module and call `register(MyType())` (the module must be imported, e.g. from here)."""

from __future__ import annotations

from truthline.errors import Invalid
from truthline.tasktypes.base import Inference, Labels, TaskType

_REGISTRY: dict[str, TaskType] = {}


def register(task_type: TaskType) -> TaskType:
    """Make a task type available to projects under `task_type.name`."""
    _REGISTRY[task_type.name] = task_type
    return task_type


def get_task_type(name: str) -> TaskType:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise Invalid(f"unknown task type {name!r}; known: {', '.join(sorted(_REGISTRY))}", field="task_type") from None


def task_type_names() -> list[str]:
    return sorted(_REGISTRY)


from truthline.tasktypes.classification import Classification  # noqa: E402
from truthline.tasktypes.multilabel import Multilabel  # noqa: E402
from truthline.tasktypes.numeric import Numeric  # noqa: E402
from truthline.tasktypes.pairwise import Pairwise  # noqa: E402
from truthline.tasktypes.rating import Rating  # noqa: E402

register(Classification())
register(Multilabel())
register(Rating())
register(Numeric())
register(Pairwise())

__all__ = ["Inference", "Labels", "TaskType", "get_task_type", "register", "task_type_names"]
