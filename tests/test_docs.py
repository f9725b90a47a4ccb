"""Docs that cannot fall behind: every CLI command and setting is in README.md, and README's examples run."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from truthline.cli import app
from truthline.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            yield from command_paths(cmd, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def fenced(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_the_pairwise_example_is_a_valid_item() -> None:
    from truthline.tasktypes import get_task_type

    (example,) = fenced("jsonl")
    record = json.loads(example)
    assert get_task_type("pairwise").validate_item(record["data"]) == []
    assert {"a_id", "b_id"} <= set(record["data"])


def test_first_screen_is_one_sentence_then_the_two_commands() -> None:
    lines = README.splitlines()
    assert lines[0] == "# Truthline" and lines[1] == ""
    sentence = lines[2]
    assert sentence.startswith("Truthline is ") and sentence.count(". ") == 0 and sentence.endswith(".")
    first_block = fenced("sh")[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert README.index("make demo") < 1200  # on the first screen


def test_every_cli_command_is_documented() -> None:
    paths = sorted(command_paths(typer.main.get_command(app)))  # type: ignore[arg-type]
    assert {"demo", "serve", "init", "db upgrade", "project create", "import", "export", "aggregate",
            "simulate", "workers"} <= set(paths)
    missing = [p for p in paths if f"truthline {p}" not in README]
    assert not missing, f"README.md lacks: {missing}"


def test_every_setting_is_documented_with_its_default() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `TRUTHLINE_([A-Z_]+)` \|.*$", README, flags=re.M)}
    for name, field in Settings.model_fields.items():
        row = rows.get(name.upper())
        assert row, f"README settings table lacks TRUTHLINE_{name.upper()}"
        default = field.default
        if name == "secret_key":
            assert "empty" in row
        else:
            assert str(default).lower() in row.lower(), (name, default, row)
    assert set(rows) == {n.upper() for n in Settings.model_fields}, "README documents a setting that does not exist"


def test_readme_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The YAML, JSONL, shell and Python examples in README.md, executed in order (serve in a thread)."""
    from truthline.api.app import create_app
    from truthline.cli.serving import background_server
    from truthline.client import Client
    from truthline.services import users
    from truthline.store.db import make_engine

    monkeypatch.chdir(tmp_path)
    for var in ("TRUTHLINE_DB", "TRUTHLINE_AS", "TRUTHLINE_ADMIN_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "project.yaml").write_text(fenced("yaml")[0])
    (tmp_path / "items.jsonl").write_text(fenced("json")[0])
    runner = CliRunner()
    env: dict[str, str] = {}
    servers: list[Any] = []
    url = ""
    token = ""
    try:
        for line in fenced("sh")[1].strip().splitlines():
            command = line.split("  #")[0].strip().rstrip("&").strip()
            if command.startswith("export "):
                key, value = command[len("export "):].split("=", 1)
                env[key] = value
                continue
            argv = shlex.split(command)
            assert argv[0] == "truthline", line
            args = argv[1:]
            if args[0] == "serve":
                engine = make_engine(env["TRUTHLINE_DB"])
                servers.append((background_server(create_app(Settings(), engine=engine)), engine))
                url = servers[-1][0].__enter__()
                continue
            if args[0] == "simulate":
                args += ["--url", url]
            result = runner.invoke(app, args, env=env, input="readme-password\nreadme-password\n", catch_exceptions=False)
            assert result.exit_code == 0, (line, result.output)
            if args[0] == "init":
                token = result.stdout.strip().splitlines()[-1]
        assert (tmp_path / "pets.parquet").exists()
        engine = make_engine(env["TRUTHLINE_DB"])
        assert users.user_for_token(engine, token).username == "admin"
        engine.dispose()
        snippet = fenced("python")[0].replace('"http://127.0.0.1:8000"', repr(url)).replace('token="..."', f"token={token!r}")
        exec(compile(snippet, "README.md", "exec"), {"Client": Client, "print": lambda *a: None})
    finally:
        for server, engine in reversed(servers):
            server.__exit__(None, None, None)
            engine.dispose()


def test_quality_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `truthline infer` lines of docs/quality.md, on small files named as in the doc."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "quality.md").read_text(encoding="utf-8")
    block = re.findall(r"```\n(.*?)```", doc, flags=re.S)[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answers.csv").write_text("item,worker,label\n" + "".join(
        f"i{i},w{w},{'yes' if (i + (w == 2)) % 2 else 'no'}\n" for i in range(8) for w in range(3)))
    truth = "".join(f"i{i},{'yes' if i % 2 else 'no'}\n" for i in range(8))
    (tmp_path / "truth.csv").write_text("item,truth\n" + truth)
    (tmp_path / "values.csv").write_text("item,worker,value\n" + "".join(
        f"v{i},w{w},{i + 0.1 * w}\n" for i in range(4) for w in range(3)))
    (tmp_path / "prefs.csv").write_text("item_a,item_b,winner,worker\nx,y,x,w1\ny,z,y,w2\nx,z,x,w1\n")
    (tmp_path / "tags.csv").write_text("item,worker,labels\nt1,w1,a|b\nt1,w2,a\nt2,w1,\nt2,w2,b\n")
    lines = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert len(lines) == 6 and all(line.startswith("truthline infer ") for line in lines)
    runner = CliRunner()
    for line in lines:
        result = runner.invoke(app, shlex.split(line)[1:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
    assert (tmp_path / "answers.jsonl").exists() and (tmp_path / "workers.csv").exists()
    assert (tmp_path / "soft.csv").read_text().splitlines()[0] == "item,answer,confidence,n_labels,p:no,p:yes"
