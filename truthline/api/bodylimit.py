"""Cap request bodies outside item imports, answering 413 in the one error shape.

FastAPI reads JSON bodies whole into memory, so without a cap one request could hold gigabytes. Imports are
exempt: they stream to disk and enforce settings.max_upload_bytes themselves (uploads.py). Starlette's own
body-limit middleware is not used because it replaces our JSON error with a plain-text 413.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from truthline.errors import TooLarge

from .errors import error_payload
from .responses import SafeJSONResponse

class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt: re.Pattern[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    def _error(self) -> TooLarge:
        return TooLarge(f"request body is larger than {self.max_bytes:,} bytes; send less per request", field="body")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            exc = self._error()
            response = SafeJSONResponse(error_payload(exc.code, exc.message, exc.field), status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # chunked upload without Content-Length
                    raise self._error()  # FastAPI wraps it in a 400; errors.py unwraps it into this 413
            return message

        await self.app(scope, counted, send)
