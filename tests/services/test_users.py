from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from truthline.errors import Conflict, Forbidden, Invalid, NotFound, Throttled, Unauthorized
from truthline.services import throttle, users
from truthline.store.tables import login_failures, tokens


def test_init_admin_returns_a_working_token(engine: Engine) -> None:
    admin, token = users.init_admin(engine, "root", "correct horse")
    assert admin.is_admin
    assert users.user_for_token(engine, token) == admin
    assert users.first_admin(engine) == admin


def test_tokens_are_stored_only_as_sha256(engine: Engine, admin) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(tokens.c.token_hash)).scalars().all()
    assert admin.token not in stored
    assert hashlib.sha256(admin.token.encode()).hexdigest() in stored


def test_password_login(engine: Engine, make_person: Callable) -> None:
    person = make_person("ann", password="s3cret-pass")
    assert users.authenticate(engine, "ann", "s3cret-pass") == person.user
    with pytest.raises(Unauthorized):
        users.authenticate(engine, "ann", "wrong-password")
    with pytest.raises(Unauthorized):
        users.authenticate(engine, "nobody", "s3cret-pass")


def test_token_only_user_cannot_log_in_with_a_password(engine: Engine, make_person: Callable) -> None:
    make_person("bot", password=None)
    with pytest.raises(Unauthorized):
        users.authenticate(engine, "bot", "")


@pytest.mark.parametrize("token", ["", "nope", "x" * 43])
def test_bad_tokens_are_unauthorized(engine: Engine, token: str) -> None:
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, token)


def test_token_kinds_do_not_mix_and_sessions_expire(engine: Engine, admin) -> None:  # type: ignore[no-untyped-def]
    session = users.create_token(engine, admin.user, kind="session")
    assert users.user_for_token(engine, session, kind="session") == admin.user
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, session, kind="api")
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, admin.token, kind="session")
    expired = users.create_token(engine, admin.user, kind="session", ttl_seconds=-1)
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, expired, kind="session")
    with pytest.raises(Invalid) as err:
        users.create_token(engine, admin.user, kind="magic")
    assert err.value.field == "kind"


def test_revoke_token(engine: Engine, admin, make_person: Callable) -> None:  # type: ignore[no-untyped-def]
    other = make_person()
    with pytest.raises(NotFound):
        users.revoke_token(engine, admin.token, actor=other.user)  # not theirs
    users.revoke_token(engine, admin.token, actor=admin.user)
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, admin.token)


def test_only_admins_create_users(engine: Engine, admin, make_person: Callable) -> None:  # type: ignore[no-untyped-def]
    member = make_person()
    with pytest.raises(Forbidden):
        users.create_user(engine, member.user, "eve", "password123")
    assert users.create_user(engine, admin.user, "eve", "password123").role == "member"
    with pytest.raises(Conflict) as err:
        users.create_user(engine, admin.user, "eve", "password123")
    assert err.value.field == "username"


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [("", "password123", "member", "username"), ("bad name", "password123", "member", "username"),
     ("admin\n", "password123", "member", "username"),  # `$` alone would let a trailing newline pass
     ("ok", "short", "member", "password"), ("ok", "x" * 1001, "member", "password"),  # longer than logins take
     ("ok", "password123", "boss", "role")],
)
def test_create_user_names_the_bad_field(engine: Engine, username: str, password: str, role: str, field: str) -> None:
    with pytest.raises(Invalid) as err:
        users.create_user(engine, None, username, password, role)
    assert err.value.field == field


def test_lookup_users(engine: Engine, admin, make_person: Callable) -> None:  # type: ignore[no-untyped-def]
    bob = make_person("bob")
    assert users.get_user_by_name(engine, admin.user, "bob") == bob.user
    assert users.get_user(engine, admin.user, bob.user.id) == bob.user
    with pytest.raises(NotFound):
        users.get_user_by_name(engine, admin.user, "carol")
    assert [u.username for u in users.list_users(engine, admin.user)] == ["admin", "bob"]
    with pytest.raises(Forbidden):
        users.list_users(engine, bob.user)


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_unstorable_strings_never_reach_the_database(engine: Engine, admin, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthorized):
        users.authenticate(engine, text, "password123")
    with pytest.raises(Unauthorized):
        users.authenticate(engine, "admin", text)
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, text)
    with pytest.raises(NotFound):
        users.get_user_by_name(engine, admin.user, text)
    with pytest.raises(Invalid):
        users.create_user(engine, None, "fine", "password" + text)


def test_new_sessions_clear_out_expired_ones(engine: Engine, admin, count_rows) -> None:  # type: ignore[no-untyped-def]
    users.create_token(engine, admin.user, kind="session", ttl_seconds=-1)
    before = count_rows("tokens")["tokens"]
    users.create_token(engine, admin.user, kind="session")
    assert count_rows("tokens")["tokens"] == before  # one expired removed, one added


