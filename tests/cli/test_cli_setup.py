"""`truthline db upgrade`, `serve` (refusing an unmigrated database), `init`, `demo`, `--as`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from truthline.services import users
from truthline.store.db import current_revision, head_revision, make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)


def test_db_upgrade_creates_the_schema_and_is_repeatable(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    for _ in range(2):
        result = cli("db", "upgrade", "--db", url)
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_serve_refuses_an_unmigrated_database_and_names_the_fix(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli("serve", "--db", url, "--port", "1")
    assert result.exit_code == 1
    assert "truthline db upgrade" in result.stderr and "Traceback" not in result.output


def test_commands_on_an_unmigrated_database_say_what_to_run(cli: Cli, tmp_path: Path) -> None:
    result = cli("project", "list", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.exit_code == 1 and "truthline db upgrade" in result.stderr
    assert not (tmp_path / "empty.db").exists()  # a mistyped --db leaves no empty database behind


def test_a_file_that_is_not_a_database_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("hello\n")
    for args in (("project", "list"), ("db", "upgrade")):
        result = cli(*args, db=f"sqlite:///{junk}")
        assert result.exit_code == 1 and "not a database" in result.stderr, result.output
    assert junk.read_text() == "hello\n"


def test_a_database_from_a_newer_truthline_is_refused_not_downgraded(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    assert cli("db", "upgrade", "--db", url).exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    for args in (("project", "list"), ("db", "upgrade")):
        result = cli(*args, db=url)
        assert result.exit_code == 1 and "newer Truthline" in result.stderr and "9999_future" in result.stderr, result.output


def test_serve_refuses_a_port_out_of_range(cli: Cli, db_url: str) -> None:
    for port in ("70000", "0", "-1"):
        result = cli("serve", "--port", port, db=db_url)
        assert result.exit_code == 2 and "--port" in result.output, result.output


def test_db_in_a_missing_directory_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'nope' / 'x.db'}")
    assert result.exit_code == 2 and "--db" in result.stderr and "does not exist" in result.stderr


def test_init_creates_the_first_admin_once_and_prints_a_working_token(cli: Cli, db_url: str) -> None:
    result = cli("init", "--username", "root", db=db_url, input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    engine = make_engine(db_url)
    assert users.user_for_token(engine, token).username == "root"
    engine.dispose()
    again = cli("init", "--username", "other", "--password", "another-pass", db=db_url)
    assert again.exit_code == 1 and "already exists (root)" in again.stderr


def test_init_rejects_a_short_password_naming_the_field(cli: Cli, db_url: str) -> None:
    result = cli("init", "--password", "short", db=db_url)
    assert result.exit_code == 2 and "password" in result.stderr and "8 to 1000 characters" in result.stderr


def test_commands_before_init_say_to_run_init(cli: Cli, db_url: str) -> None:
    result = cli("project", "list", db=db_url)
    assert result.exit_code == 1 and "truthline init" in result.stderr


def test_as_selects_the_acting_user(cli: Cli, seeded: dict) -> None:
    ok = cli("--as", "admin", "project", "list", db=seeded["db"])
    assert ok.exit_code == 0 and "Pets" in ok.stdout
    missing = cli("--as", "nobody", "project", "list", db=seeded["db"])
    assert missing.exit_code == 2 and "nobody" in missing.stderr  # a name given on the command line: bad input


def test_demo_seeds_idempotently_without_serving(cli: Cli, db_url: str) -> None:
    first = cli("demo", "--no-serve", "--items", "30", "--db", db_url)
    assert first.exit_code == 0, first.output
    assert "75 simulated labels" in first.stdout  # 85% of 30 digits x overlap 3
    for login in ("admin / admin-demo", "manager / manager-demo", "annotator / annotator-demo"):
        assert login in first.stdout
    text = " ".join(first.stdout.split())  # Rich wraps long lines at the terminal's width
    assert f"Serve it with `truthline serve --db {db_url}`, then open http://127.0.0.1:8000/" in text
    # the demo's point, stated where it is run: how the methods score against the digits' hidden truth
    assert re.search(r"Accuracy against truth \(\d+ items\): auto [01]\.\d{3}, Dawid-Skene [01]\.\d{3}, "
                     r"majority vote [01]\.\d{3}", text), text
    second = cli("demo", "--no-serve", "--items", "30", "--db", db_url)
    assert second.exit_code == 0 and "simulated labels" not in second.stdout
    listing = cli("project", "list", db=db_url)
    assert listing.stdout.count("Handwritten") == 1


def test_unusable_database_urls_are_bad_input(cli: Cli) -> None:
    for url in ("mysql://me@db/x", "sqlite:///", "not a url"):
        result = cli("project", "list", db=url)
        assert result.exit_code == 2 and "--db" in result.stderr, (url, result.output)


def test_unreachable_postgres_is_a_clear_error(cli: Cli) -> None:
    result = cli("project", "list", db="postgresql+psycopg://nobody@127.0.0.1:9/x")
    assert result.exit_code == 1 and "cannot use the database" in result.stderr


@contextmanager
def _serve(db_url: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    """`truthline serve` as a real process on a free 127.0.0.1 port, once it answers: yields (base URL, the
    process, a list that holds its stdout after it was stopped with SIGTERM)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "truthline.cli", "serve", "--db", db_url, "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url, output = f"http://127.0.0.1:{port}", []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        yield url, proc, output
    finally:
        proc.terminate()
        output.append(proc.communicate(timeout=30)[0])


def test_serve_serves_the_api_on_a_migrated_database(db_url: str) -> None:
    """`truthline serve` as a real process: it answers on 127.0.0.1, then stops cleanly on SIGTERM."""
    with _serve(db_url) as (url, _, output):
        response = httpx.get(f"{url}/api/v1/openapi.json", timeout=5)
        assert response.status_code == 200 and "/api/v1/projects" in response.json()["paths"]
    assert f"{url}/" in output[0]


def test_serve_with_two_workers_shares_the_work_and_loses_no_label(
    db_url: str, project: Any, add_items: Any, make_annotator: Any, count_rows: Any,
) -> None:
    """`serve --workers 2`: two server processes on one port; concurrent annotators through both get every
    item labelled exactly once (overlap 1), with no error and no lost or doubled write."""
    from truthline.client import Client

    add_items(project, 120)
    people = [make_annotator(project) for _ in range(4)]
    with _serve(db_url, "--workers", "2") as (url, proc, output):
        # uvicorn's supervisor has spawned the two worker processes
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert sum("spawn_main" in Path(f"/proc/{c}/cmdline").read_text() for c in children) == 2
        done: list[int] = []
        errors: list[BaseException] = []

        def work(token: str) -> None:
            try:
                with Client(url, token) as c:
                    while (task := c.next_task(project.id)) is not None:
                        c.submit(task["lease_id"], "cat", active_ms=500)
                        done.append(1)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(p.token,)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert len(done) == 120 and count_rows("annotations")["annotations"] == 120
    assert "with 2 worker processes" in output[0]
