"""Start a real `uvicorn` server process on 127.0.0.1 for benchmarks (separate process: its own GIL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_process(db_url: str, timeout: float = 30.0, workers: int = 1,
                    env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `uvicorn truthline.api.app:create_app --factory` on a free port (extra environment: `env`);
    yields the base URL."""
    port = free_port()
    env = {**os.environ, "TRUTHLINE_DB": db_url, **(env or {})}
    cmd = [
        sys.executable, "-m", "uvicorn", "truthline.api.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
    ]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode}")
            try:
                httpx.get(url + "/api/v1/openapi.json", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start in time") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