def test_repeated_failed_logins_are_refused_for_that_client(engine: Engine, make_person: Callable) -> None:
    make_person("ann")
    for _ in range(10):
        with pytest.raises(Unauthorized):
            users.authenticate(engine, "ann", "wrong-guess", client="10.0.0.9")
    with pytest.raises(Throttled) as err:  # even the right password: the guesser must not learn it works
        users.authenticate(engine, "ann", "password123", client="10.0.0.9")
    assert 890 <= err.value.retry_after <= 900 and "try again in" in err.value.message
    assert users.authenticate(engine, "ann", "password123", client="10.0.0.10").username == "ann"


def test_a_client_guessing_many_usernames_is_refused(engine: Engine, make_person: Callable) -> None:
    make_person("ann")
    for n in range(100):
        with pytest.raises(Unauthorized):
            users.authenticate(engine, f"user{n}", "guess", client="10.0.0.9")
    with pytest.raises(Throttled):
        users.authenticate(engine, "ann", "password123", client="10.0.0.9")


def test_a_login_clears_its_failures(engine: Engine, make_person: Callable) -> None:
    make_person("ann")
    for _ in range(3):
        for _ in range(9):
            with pytest.raises(Unauthorized):
                users.authenticate(engine, "ann", "typo", client="c")
        users.authenticate(engine, "ann", "password123", client="c")  # 27 typos, never locked out
    with engine.connect() as conn:  # the pair's failures are forgotten; the client's still count
        keys = conn.execute(sa.select(login_failures.c.key)).scalars().all()
    assert keys == [users.CLIENT_FAILURES.key("c")] * 27


def _failures(engine: Engine) -> list[tuple[str, float]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(login_failures.c.key, login_failures.c.at))]


def test_failed_logins_are_stored_without_username_or_address(engine: Engine, db_url: str) -> None:
    from pathlib import Path

    for _ in range(3):
        with pytest.raises(Unauthorized):
            users.authenticate(engine, "mallory.guess", "wrong-guess", client="203.0.113.77")
    stored = _failures(engine)
    assert len(stored) == 6 and all(len(key) == 64 and int(key, 16) >= 0 for key, _ in stored)
    assert {key for key, _ in stored} == {users.LOGIN_FAILURES.key("mallory.guess", "203.0.113.77"),
                                          users.CLIENT_FAILURES.key("203.0.113.77")}
    if db_url.startswith("sqlite"):  # nowhere in the files either (the WAL holds the latest writes)
        path = Path(db_url.removeprefix("sqlite:///"))
        data = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert b"mallory" not in data and b"203.0.113" not in data


def test_login_limits_hold_across_processes_and_restarts(db_url: str) -> None:
    """Two engines on one database stand for two `serve` processes; a third, made later, for a restart."""
    from truthline.store.db import make_engine

    first, second = make_engine(db_url), make_engine(db_url)
    users.create_user(first, None, "ann", "password123")
    for n in range(10):
        with pytest.raises(Unauthorized):
            users.authenticate((first, second)[n % 2], "ann", "wrong-guess", client="10.0.0.9")
    first.dispose()
    second.dispose()
    restarted = make_engine(db_url)
    with pytest.raises(Throttled) as err:
        users.authenticate(restarted, "ann", "password123", client="10.0.0.9")
    assert 890 <= err.value.retry_after <= 900
    restarted.dispose()


def test_failures_older_than_fifteen_minutes_stop_counting(engine: Engine, make_person: Callable) -> None:
    make_person("ann")
    for _ in range(10):
        with pytest.raises(Unauthorized):
            users.authenticate(engine, "ann", "wrong-guess", client="c")
    with engine.begin() as conn:  # as if the oldest had been 800 s ago and the others 700 s
        first = conn.execute(sa.select(sa.func.min(login_failures.c.id))).scalar_one()
        conn.execute(login_failures.update().values(at=login_failures.c.at - 700))
        conn.execute(login_failures.update().where(login_failures.c.id == first).values(at=login_failures.c.at - 100))
    with pytest.raises(Throttled) as err:
        users.authenticate(engine, "ann", "password123", client="c")
    assert 95 <= err.value.retry_after <= 100  # until the oldest counted failure is 15 minutes old
    with engine.begin() as conn:
        conn.execute(login_failures.update().where(login_failures.c.id == first).values(at=login_failures.c.at - 101))
    # this process remembers the wait it announced (refusals during it skip the database) until it ends
    with pytest.raises(Throttled):
        users.authenticate(engine, "ann", "password123", client="c")
    throttle._refused.pop(engine)  # as if those 100 s had passed
    assert users.authenticate(engine, "ann", "password123", client="c").username == "ann"


