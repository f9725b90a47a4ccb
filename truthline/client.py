"""Python SDK over Truthline's REST API (`/api/v1`), built on httpx.

    from truthline.client import Client
    with Client("http://127.0.0.1:8000", token="...") as tl:
        project = tl.create_project({"name": "Digits", "task_type": "classification", "labels": ["0", "1"]})
        tl.import_items(project["id"], [{"external_id": "a", "data": {"text": "hello"}}])
        task = tl.next_task(project["id"])          # None when nothing is left
        tl.submit(task["lease_id"], "1", active_ms=1200)

Every non-2xx answer raises `TruthlineAPIError`, which carries the server's JSON error shape
(`code`, `message`, `field`, `line`, `details`) and the HTTP status. When no answer arrives (server down,
connection cut mid-export, timeout) httpx's own `httpx.TransportError` subclasses propagate: retry those,
not TruthlineAPIError. `export(project, out)` may then have written part of the stream.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from truthline.errors import described

__all__ = ["Client", "TruthlineAPIError"]

API_PREFIX = "/api/v1"
_UPLOAD_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
}


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    return {"ndjson": "jsonl"}.get(suffix, suffix or "jsonl")


class TruthlineAPIError(Exception):
    """A 4xx/5xx answer from the server, with its JSON error body unpacked."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        field: str | None = None,
        line: int | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.details = details or []
        super().__init__(str(self))

    def __str__(self) -> str:
        details = [(str(d.get("message", "")), d.get("field"), d.get("line")) for d in self.details]
        return f"{self.status_code} {self.code}: " + described(self.message, self.field, self.line, details)

    @classmethod
    def from_response(cls, response: httpx.Response) -> TruthlineAPIError:
        try:
            err = response.json()["error"]
            return cls(
                response.status_code,
                str(err.get("code", "error")),
                str(err.get("message", "")),
                err.get("field"),
                err.get("line"),
                list(err.get("details") or []),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            # Not our error shape (a proxy in between, or a crash): keep the raw text.
            return cls(response.status_code, "http_error", response.text[:500] or response.reason_phrase)


class Client:
    """A session with one Truthline server as one user (bearer token). Thread-safe for concurrent calls."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    # -- plumbing -------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise TruthlineAPIError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def set_token(self, token: str) -> None:
        self._http.headers["Authorization"] = f"Bearer {token}"

    # -- auth and users -------------------------------------------------------------------------
    def login(self, username: str, password: str) -> str:
        """Exchange a username and password for a token; this client uses it from now on."""
        token = str(self._json("POST", "/auth/login", json={"username": username, "password": password})["token"])
        self.set_token(token)
        return token

    def logout(self) -> None:
        """Revoke the token this client uses (it stops working at once)."""
        self._request("POST", "/auth/logout")

    def me(self) -> dict[str, Any]:
        return dict(self._json("GET", "/me"))

    def create_user(self, username: str, password: str, role: str = "member") -> dict[str, Any]:
        return dict(self._json("POST", "/users", json={"username": username, "password": password, "role": role}))

    def list_users(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/users"))

    def update_user(self, username: str, *, active: bool | None = None, role: str | None = None,
                    password: str | None = None) -> dict[str, Any]:
        """Deactivate/reactivate, change role or set a password (admins); ends the user's tokens where it
        deactivates, demotes or sets a password (`tokens_revoked` says how many)."""
        changes = {k: v for k, v in (("active", active), ("role", role), ("password", password)) if v is not None}
        return dict(self._json("PATCH", f"/users/{quote(username, safe='')}", json=changes))

    def revoke_tokens(self, username: str) -> int:
        """End every session and API token of `username` (admins; anyone for themselves)."""
        return int(self._json("DELETE", f"/users/{quote(username, safe='')}/tokens")["tokens_revoked"])

    def change_password(self, current: str, new: str) -> int:
        """Change your own password; every other session and token of yours ends (this client's stays)."""
        body = {"current_password": current, "new_password": new}
        return int(self._json("POST", "/me/password", json=body)["tokens_revoked"])

    def create_token(self, name: str = "api") -> str:
        return str(self._json("POST", "/tokens", json={"name": name})["token"])

    # -- projects and members -------------------------------------------------------------------
    def list_projects(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/projects")["projects"])

    def create_project(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._json("POST", "/projects", json=dict(spec)))

    def get_project(self, project_id: int) -> dict[str, Any]:
        return dict(self._json("GET", f"/projects/{project_id}"))

    def update_project(self, project_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._json("PATCH", f"/projects/{project_id}", json=dict(changes)))

    def list_members(self, project_id: int) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/projects/{project_id}/members")["members"])

    def add_member(self, project_id: int, username: str, role: str = "annotator") -> dict[str, Any]:
        return dict(self._json("POST", f"/projects/{project_id}/members", json={"username": username, "role": role}))

    def remove_member(self, project_id: int, username: str) -> None:
        """Take `username` off the project: their labels stay, their live leases can no longer be submitted."""
        self._request("DELETE", f"/projects/{project_id}/members/{quote(username, safe='')}")

    # -- items ----------------------------------------------------------------------------------
    def import_items(self, project_id: int, records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Import item records sent as one JSON array (all-or-nothing)."""
        return dict(self._json("POST", f"/projects/{project_id}/items", json=[dict(r) for r in records]))

    def upload_items(
        self, project_id: int, file: str | Path | BinaryIO, fmt: str | None = None
    ) -> dict[str, int]:
        """Stream a .jsonl/.csv/.parquet file as the raw request body (the suffix names the format)."""
        if isinstance(file, (str, Path)):
            path = Path(file)
            with path.open("rb") as fh:
                return self.upload_items(project_id, fh, fmt or _format_of(path.name))
        fmt = fmt or _format_of(str(getattr(file, "name", "items.jsonl")))
        headers = {"Content-Type": _UPLOAD_TYPES.get(fmt, "application/octet-stream")}
        return dict(
            self._json("POST", f"/projects/{project_id}/items", params={"format": fmt}, content=file, headers=headers)
        )

    # -- labeling -------------------------------------------------------------------------------
    def next_task(self, project_id: int) -> dict[str, Any] | None:
        """Lease the next item to label, or None when the project has nothing left for this user."""
        response = self._request("POST", f"/projects/{project_id}/next")
        return None if response.status_code == 204 else dict(response.json())

    def submit(
        self, lease_id: int | str, answer: Any, active_ms: int = 0, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit an answer; retrying with the same `idempotency_key` never records a second annotation."""
        key = idempotency_key or uuid.uuid4().hex
        body = {"answer": answer, "active_ms": int(active_ms), "idempotency_key": key}
        return dict(self._json("POST", f"/leases/{lease_id}/submit", json=body, headers={"Idempotency-Key": key}))

    def skip(self, lease_id: int | str) -> dict[str, Any]:
        """Decline the item: it is never offered to this user again."""
        response = self._request("POST", f"/leases/{lease_id}/skip")
        return dict(response.json()) if response.content else {}

    def renew(self, lease_id: int | str) -> dict[str, Any]:
        """Give your live lease its full length again (still working on the item): {lease_id, expires_at, expires_in}."""
        return dict(self._json("POST", f"/leases/{lease_id}/renew"))

    def release(self, lease_id: int | str) -> dict[str, Any]:
        """Hand a live lease back unanswered (no skip recorded; the item may come back later)."""
        response = self._request("POST", f"/leases/{lease_id}/release")
        return dict(response.json()) if response.content else {}

    # -- results --------------------------------------------------------------------------------
    def results(self, project_id: int, method: str = "auto", probabilities: bool = False) -> list[dict[str, Any]]:
        """Each item's answer, confidence and label count; probabilities adds {label: probability}."""
        params = {"method": method, "probabilities": probabilities}  # httpx sends true/false
        data = self._json("GET", f"/projects/{project_id}/results", params=params)
        return list(data["results"])  # the body is {"project_id", "method", "results": [...]}

    def workers(self, project_id: int, method: str = "auto") -> list[dict[str, Any]]:
        """Each worker's label count, accuracy with its credible interval (lower, upper), spammer score,
        gold record and mean active time: quality()'s table without the agreement metrics."""
        return list(self._json("GET", f"/projects/{project_id}/workers", params={"method": method})["workers"])

    def quality(self, project_id: int, method: str = "auto") -> dict[str, Any]:
        """Krippendorff's alpha, Fleiss' kappa, each worker's accuracy interval and spammer score, and
        (for auto) the models it blended."""
        return dict(self._json("GET", f"/projects/{project_id}/quality", params={"method": method}))

    def summary(self, project_id: int) -> dict[str, Any]:
        return dict(self._json("GET", f"/projects/{project_id}/summary"))

    def ranking(self, project_id: int, method: str = "auto") -> dict[str, Any]:
        """A pairwise project's models (its items' a_id and b_id), best first: Bradley-Terry score, its 95%
        interval (lower, upper), comparisons, wins, losses and ties."""
        return dict(self._json("GET", f"/projects/{project_id}/ranking", params={"method": method}))

    def head_to_head(self, project_id: int, method: str = "auto", top: int = 10) -> dict[str, Any]:
        """A pairwise project's best `top` sides (1 to 50), best first, each with every other one's predicted win
        probability, its interval, `better` (True/False: significantly better/worse, None: undecided) and their
        direct record (items, wins, losses, ties)."""
        return dict(self._json("GET", f"/projects/{project_id}/ranking/head-to-head",
                               params={"method": method, "top": top}))

    def export_chunks(self, project_id: int, fmt: str = "jsonl", method: str = "auto",
                      probabilities: bool = False) -> Iterator[bytes]:
        """Stream an export (jsonl, csv or parquet; a pairwise project's also preferences: chosen/rejected
        pairs) chunk by chunk, with flat memory; probabilities adds each label's probability per item."""
        params = {"format": fmt, "method": method, "probabilities": probabilities}
        with self._http.stream("GET", f"/projects/{project_id}/export", params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise TruthlineAPIError.from_response(response)
            yield from response.iter_bytes()

    def export(self, project_id: int, out: BinaryIO, fmt: str = "jsonl", method: str = "auto",
               probabilities: bool = False) -> int:
        """Write an export to the binary stream `out`; returns the number of bytes written."""
        written = 0
        for chunk in self.export_chunks(project_id, fmt, method, probabilities):
            out.write(chunk)
            written += len(chunk)
        return written
