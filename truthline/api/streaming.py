"""Turn a blocking `write(out: BinaryIO)` function (the export service) into an async byte stream.

The writer runs in its own thread and hands 64 KiB chunks through a small bounded queue, so memory stays
flat however large the export, and a slow client slows the writer instead of growing a buffer. Errors raised
before the first chunk (not found, forbidden, bad method) are re-raised to the caller so they become a normal
JSON error response instead of a broken 200. If the client goes away, the writer is stopped at its next write.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("truthline.api")

CHUNK = 64 * 1024
_END = object()


class _Aborted(Exception):
    """The reader went away; unwinds the writer thread."""


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Pipe(io.RawIOBase):
    """A write-only file object feeding the queue in CHUNK-sized pieces."""

    def __init__(self, put: Callable[[Any], None]) -> None:
        super().__init__()
        self._put = put
        self._buf = bytearray()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buf += view
        self._pos += len(view)
        while len(self._buf) >= CHUNK:
            self._put(bytes(self._buf[:CHUNK]))
            del self._buf[:CHUNK]
        return len(view)

    def tell(self) -> int:
        return self._pos

    def drain(self) -> None:
        if self._buf:
            self._put(bytes(self._buf))
            self._buf.clear()


class ByteStream:
    """Run `write(out)` in a thread; iterate the bytes it writes."""

    def __init__(self, write: Callable[[BinaryIO], None], depth: int = 8) -> None:
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="truthline-export", daemon=True)

    def _put(self, item: Any) -> None:
        while True:
            if self._stop.is_set():
                raise _Aborted()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        pipe = _Pipe(self._put)
        try:
            self._write(pipe)  # type: ignore[arg-type]
            pipe.drain()
            self._put(_END)
        except _Aborted:
            return
        except BaseException as exc:  # handed to the reader, which re-raises or logs it
            try:
                self._put(_Failed(exc))
            except _Aborted:
                return

    async def _next(self) -> Any:
        return await run_in_threadpool(self._queue.get)

    async def start(self) -> AsyncIterator[bytes]:
        """Start writing and wait for the first chunk (raising the writer's early error); then stream."""
        self._thread.start()
        first = await self._next()
        if isinstance(first, _Failed):
            self._stop.set()
            raise first.exc
        return self._rest(first)

    async def _rest(self, first: Any) -> AsyncIterator[bytes]:
        item = first
        try:
            while item is not _END:
                if isinstance(item, _Failed):
                    # Headers are gone already: all we can do is end the body early and log why.
                    log.error("export failed mid-stream", exc_info=item.exc)
                    return
                yield item
                item = await self._next()
        finally:
            self._stop.set()