def test_a_login_that_fails_for_another_reason_counts_nothing(engine: Engine, make_person: Callable,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    make_person("ann")

    def down(*args: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(users, "_check_password", down)
    with pytest.raises(RuntimeError):
        users.authenticate(engine, "ann", "password123", client="c")
    assert _failures(engine) == []


def test_at_most_hash_slots_password_checks_run_at_once(engine: Engine, make_person: Callable,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each argon2 check takes 64 MiB: a flood of logins must queue, not run 40 at once."""
    import threading
    import time

    make_person("ann")
    running, peak, lock = 0, 0, threading.Lock()
    real = users.hasher

    class Counting:  # counts the costly calls; check_needs_rehash only parses the stored hash
        def __getattr__(self, name: str) -> Any:
            if name not in ("hash", "verify"):
                return getattr(real, name)

            def call(*args: Any) -> Any:
                nonlocal running, peak
                with lock:
                    running += 1
                    peak = max(peak, running)
                time.sleep(0.02)
                try:
                    return getattr(real, name)(*args)
                finally:
                    with lock:
                        running -= 1
            return call

    monkeypatch.setattr(users, "hasher", Counting())
    threads = [threading.Thread(target=lambda n=n: users.authenticate(engine, "ann", "password123",
                                                                             client=f"c{n}")) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == users.HASH_SLOTS


def test_two_admins_deactivating_each_other_at_once_leave_one(engine: Engine, make_person: Callable) -> None:
    """Both used to count two active admins (PostgreSQL, no lock) and leave none: 11 of 20 rounds."""
    import threading

    for round_ in range(8):
        a, b = make_person(f"a{round_}", role="admin").user, make_person(f"b{round_}", role="admin").user
        for other in users.list_users(engine, a):  # only a and b are active admins in this round
            if other.is_admin and other.active and other.id not in (a.id, b.id):
                users.update_user(engine, None, other.username, active=False)
        gate, outcomes = threading.Barrier(2), []

        def stop(actor: Any, target: str) -> None:
            gate.wait()
            try:
                users.update_user(engine, actor, target, active=False)
                outcomes.append("done")
            except Conflict:
                outcomes.append("refused")

        threads = [threading.Thread(target=stop, args=(a, b.username)),
                   threading.Thread(target=stop, args=(b, a.username))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["done", "refused"], outcomes
        assert sum(u.is_admin and u.active for u in users.list_users(engine, a)) == 1


def test_wrong_passwords_sent_at_once_get_no_more_checks_than_the_limit(engine: Engine,
                                                                        make_person: Callable) -> None:
    import threading

    make_person("ann")
    outcomes: list[str] = []

    def guess() -> None:
        try:
            users.authenticate(engine, "ann", "wrong-guess", client="10.0.0.9")
        except Unauthorized:
            outcomes.append("checked")
        except Throttled:
            outcomes.append("throttled")

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("checked") == 10 and outcomes.count("throttled") == 30


def test_a_lookup_in_flight_during_a_deactivation_caches_nothing(engine: Engine, make_person: Callable,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A token read from the database just before its user was deactivated was cached afterwards and
    kept working for 5 s more in the same process."""
    from truthline.store import users as user_store

    bob = make_person("bob")
    real = user_store.user_and_expiry_for_token_hash

    def read_then_deactivated(*args: Any) -> Any:
        found = real(*args)  # what the request read
        monkeypatch.setattr(user_store, "user_and_expiry_for_token_hash", real)
        users.update_user(engine, None, "bob", active=False)  # commits before the request caches it
        return found

    monkeypatch.setattr(user_store, "user_and_expiry_for_token_hash", read_then_deactivated)
    assert users.user_for_token(engine, bob.token).username == "bob"  # in flight: answered as read
    with pytest.raises(Unauthorized):
        users.user_for_token(engine, bob.token)  # but not cached: the next request sees the deactivation


def test_a_login_in_flight_leaves_no_other_process_refusing(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine typos, then the right password twice at once through two processes: the second is refused while
    the first is checked (it holds the tenth place). The first logs in, and then the second process must let
    the user in too: it used to remember the refusal and turn the right password away for 15 minutes."""
    import threading

    from truthline.store.db import make_engine

    first, second = make_engine(db_url), make_engine(db_url)
    try:
        users.create_user(first, None, "ann", "password123")
        for _ in range(9):
            with pytest.raises(Unauthorized):
                users.authenticate(first, "ann", "typo", client="c")
        checking, finish, real = threading.Event(), threading.Event(), users.hasher

        class Held:  # the first check waits until the second login has been refused
            def __getattr__(self, name: str) -> Any:
                if name != "verify":
                    return getattr(real, name)

                def verify(*args: Any) -> Any:
                    checking.set()
                    finish.wait(10)
                    return real.verify(*args)
                return verify

        monkeypatch.setattr(users, "hasher", Held())
        logged_in: list[Any] = []
        thread = threading.Thread(target=lambda: logged_in.append(users.authenticate(first, "ann", "password123",
                                                                                      client="c")))
        thread.start()
        try:
            assert checking.wait(10)
            with pytest.raises(Throttled):
                users.authenticate(second, "ann", "password123", client="c")
        finally:
            finish.set()
            thread.join(10)
        assert [u.username for u in logged_in] == ["ann"]
        monkeypatch.setattr(users, "hasher", real)
        assert users.authenticate(second, "ann", "password123", client="c").username == "ann"
    finally:
        first.dispose()
        second.dispose()
