"""Read an item-import request body into `(line_no, record)` pairs without trusting its size.

Three ways in: a JSON array (`application/json`), a multipart upload with a `file` part, or a raw file body
(`application/x-ndjson`, `text/csv`, `application/vnd.apache.parquet`, `application/octet-stream`).
Bytes are counted as they arrive and the upload is refused with 413 as soon as it passes
`settings.max_upload_bytes`; files go to a SpooledTemporaryFile (memory up to 1 MiB, then disk) and are
parsed by the import service's `read_records`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import PurePosixPath
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message

from truthline.errors import Invalid, TooLarge
from truthline.services import importing
from truthline.settings import Settings

from .errors import UnsupportedMediaType

SPOOL_MEMORY = 1 << 20
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers on top of the file itself
RAW_TYPES = {
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/octet-stream": None,
}
Records = Iterable[tuple[int, Any]]

OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Item records: a JSON array, a multipart `file` (.jsonl/.csv/.parquet), or a raw file body.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"upload is larger than the server's limit of {limit:,} bytes (setting max_upload_bytes / "
        "TRUTHLINE_MAX_UPLOAD_BYTES); split the file or raise the limit",
        field="file",
    )


def _check_declared_length(request: Request, allowed: int, limit: int) -> None:
    """Refuse before reading a byte when Content-Length already says too much."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > allowed:
        raise _too_large(limit)


async def _spool_body(request: Request, limit: int) -> BinaryIO:
    _check_declared_length(request, limit, limit)
    spool: Any = SpooledTemporaryFile(max_size=SPOOL_MEMORY)
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _json_records(raw: bytes, max_items: int) -> list[tuple[int, Any]]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise Invalid(f"body is not valid JSON ({exc}); send a JSON array of item records", field="body") from exc
    if not isinstance(data, list):
        raise Invalid("body must be a JSON array of item records, e.g. [{\"external_id\": \"a\", \"data\": {...}}]", field="body")
    if len(data) > max_items:
        raise TooLarge(
            f"{len(data):,} items in one request; the limit is {max_items:,} (setting max_batch_items): "
            "send several requests or upload a file",
            field="body",
        )
    return [(i, rec) for i, rec in enumerate(data, start=1)]


def _format_of(explicit: str | None, filename: str | None, content_type: str | None) -> str:
    """`?format=` wins, then the file name's suffix (the import service's rule), then a raw body's Content-Type."""
    if explicit:
        return explicit
    if filename and PurePosixPath(filename).suffix:
        return importing.format_for(filename)
    fmt = RAW_TYPES.get(content_type or "")
    if fmt is None:
        raise Invalid(
            f"cannot tell the file format of {filename or 'the upload'!r}: name it .jsonl, .csv or .parquet, "
            "or pass ?format=jsonl|csv|parquet",
            field="format",
        )
    return fmt


async def multipart_file(request: Request, limit: int) -> tuple[UploadFile, Any]:
    """Parse the multipart body with a byte-counting receive; returns the `file` part and the form to close."""
    _check_declared_length(request, limit + MULTIPART_SLACK, limit)
    seen = 0
    inner = request.receive

    async def counting_receive() -> Message:
        nonlocal seen
        message = await inner()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit + MULTIPART_SLACK:
                raise _too_large(limit)
        return message

    counted = Request(request.scope, counting_receive)
    try:
        form = await counted.form(max_files=1, max_fields=10)
    except HTTPException as exc:  # malformed multipart: Starlette says 400; name the part instead
        raise Invalid(f"malformed multipart upload: {exc.detail}", field="file") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise Invalid("multipart upload needs a file part named `file`", field="file")
    if upload.size is not None and upload.size > limit:
        await form.close()
        raise _too_large(limit)
    return upload, form


@asynccontextmanager
async def import_records(request: Request, settings: Settings, fmt: str | None) -> AsyncIterator[Records]:
    """Yield the records of an import request; temporary files are removed on exit."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    limit = settings.max_upload_bytes
    if content_type == "application/json" and fmt in (None, "json"):
        spool = await _spool_body(request, limit)
        try:
            # Parsing a large array takes a while: keep it off the event loop.
            yield await run_in_threadpool(lambda: _json_records(spool.read(), settings.max_batch_items))
        finally:
            spool.close()
    elif content_type == "multipart/form-data":
        upload, form = await multipart_file(request, limit)
        try:
            yield importing.read_records(upload.file, _format_of(fmt, upload.filename, upload.content_type))
        finally:
            await form.close()
    elif content_type in RAW_TYPES or (content_type == "application/json" and fmt):
        chosen = _format_of(fmt, None, content_type)
        spool = await _spool_body(request, limit)
        try:
            yield importing.read_records(spool, chosen)
        finally:
            spool.close()
    else:
        raise UnsupportedMediaType(
            f"cannot import a {content_type or 'body without a Content-Type'}: send application/json (an array of "
            "records), multipart/form-data with a `file` part, or a raw application/x-ndjson, text/csv or "
            "application/vnd.apache.parquet body",
            field="Content-Type",
        )
