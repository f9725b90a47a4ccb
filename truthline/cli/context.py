"""What every CLI command shares: the database option, the acting user, and clear error output.

The CLI is a thin shell: each command resolves the engine and actor here, then loops over service
calls. Domain errors (truthline.errors) become one red line naming the field or line, exit code 2
for bad input (Invalid, TooLarge) and 1 for everything else; never a traceback for bad input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from truthline.client import TruthlineAPIError
from truthline.errors import Invalid, NotFound, NotReady, TooLarge, TruthlineError, shown
from truthline.settings import Settings

__all__ = ["DbOption", "State", "check_db_url", "console", "err_console", "fail", "given_on_command_line",
           "handle_errors", "method_or_default", "state"]

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="TRUTHLINE_DB", help="Database URL (sqlite:///path or postgresql+psycopg://...)."),
]


class State:
    """Options given before the command (`truthline --db URL --as USER <command>`)."""

    def __init__(self) -> None:
        self.db: str | None = None
        self.as_user: str | None = None
        self._engines: dict[str, Engine] = {}

    def url(self, db: str | None = None) -> str:
        """The database URL: the command's --db, else the global one, else settings.db; checked (Invalid)."""
        url = db if db is not None else self.db if self.db is not None else Settings().db
        check_db_url(url)
        return url

    def engine(self, db: str | None = None, *, migrated: bool = True) -> Engine:
        """An engine for the chosen database; by default refuses an unmigrated one (NotReady names the fix)."""
        from truthline.store.db import ensure_migrated, make_engine

        url = self.url(db)
        sqlite_file = Path(url[len("sqlite:///"):].split("?")[0]).expanduser() if url.startswith("sqlite:///") else None
        if migrated and sqlite_file is not None and not sqlite_file.exists():
            # opening it would create an empty file; a typo in --db should not leave one behind
            raise NotReady(f"no database at {url}: create one with `truthline db upgrade --db {url}` "
                           "(or `truthline demo`)")
        if url not in self._engines:
            self._engines[url] = make_engine(url)
        engine = self._engines[url]
        if migrated:
            ensure_migrated(engine)
        return engine

    def actor(self, engine: Engine) -> Any:
        """The user the CLI acts as: `--as USER`, else the first admin (the CLI has direct database access)."""
        from truthline.services import users

        if self.as_user:
            with given_on_command_line("--as"):
                return users.get_user_by_name(engine, None, self.as_user)
        admin = users.first_admin(engine)
        if admin is None:
            raise NotReady("no admin user yet: run `truthline init` first (or `truthline demo`)")
        return admin

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


state = State()


USABLE_URLS = "use sqlite:///path or postgresql+psycopg://user@host/db"
SUPPORTED_DRIVERS = ("sqlite", "postgresql", "postgresql+psycopg")


def check_db_url(url: str) -> None:
    """Refuse a --db URL Truthline cannot use, before anything connects (or creates a file)."""
    from sqlalchemy.engine import make_url

    if not url.strip():
        raise Invalid(f"--db (or TRUTHLINE_DB) is empty; {USABLE_URLS}", field="--db")
    try:
        parsed = make_url(url)
    except ValueError as exc:  # sqlalchemy's int() of the port
        raise Invalid(f"the port in the database URL is not a number ({exc}); {USABLE_URLS}", field="--db") from None
    except sa_exc.ArgumentError as exc:
        raise Invalid(f"not a usable database URL ({exc}); {USABLE_URLS}", field="--db") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise Invalid(f"unsupported database URL {parsed.drivername!r}; {USABLE_URLS}", field="--db")
    if parsed.drivername == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise Invalid("an in-memory database would vanish when the command ends; use sqlite:///path.db", field="--db")
    if url.startswith("sqlite:///"):
        parent = Path(url[len("sqlite:///") :].split("?")[0]).expanduser().resolve().parent
        if not parent.is_dir():
            raise Invalid(f"directory {parent} does not exist; create it or pick another --db path", field="--db")


@contextmanager
def given_on_command_line(field: str) -> Iterator[None]:
    """A name the user typed that names nothing is bad input (exit 2), not a failure (NotFound, exit 1)."""
    try:
        yield
    except NotFound as exc:
        raise Invalid(exc.message, field=field, line=exc.line, details=exc.details) from None


def check_settings() -> None:
    """Refuse an invalid TRUTHLINE_* variable in one line naming it, before the command does any work."""
    from pydantic import ValidationError

    try:
        Settings()
    except ValidationError as exc:
        problems = [_setting_problem(error) for error in exc.errors()]
        raise Invalid("; ".join(problems), field=problems[0].split(":", 1)[0]) from None


def _setting_problem(error: Any) -> str:
    name = "TRUTHLINE_" + "_".join(str(part) for part in error["loc"]).upper()
    secret = name == "TRUTHLINE_SECRET_KEY"  # never echo a secret
    got = "" if secret else f" (got {shown(error.get('input'))})"
    return f"{name}: {error['msg']}{got}"


def method_or_default(method: str | None) -> str:
    """The --method given, else settings.default_method (TRUTHLINE_DEFAULT_METHOD): the command line overrides
    the settings, as everywhere."""
    return method if method is not None else Settings().default_method


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` (Rich markup, already escaped) to stderr; return the Exit to raise."""
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn domain, HTTP and file errors into a clear message and an exit code (2 bad input, 1 other)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rich.markup import escape

        try:
            check_settings()
            return fn(*args, **kwargs)
        except TruthlineError as exc:  # str() names the line and field, then lists every problem
            raise fail(escape(str(exc)), 2 if isinstance(exc, (Invalid, TooLarge)) else 1) from None
        except TruthlineAPIError as exc:
            raise fail(escape(str(exc)), 2 if exc.status_code in (413, 415, 422) else 1) from None
        except httpx.TransportError as exc:
            hint = "is `truthline serve` running at that --url?"
            raise fail(escape(f"cannot reach the server ({exc}); {hint}"), 1) from None
        except FileNotFoundError as exc:
            raise fail(escape(f"{exc.filename}: no such file"), 2) from None
        except IsADirectoryError as exc:
            raise fail(escape(f"{exc.filename}: is a directory, expected a file"), 2) from None
        except PermissionError as exc:
            raise fail(escape(f"{exc.filename}: permission denied"), 1) from None
        except OSError as exc:  # not a directory, name too long, disk full, ...
            raise fail(escape(f"{exc.filename or 'file'}: {exc.strerror or exc}"), 1) from None
        except sa_exc.ArgumentError as exc:
            msg = f"--db: not a usable database URL ({exc}); {USABLE_URLS}"
            raise fail(escape(msg), 2) from None
        except sa_exc.OperationalError as exc:
            msg = f"cannot use the database: {exc.orig or exc}; check --db and that the server is running"
            raise fail(escape(msg), 1) from None
        except sa_exc.DatabaseError as exc:  # e.g. SQLite on a file that is not a database
            raise fail(escape(f"cannot use the database: {exc.orig or exc}; check --db"), 1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
