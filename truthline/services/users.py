"""Users, passwords (argon2) and tokens (random secrets, stored as sha256 hex, shown once)."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from weakref import WeakKeyDictionary

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from truthline.errors import Conflict, Forbidden, Invalid, NotFound, Throttled, Unauthorized
from truthline.services.access import require_admin, valid_id
from truthline.services.text import storable
from truthline.services import throttle
from truthline.store import users as store
from truthline.store.db import read_tx, write_tx
from truthline.store.records import User

ROLES = ("admin", "member")
TOKEN_KINDS = ("api", "session")
SESSION_SECONDS = 14 * 24 * 3600
LOGIN_TOKEN_SECONDS = 30 * 24 * 3600  # tokens from a password login; `POST /tokens` makes lasting ones
USERNAME_PATTERN = r"[A-Za-z0-9_.@-]{1,100}"
MAX_PASSWORD = 1000  # characters; the login forms take no more
_USERNAME = re.compile(USERNAME_PATTERN)  # fullmatch: `$` would let a trailing newline in

hasher = PasswordHasher()  # module attribute so tests can swap in cheaper parameters


def valid_username(name: str) -> bool:
    return _USERNAME.fullmatch(name) is not None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_user(engine: Engine, actor: User | None, username: str, password: str | None, role: str = "member") -> User:
    """Create a user. actor None = trusted local caller (CLI); otherwise only admins may.
    password None makes a token-only account (no password login)."""
    if actor is not None:
        require_admin(actor, "create users")
    if not isinstance(username, str) or not valid_username(username):
        raise Invalid("username must be 1-100 letters, digits or . _ @ -", field="username")
    if role not in ROLES:
        raise Invalid(f"role must be one of: {', '.join(ROLES)}", field="role")
    hashed = hasher.hash(_valid_password(password)) if password is not None else None
    taken = Conflict(f"user {username!r} already exists; pick another username", field="username")
    try:
        with write_tx(engine) as conn:
            if store.get_user_by_name(conn, username) is not None:
                raise taken
            return store.insert_user(conn, username, hashed, role, time.time())
    except IntegrityError:  # PostgreSQL: created concurrently
        raise taken from None


# A password check costs argon2's 64 MiB and about 0.1 s of a core: at most HASH_SLOTS run at once, so a
# flood of logins queues instead of taking gigabytes, and one waiting past HASH_WAIT_SECONDS is refused.
HASH_SLOTS = 2
HASH_WAIT_SECONDS = 10.0
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)
# Failed logins: per username and client address (a guesser), and per client address over every username
# (a guesser trying many). Past either limit, attempts are refused without a password check. Not per
# username alone: anyone could then lock a user (say, the admin) out. Counted in the database, so every
# process on it shares them (services/throttle.py).
LOGIN_FAILURES = throttle.FailureLimit("login", limit=10, window=15 * 60)
CLIENT_FAILURES = throttle.FailureLimit("client", limit=100, window=15 * 60)


@contextmanager
def _hash_slot() -> Iterator[None]:
    if not _hash_slots.acquire(timeout=HASH_WAIT_SECONDS):
        raise Throttled("the server is busy checking other logins; try again in a few seconds", retry_after=5)
    try:
        yield
    finally:
        _hash_slots.release()


def authenticate(engine: Engine, username: str, password: str, client: str | None = None) -> User:
    """The user whose password this is. `client` (the caller's address) counts failed attempts: past 10 for
    one username from one client, or 100 from one client, in 15 minutes, Throttled says how long to wait."""
    pair = LOGIN_FAILURES.key(username if isinstance(username, str) else "", client)
    # each attempt takes its place before the check (taken back on success): checks in flight at once
    # cannot all pass (40 sent together were all checked when failures were only counted after). The pair
    # is checked first; when the client must wait, the pair's place is not taken either.
    by_client = CLIENT_FAILURES.key(client)
    wait, places = throttle.reserve(engine, [(LOGIN_FAILURES, pair), (CLIENT_FAILURES, by_client)], time.time())
    if wait:
        raise Throttled(f"too many failed logins; try again in {wait} s", retry_after=wait)
    try:
        user = _check_password(engine, username, password)
    except Unauthorized:
        raise  # both places stay taken: a failure
    except BaseException:  # not a wrong password (busy, database down): not a failure either
        with suppress(SQLAlchemyError):  # the database may be what failed: report the first error
            throttle.cancel(engine, places)
        raise
    throttle.cancel(engine, places, forget=[pair])  # the pair's earlier failures are forgiven, not the client's
    return user


def _check_password(engine: Engine, username: str, password: str) -> User:
    with read_tx(engine) as conn:
        found = store.password_hash(conn, username) if isinstance(username, str) and storable(username) else None
    if found is None or found[1] is None or not found[0].active or not isinstance(password, str) or not storable(password):
        with _hash_slot():
            hasher.hash("timing-equalizer")  # don't reveal which usernames exist by answering faster
        raise Unauthorized("wrong username or password")
    user, hashed = found
    try:
        with _hash_slot():
            hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong username or password") from None
    if hasher.check_needs_rehash(hashed):
        with _hash_slot():
            rehashed = hasher.hash(password)
        with write_tx(engine) as conn:
            store.set_password_hash(conn, user.id, rehashed)
    return user


def create_token(engine: Engine, user: User, name: str = "api", kind: str = "api",
                 ttl_seconds: float | None = None) -> str:
    """A new token for `user` (plaintext returned once; only its hash is stored). Sessions expire."""
    if kind not in TOKEN_KINDS:
        raise Invalid(f"kind must be one of: {', '.join(TOKEN_KINDS)}", field="kind")
    if ttl_seconds is None and kind == "session":
        ttl_seconds = SESSION_SECONDS
    if not isinstance(name, str) or not storable(name):
        raise Invalid("token name must be a string without NUL characters", field="name")
    token = secrets.token_urlsafe(32)
    now = time.time()
    with write_tx(engine) as conn:
        if kind == "session":  # logins are rare; sessions are what piles up
            store.delete_expired_tokens(conn, now)
        store.insert_token(conn, user.id, hash_token(token), kind, str(name)[:100], now,
                           None if ttl_seconds is None else now + ttl_seconds)
    return token


# Token lookups run on every API request. A successful lookup is remembered by this process for up to
# TOKEN_CACHE_SECONDS (never past the token's own expiry): revoke_token forgets it here at once, while other
# processes (more `serve` workers, the CLI) stop accepting a revoked token, or a user deactivated in the
# database, within TOKEN_CACHE_SECONDS. Failed lookups are not cached, so a new token works immediately.
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_MAX = 10_000
_token_cache: WeakKeyDictionary[Engine, dict[tuple[str, str], tuple[float, User]]] = WeakKeyDictionary()
# engine -> user id -> when (monotonic) their tokens last ended: a lookup that read the database before then
# must not cache what it read, or the ended token would work for another TOKEN_CACHE_SECONDS.
_revoked: WeakKeyDictionary[Engine, dict[int, float]] = WeakKeyDictionary()


def _cached(engine: Engine, token_hash: str, kind: str, now: float) -> User | None:
    cache = _token_cache.get(engine)
    hit = cache.get((token_hash, kind)) if cache else None
    return hit[1] if hit is not None and hit[0] > now else None


def cached_user_for_token(engine: Engine, token: str, kind: str = "api") -> User | None:
    """The user of a token this process looked up in the last TOKEN_CACHE_SECONDS, else None (no I/O,
    never raises: callers fall back to user_for_token)."""
    if not isinstance(token, str) or not _token_cache.get(engine):
        return None
    return _cached(engine, hash_token(token), kind, time.time())


def user_for_token(engine: Engine, token: str, kind: str = "api") -> User:
    if not isinstance(token, str) or not token:
        raise Unauthorized("missing token: send `Authorization: Bearer <token>`")
    token_hash, now = hash_token(token), time.time()
    hit = _cached(engine, token_hash, kind, now)
    if hit is not None:
        return hit
    started = time.monotonic()
    with engine.connect() as conn:
        found = store.user_and_expiry_for_token_hash(conn, token_hash, kind, now)
    if found is None:
        raise Unauthorized("invalid or expired token; log in again or create a new token")
    user, expires_at = found
    if _revoked.get(engine, {}).get(user.id, -1.0) >= started:
        return user  # read before a deactivation or new password committed: answer it, but cache nothing
    cache = _token_cache.setdefault(engine, {})
    if len(cache) >= _TOKEN_CACHE_MAX:
        cache.clear()  # crude but bounded; entries live seconds anyway
    cache[(token_hash, kind)] = (min(now + TOKEN_CACHE_SECONDS, expires_at or float("inf")), user)
    return user


def _forget_token(engine: Engine, token_hash: str) -> None:
    cache = _token_cache.get(engine)
    if cache:
        for kind in TOKEN_KINDS:
            cache.pop((token_hash, kind), None)


def revoke_token(engine: Engine, token: str, actor: User | None = None) -> None:
    """Delete a token. With an actor, only the actor's own tokens (admins: any)."""
    token_hash = hash_token(token)
    with write_tx(engine) as conn:
        owner = None if actor is None or actor.is_admin else actor.id
        if not store.delete_token(conn, token_hash, owner):
            raise NotFound("token not found", field="token")
    _forget_token(engine, token_hash)


def _forget_user(engine: Engine, user_id: int) -> None:
    """Drop this process's cached lookups of a user's tokens (other processes drop theirs within
    TOKEN_CACHE_SECONDS), and keep lookups in flight from caching them again."""
    _revoked.setdefault(engine, {})[user_id] = time.monotonic()
    cache = _token_cache.get(engine)
    if cache:
        for key in [key for key, (_, user) in list(cache.items()) if user.id == user_id]:
            cache.pop(key, None)


def _valid_password(password: Any) -> str:
    if not isinstance(password, str) or not 8 <= len(password) <= MAX_PASSWORD or not storable(password):
        raise Invalid(f"password must be 8 to {MAX_PASSWORD} characters (valid Unicode, no NUL)", field="password")
    return password


def update_user(engine: Engine, actor: User | None, username: str, *, active: bool | None = None,
                role: str | None = None, password: str | None = None) -> tuple[User, int]:
    """Deactivate or reactivate a user, change their role, or set a new password (admins; actor None = the
    CLI). Deactivating, demoting or a new password ends every session and API token of the user (the
    number is returned with the user): a stolen token or password stops working. The last active admin
    cannot be deactivated or demoted."""
    if actor is not None:
        require_admin(actor, "change users")
    if role is not None and role not in ROLES:
        raise Invalid(f"role must be one of: {', '.join(ROLES)}", field="role")
    hashed = None
    if password is not None:
        with _hash_slot():
            hashed = hasher.hash(_valid_password(password))
    with write_tx(engine) as conn:
        user = store.get_user_by_name(conn, username) if isinstance(username, str) and storable(username) else None
        if user is None:
            raise NotFound(f"user {username!r} not found", field="username")
        values: dict[str, Any] = {k: v for k, v in (("active", active), ("role", role), ("password_hash", hashed))
                                  if v is not None}
        losing_admin = user.is_admin and user.active and (active is False or role == "member")
        if losing_admin and store.lock_active_admins(conn) <= 1:
            raise Conflict(f"{username!r} is the last active admin; make another admin first", field="username")
        if values:
            store.update_user(conn, user.id, **values)
        revoked = store.delete_tokens_of(conn, user.id) if active is False or hashed or role == "member" else 0
        updated = store.get_user(conn, user.id)
    _forget_user(engine, user.id)
    assert updated is not None
    return updated, revoked


def change_password(engine: Engine, actor: User, current: str, new: str, keep_token: str | None = None) -> int:
    """A user's own password change: the current password first, then every other session and API token
    of theirs ends (`keep_token`, the one the request came with, stays). Returns the tokens ended."""
    try:  # counted like logins: a stolen session must not become a way to guess the password
        authenticate(engine, actor.username, current, client=f"password change by user {actor.id}")
    except Unauthorized:
        raise Forbidden("the current password is wrong", field="current_password") from None
    with _hash_slot():
        hashed = hasher.hash(_valid_password(new))
    with write_tx(engine) as conn:
        store.update_user(conn, actor.id, password_hash=hashed)
        revoked = store.delete_tokens_of(conn, actor.id, None if keep_token is None else hash_token(keep_token))
    _forget_user(engine, actor.id)
    return revoked


def _self_or_any_for_admin(conn: Connection, actor: User | None, username: str) -> User:
    """The user named `username` if the actor may act on their tokens (admins and the system: anyone; users:
    themselves). Another user's name is "not found" to a non-admin, so it tells nobody who exists."""
    user = store.get_user_by_name(conn, username) if isinstance(username, str) and storable(username) else None
    if user is None or (actor is not None and not actor.is_admin and actor.id != user.id):
        raise NotFound(f"user {username!r} not found", field="username")
    return user


def revoke_tokens(engine: Engine, actor: User | None, username: str) -> int:
    """End every session and API token of a user (admins: anyone's; users: their own). Returns how many."""
    with write_tx(engine) as conn:
        user = _self_or_any_for_admin(conn, actor, username)
        revoked = store.delete_tokens_of(conn, user.id)
    _forget_user(engine, user.id)
    return revoked


def issue_token(engine: Engine, actor: User | None, username: str, name: str = "api") -> str:
    """A new API token for a user (admins: anyone's, e.g. a token-only worker account; users: their own),
    returned once."""
    with read_tx(engine) as conn:
        user = _self_or_any_for_admin(conn, actor, username)
    if not user.active:  # the token would be refused at once
        raise Conflict(f"user {username!r} is deactivated; activate them first", field="username")
    return create_token(engine, user, name=name)


def init_admin(engine: Engine, username: str, password: str | None) -> tuple[User, str]:
    """Create an admin and an API token for it (what `truthline init` runs)."""
    user = create_user(engine, None, username, password, role="admin")
    return user, create_token(engine, user, name="init")


def get_user_by_name(engine: Engine, actor: User | None, username: str) -> User:
    with read_tx(engine) as conn:
        user = store.get_user_by_name(conn, username) if isinstance(username, str) and storable(username) else None
    if user is None:
        raise NotFound(f"user {username!r} not found", field="username")
    return user


def get_user(engine: Engine, actor: User | None, user_id: int) -> User:
    with read_tx(engine) as conn:
        user = store.get_user(conn, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    return user


def list_users(engine: Engine, actor: User) -> list[User]:
    require_admin(actor, "list users")
    with read_tx(engine) as conn:
        return store.list_users(conn)


def first_admin(engine: Engine) -> User | None:
    """The oldest active admin (the CLI acts as it by default)."""
    with read_tx(engine) as conn:
        return store.first_admin(conn)
