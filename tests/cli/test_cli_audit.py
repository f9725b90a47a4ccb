"""Bad input the CLI audit found: each is one clear line and exit code 2 (1 for an unreachable server), before
any work is done, and nothing is left behind (no empty database, no half-made accounts, no wrong file)."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from truthline.api.app import create_app
from truthline.cli.serving import background_server
from truthline.settings import Settings
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)


def one_line_error(result: Any, code: int = 2) -> str:
    """The command failed with `code` and a single "Error: ..." line, no traceback; returns that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A 127.0.0.1 port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# 1, 13: the --db URL


@pytest.mark.parametrize("via_env", [False, True])
def test_db_url_with_a_non_numeric_port_is_bad_input(cli: Cli, monkeypatch: pytest.MonkeyPatch, via_env: bool) -> None:
    url = "postgresql+psycopg://u@127.0.0.1:notaport/db"
    if via_env:
        monkeypatch.setenv("TRUTHLINE_DB", url)
    result = cli("project", "list", db=None if via_env else url)
    assert "--db" in one_line_error(result) and "port" in result.stderr


def test_an_empty_db_is_refused_not_the_default(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["--db", "", "project", "list"], ["project", "list", "--db", ""], ["db", "upgrade", "--db", ""]):
        assert "--db" in one_line_error(cli(*args)) and "empty" in cli(*args).stderr, args
    assert not (tmp_path / "truthline.db").exists()


# 2: TRUTHLINE_* settings


@pytest.mark.parametrize(("var", "value"), [("TRUTHLINE_PORT", "abc"), ("TRUTHLINE_SECURE_COOKIES", "maybe"),
                                            ("TRUTHLINE_LEASE_SECONDS", "abc")])
