"""`truthline user ...`: what an admin does when a worker leaves, forgets a password or leaks a token."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli
from truthline.errors import Unauthorized
from truthline.services import users
from truthline.store.db import make_engine


def _login_works(db: str, username: str, password: str) -> bool:
    engine = make_engine(db)
    try:
        users.authenticate(engine, username, password)
        return True
    except Unauthorized:
        return False
    finally:
        engine.dispose()


def _token_works(db: str, token: str) -> bool:
    engine = make_engine(db)
    try:
        users.user_for_token(engine, token)
        return True
    except Unauthorized:
        return False
    finally:
        engine.dispose()


def test_a_worker_account_from_creation_to_deactivation(cli: Cli, seeded: dict[str, Any]) -> None:
    db = seeded["db"]
    created = cli("user", "create", "bob", input="pass-word-1\npass-word-1\n", db=db)  # prompted, hidden
    assert created.exit_code == 0 and "Created member bob" in created.stdout
    token = cli("user", "token", "bob", db=db).stdout.strip()
    assert _token_works(db, token) and _login_works(db, "bob", "pass-word-1")
    listed = cli("user", "list", db=db).stdout
    assert "bob" in listed and "member" in listed

    off = cli("user", "deactivate", "bob", db=db)
    assert off.exit_code == 0 and "ended 1 session(s) and token(s)" in off.stdout
    assert not _token_works(db, token) and not _login_works(db, "bob", "pass-word-1")
    assert cli("user", "activate", "bob", db=db).exit_code == 0
    assert _login_works(db, "bob", "pass-word-1") and not _token_works(db, token)  # old tokens stay ended

    assert cli("user", "password", "bob", "--password", "pass-word-2", db=db).exit_code == 0
    assert not _login_works(db, "bob", "pass-word-1") and _login_works(db, "bob", "pass-word-2")
    again = cli("user", "token", "bob", db=db).stdout.strip()
    ended = cli("user", "revoke-tokens", "bob", db=db)
    assert ended.exit_code == 0 and "Ended 1 session(s)" in ended.stdout and not _token_works(db, again)


def test_user_commands_refuse_what_they_must(cli: Cli, seeded: dict[str, Any]) -> None:
    db = seeded["db"]
    last = cli("user", "deactivate", "admin", db=db)
    assert last.exit_code != 0 and "last active admin" in last.stderr
    assert cli("user", "create", "eve", "--password", "pass-word-1", db=db).exit_code == 0
    as_eve = cli("--as", "eve", "user", "deactivate", "admin", db=db)  # members change no one
    assert as_eve.exit_code != 0 and "admin" in as_eve.stderr
    short = cli("user", "password", "eve", "--password", "short", db=db)
    assert short.exit_code == 2 and "password" in short.stderr
    ghost = cli("user", "deactivate", "ghost", db=db)
    assert ghost.exit_code == 2 and "'ghost' not found" in ghost.stderr
    assert cli("--as", "eve", "user", "token", "eve", db=db).exit_code == 0  # one's own
    others = cli("--as", "eve", "user", "token", "admin", db=db)  # not another's, nor whether they exist
    assert others.exit_code == 2 and "'admin' not found" in others.stderr and not others.stdout.strip()
    assert cli("user", "deactivate", "eve", db=db).exit_code == 0
    stopped = cli("user", "token", "eve", db=db)
    assert stopped.exit_code != 0 and "deactivated" in stopped.stderr
