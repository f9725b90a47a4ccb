"""An in-process HTTP transport for the API and web tests: no sockets, no TestClient."""

from __future__ import annotations

from typing import Any

import httpx
from anyio.from_thread import BlockingPortal


class PortalTransport(httpx.BaseTransport):
    """Synchronous transport that runs the ASGI app on a portal's event loop."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            request.read()  # a sync generator body: buffer it (headers stay chunked, no Content-Length)

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return self._portal.call(send)