def test_an_invalid_setting_is_one_line_naming_it(cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    line = one_line_error(cli("project", "list", db=db_url))
    assert line.startswith(f"Error: {var}: ") and repr(value) in line


def test_demo_with_an_invalid_setting_seeds_nothing(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUTHLINE_PORT", "abc")
    db = tmp_path / "demo.db"
    assert "TRUTHLINE_PORT" in one_line_error(cli("demo", "--no-serve", "--items", "5", "--db", f"sqlite:///{db}"))
    assert not db.exists()


# 3, 4: serve and demo


def test_serve_runs_the_database_checks_first(cli: Cli, tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    result = cli("serve", "--db", f"sqlite:///{typo}")
    assert result.exit_code == 1 and "truthline db upgrade" in result.stderr and "Serving" not in result.output
    assert not typo.exists()
    for url in ("mysql://u@h/db", "postgresql+asyncpg://u@h/db", "sqlite://"):
        line = one_line_error(cli("serve", "--db", url))
        assert "--db" in line and "db upgrade" not in line, url


def test_serve_on_a_port_in_use_says_so_before_serving(cli: Cli, db_url: str, listening_port: int) -> None:
    result = cli("serve", "--db", db_url, "--port", listening_port)
    assert one_line_error(result) == f"Error: port {listening_port} is in use; pick another --port"
    assert "Serving" not in result.stdout


def test_serve_on_a_bad_host_says_so_before_serving(cli: Cli, db_url: str) -> None:
    result = cli("serve", "--db", db_url, "--host", "999.1.1.1")
    assert "--host" in one_line_error(result) and "999.1.1.1" in result.stderr and "Serving" not in result.stdout


def test_demo_on_a_port_in_use_fails_before_seeding(cli: Cli, tmp_path: Path, listening_port: int) -> None:
    db = tmp_path / "demo.db"
    result = cli("demo", "--items", "5", "--port", listening_port, "--db", f"sqlite:///{db}")
    assert "in use" in one_line_error(result) and not db.exists()


# 5, 15: numeric options


@pytest.mark.parametrize(("command", "limit"), [("aggregate", "-1"), ("workers", "-2")])
def test_a_negative_limit_is_refused(cli: Cli, seeded: dict, command: str, limit: str) -> None:
    assert "--limit must be 0 (all rows) or more" in one_line_error(cli(command, "Pets", "--limit", limit,
                                                                        db=seeded["db"]))


@pytest.mark.parametrize("seconds", ["-1", "0"])
def test_simulate_max_seconds_must_be_positive(cli: Cli, seeded: dict, seconds: str) -> None:
    line = one_line_error(cli("simulate", "Pets", "--max-seconds", seconds, db=seeded["db"]))
    assert "--max-seconds" in line


# 6, 9: export


def test_export_takes_the_format_from_the_out_suffix(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    as_csv = tmp_path / "pets.csv"
    result = cli("export", "Pets", "--out", as_csv, db=seeded["db"])
    assert result.exit_code == 0 and "csv)" in result.stdout, result.output
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text())))
    assert len(rows) == 12 and "external_id" in rows[0]
    for name in ("pets.parquet", "pets.pq"):
        assert cli("export", "Pets", "--out", tmp_path / name, db=seeded["db"]).exit_code == 0
        assert pq.read_table(tmp_path / name).num_rows == 12
    stdout_like = tmp_path / "pets"  # no suffix: JSON Lines, as before
    assert cli("export", "Pets", "--out", stdout_like, db=seeded["db"]).exit_code == 0
    assert json.loads(stdout_like.read_text().splitlines()[0])["external_id"]


def test_export_refuses_a_format_that_contradicts_the_name(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    out = tmp_path / "pets.csv"
    line = one_line_error(cli("export", "Pets", "--format", "jsonl", "--out", out, db=seeded["db"]))
    assert "--format jsonl does not match --out pets.csv" in line and not out.exists()
    as_json = tmp_path / "pets.json"  # JSON Lines is not the JSON array import reads from .json
    assert ".jsonl" in one_line_error(cli("export", "Pets", "--out", as_json, db=seeded["db"]))
    assert cli("export", "Pets", "--format", "jsonl", "--out", as_json, db=seeded["db"]).exit_code == 0


def test_export_to_a_missing_folder_names_the_users_path(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    out = tmp_path / "nodir" / "x.jsonl"
    line = one_line_error(cli("export", "Pets", "--out", out, db=seeded["db"]))
    assert str(out) in line and ".partial" not in line and "does not exist" in line
    dangling = tmp_path / "link.jsonl"  # a symlink into a missing folder: that folder is the one named
    dangling.symlink_to(tmp_path / "gone" / "x.jsonl")
    line = one_line_error(cli("export", "Pets", "--out", dangling, db=seeded["db"]))
    assert f"the directory {tmp_path / 'gone'} does not exist" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_export_to_a_read_only_folder_names_the_users_path(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    line = one_line_error(cli("export", "Pets", "--out", folder / "n.jsonl", db=seeded["db"]))
    assert "n.jsonl" in line and ".partial" not in line and "not writable" in line


# 7: project YAML


def test_a_key_given_twice_in_the_project_yaml_is_refused(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    config = tmp_path / "dup.yaml"
    config.write_text("name: Q\ntask_type: classification\nlabels: [a, b]\nname: R\n")
    line = one_line_error(cli("project", "create", "--config", config, db=seeded["db"]))
    assert "line 4" in line and "'name'" in line and "line 1" in line
    merged = tmp_path / "merged.yaml"  # a YAML merge key may be overridden: that is no duplicate
    merged.write_text("base: &b {overlap: 1}\nname: M\nlabels: [a, b]\nextra:\n  <<: *b\n  overlap: 2\n")
    assert "appears twice" not in cli("project", "create", "--config", merged, db=seeded["db"]).stderr
    nested = tmp_path / "nested.yaml"  # a merge of a merge: flattening the outer one copied keys into the inner
    nested.write_text("base: &base {overlap: 1}\nmid: &mid {<<: *base, overlap: 2}\n<<: *mid\nname: N\n"
                      "labels: [a, b]\n")
    assert "appears twice" not in cli("project", "create", "--config", nested, db=seeded["db"]).stderr


# 8: simulate --url and an unreachable server


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:21", "http://", "http://127.0.0.1:abc"])
def test_simulate_refuses_a_url_that_is_not_http(cli: Cli, seeded: dict, url: str) -> None:
    started = time.monotonic()
    assert "--url" in one_line_error(cli("simulate", "Pets", "--url", url, db=seeded["db"]))
    assert time.monotonic() - started < 5  # no retries


def _sim_accounts(db_url: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text("SELECT count(*) FROM users WHERE username LIKE 'sim%'")).scalar_one())
    engine.dispose()
    return n


def test_simulate_against_no_server_creates_no_accounts(cli: Cli, seeded: dict) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("simulate", "Pets", "--workers", "3", "--url", f"http://127.0.0.1:{port}", db=seeded["db"])
    assert "cannot reach the server" in one_line_error(result, code=1)
    assert _sim_accounts(seeded["db"]) == 0


def test_simulate_still_runs_against_a_real_server(cli: Cli, seeded: dict) -> None:
    engine = make_engine(seeded["db"])
    with background_server(create_app(Settings(), engine=engine)) as url:
        result = cli("simulate", "Pets", "--workers", "2", "--max-labels", "3", "--url", url, db=seeded["db"])
    engine.dispose()
    assert result.exit_code == 0 and "3 labels" in result.stdout, result.output
    assert _sim_accounts(seeded["db"]) == 2


# 10, 11, 14: import


def test_import_names_an_unknown_format_and_lists_the_known(cli: Cli, seeded: dict) -> None:
    line = one_line_error(cli("import", "Pets", seeded["items"], "--format", "xml", db=seeded["db"]))
    assert "unknown format 'xml'" in line and "jsonl, csv, parquet, json" in line


def test_import_of_a_directory_says_so(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    assert "is a directory" in one_line_error(cli("import", "Pets", tmp_path, db=seeded["db"]))


def test_import_reads_pq_as_parquet(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    items = tmp_path / "more.pq"
    pq.write_table(pa.table({"external_id": ["q1", "q2"], "text": ["one", "two"]}), items)
    result = cli("import", "Pets", items, db=seeded["db"])
    assert result.exit_code == 0 and "2 created" in result.stdout, result.output


def test_create_workers_without_labels_is_refused(cli: Cli, seeded: dict) -> None:
    line = one_line_error(cli("import", "Pets", seeded["items"], "--create-workers", db=seeded["db"]))
    assert "--create-workers" in line and "--labels" in line


# 12: TRUTHLINE_DEFAULT_METHOD


def test_default_method_setting_applies_and_the_option_overrides_it(cli: Cli, seeded: dict, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUTHLINE_DEFAULT_METHOD", "mv")
    assert "method mv" in cli("aggregate", "Pets", db=seeded["db"]).stdout
    assert "method ds" in cli("aggregate", "Pets", "--method", "ds", db=seeded["db"]).stdout
    monkeypatch.setenv("TRUTHLINE_DEFAULT_METHOD", "oracle")  # used, so refused, unless --method overrides it
    out = tmp_path / "x.jsonl"
    assert "oracle" in cli("export", "Pets", "--out", out, db=seeded["db"]).stderr
    assert cli("export", "Pets", "--out", out, "--method", "mv", db=seeded["db"]).exit_code == 0


# 16: progress output


def test_import_and_export_leave_no_blank_line_off_a_terminal(cli: Cli, seeded: dict, tmp_path: Path) -> None:
    imported = cli("import", "Pets", seeded["items"], db=seeded["db"])
    assert imported.stdout.startswith("Project #"), repr(imported.stdout)
    exported = cli("export", "Pets", "--out", tmp_path / "x.jsonl", db=seeded["db"])
    assert exported.stdout.startswith("Wrote "), repr(exported.stdout)


def _on_a_terminal(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run `python -m truthline.cli ARGS` with a pseudo-terminal as stdout and stderr: (exit code, output)."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-m", "truthline.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if not ready:
            continue
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    text = b"".join(chunks).decode("utf-8", "replace")
    return proc.wait(timeout=30), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # without colours and cursor moves


def test_import_shows_the_database_write_as_its_own_phase(seeded: dict, tmp_path: Path) -> None:
    items = tmp_path / "many.jsonl"
    items.write_text("".join(f'{{"external_id": "m{i}", "data": {{"text": "t{i}"}}}}\n' for i in range(2000)))
    code, output = _on_a_terminal(["--db", seeded["db"], "import", "Pets", str(items)])
    assert code == 0 and "Reading many.jsonl" in output and "Writing to the database" in output, output
    assert "2000 created" in output


# 17: names given on the command line


def test_unknown_project_or_user_is_bad_input(cli: Cli, seeded: dict) -> None:
    assert "no project named 'Nope'" in one_line_error(cli("import", "Nope", seeded["items"], db=seeded["db"]))
    assert "PROJECT" in one_line_error(cli("aggregate", "999", db=seeded["db"]))
    line = one_line_error(cli("--as", "ghost", "project", "list", db=seeded["db"]))
    assert "--as" in line and "ghost" in line
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "exit with code 2 for\nbad input, 1 for anything else" in readme
