"""Plain records the store returns and the services hand out (no ORM, no HTTP)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str  # admin | member
    active: bool = True
    created_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "role": self.role, "active": self.active}


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    task_type: str
    labels: list[str]
    guidelines: str
    overlap: int
    pay_cents: int
    status: str  # active | paused | archived
    lease_seconds: int
    config: dict[str, Any] = field(default_factory=dict)  # whole task-type config (labels, guidelines, ...)
    created_by: int | None = None
    created_at: float = 0.0
    items_version: int = 0  # internal: changes when an import rewrites existing items

    @property
    def scale(self) -> dict[str, Any] | None:
        """A rating project's scale {min, max, step} (its values are the labels); None for other types."""
        return self.config.get("scale")

    @property
    def tolerance(self) -> int | float | None:
        """A numeric project's tolerance (how far from gold an answer still counts as right); None otherwise."""
        return self.config.get("tolerance")

    @property
    def range(self) -> dict[str, Any] | None:
        """A numeric project's bounds on answers {min, max} (null: unbounded on that side); None for other types."""
        if self.tolerance is None:
            return None
        bounds = self.config.get("range") or {}
        return {"min": bounds.get("min"), "max": bounds.get("max")}

    @property
    def ties(self) -> bool | None:
        """A pairwise project's choice of "tie" beside "a" and "b"; None for other types."""
        return self.config.get("ties")

    @property
    def random_order(self) -> bool | None:
        """A pairwise project's candidates shown in an order drawn per lease (default; projects made before the
        option have it too); None for other types."""
        return None if self.ties is None else self.config.get("random_order", True) is not False

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("config")
        out.pop("items_version")
        if self.scale is not None:
            out["scale"] = self.scale
        if self.tolerance is not None:
            out.update(range=self.range, tolerance=self.tolerance)
        if self.ties is not None:
            out.update(ties=self.ties, random_order=self.random_order)
        out["created_at"] = to_datetime(self.created_at).isoformat()
        return out


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    role: str  # manager | annotator | reviewer

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    """A leased item as an annotator sees it: never gold, truth or other people's labels."""

    lease_id: int
    item_id: int
    external_id: str
    data: dict[str, Any]
    expires_at: datetime
    project: Project

    def as_dict(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "item": {"id": self.item_id, "external_id": self.external_id, "data": self.data},
            "expires_at": self.expires_at.isoformat(),
            "project_id": self.project.id,
            "task_type": self.project.task_type,
            "labels": list(self.project.labels),
        }


@dataclass(frozen=True)
class Annotation:
    id: int
    project_id: int
    item_id: int
    user_id: int
    lease_id: int | None
    answer: Any
    active_ms: int
    idempotency_key: str
    created_at: datetime
    replayed: bool = False  # True when a retried submit returned the stored annotation (API: 200, not 201)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
