"""Item import over HTTP: JSON arrays, multipart and raw JSONL/CSV/Parquet files, limits, all-or-nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"external_id": f"t{i}", "data": {"text": f"text {i}"}} for i in range(start, start + n)]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_json_array_import_is_idempotent(manager: Any, world: Any) -> None:
    url = f"/projects/{world.project_id}/items"
    assert manager.post(url, json=records(3)).json() == {"created": 3, "updated": 0, "unchanged": 0}
    again = records(3)
    again[0]["data"] = {"text": "changed"}
    assert manager.post(url, json=again).json() == {"created": 0, "updated": 1, "unchanged": 2}


def test_file_uploads(manager: Any, world: Any) -> None:
    url = f"/projects/{world.project_id}/items"
    r = manager.post(url, files={"file": ("a.jsonl", jsonl(records(2)))})
    assert r.status_code == 200 and r.json()["created"] == 2
    csv_body = b"external_id,text\nc1,hello\nc2,world\n"
    assert manager.post(url, files={"file": ("b.csv", csv_body)}).json()["created"] == 2
    assert manager.post(url, files={"file": ("noext", jsonl(records(1, 10)))}, params={"format": "jsonl"}).json()["created"] == 1
    # raw bodies (what the SDK can stream without multipart)
    r = manager.post(url, content=jsonl(records(2, 20)), headers={"Content-Type": "application/x-ndjson"})
    assert r.json()["created"] == 2
    r = manager.post(url, content=b"external_id,text\nc3,x\n", headers={"Content-Type": "text/csv"})
    assert r.json()["created"] == 1
    buf = io.BytesIO()
    pq.write_table(pa.table({"external_id": ["p1", "p2"], "text": ["a", "b"]}), buf)
    assert manager.post(url, files={"file": ("c.parquet", buf.getvalue())}).json()["created"] == 2


def test_bad_lines_are_all_reported_and_nothing_is_imported(manager: Any, world: Any, assert_error: Any) -> None:
    url = f"/projects/{world.project_id}/items"
    body = jsonl(records(2)) + b"{not json\n" + jsonl(records(1, 5)) + b'{"external_id": "t0", "data": {"text": "dup"}}\n'
    err = assert_error(manager.post(url, files={"file": ("bad.jsonl", body)}), 422)
    lines = {d["line"] for d in err["details"]} | {err["line"]}
    assert 3 in lines and 5 in lines, err  # the malformed line and the duplicate external id
    assert manager.post(url, json=records(1)).json()["created"] == 1  # nothing from the bad batch landed


def test_limits(manager: Any, world: Any, api_settings: Any, assert_error: Any) -> None:
    SMALL_BATCH, SMALL_UPLOAD = api_settings.max_batch_items, api_settings.max_upload_bytes
    url = f"/projects/{world.project_id}/items"
    err = assert_error(manager.post(url, json=records(SMALL_BATCH + 1)), 413, field="body")
    assert str(SMALL_BATCH) in err["message"]
    big = jsonl(records(SMALL_UPLOAD // 40 + 10))
    assert len(big) > SMALL_UPLOAD
    err = assert_error(manager.post(url, files={"file": ("big.jsonl", big)}), 413, field="file")
    assert f"{SMALL_UPLOAD:,}" in err["message"]
    assert_error(manager.post(url, content=big, headers={"Content-Type": "application/x-ndjson"}), 413)

    def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    assert_error(manager.post(url, content=chunks(), headers={"Content-Type": "application/x-ndjson"}), 413)
    assert manager.post(url, json=records(1)).json()["created"] == 1


def test_who_may_import(ann: Any, outsider: Any, world: Any, assert_error: Any) -> None:
    url = f"/projects/{world.project_id}/items"
    assert_error(ann.post(url, json=records(1)), 403)
    assert_error(outsider.post(url, json=records(1)), 404, field="project_id")
    # refused before the body is read: a bad or huge body from an annotator is a 403, not a 422 or 413
    bad = b"{not json" + b" " * 3_000_000
    assert_error(ann.post(url, content=bad, headers={"Content-Type": "application/json"}), 403)
    assert_error(ann.post(url, content=bad, headers={"Content-Type": "application/x-ndjson"}), 403)


def test_an_upload_cut_off_by_the_client_is_no_crash(app: Any, world: Any, portal: Any, count_rows: Any) -> None:
    """A client that drops the connection mid-upload made a 500 and two tracebacks in the log."""
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b'--B\r\nContent-Disposition: form-data; name="file"; '
                                              b'filename="a.jsonl"\r\n\r\n{"external_id": "a", ', "more_body": True},
              {"type": "http.disconnect"}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {world.manager_token}".encode()), (b"content-length", b"1000"),
               (b"content-type", b"multipart/form-data; boundary=B")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"/api/v1/projects/{world.project_id}/items", "raw_path": b"", "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    portal.call(app, scope, receive, send)  # raises if the exception escapes the app
    assert sent[0]["status"] == 400
    assert count_rows("items") == {"items": 0}
