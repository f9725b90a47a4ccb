"""`truthline user ...`: create, list, deactivate and reactivate users, reset passwords, end their tokens.

What an admin does when a worker leaves, forgets a password or has a token stolen. Runs as `--as USER`
(default: the first admin), so only admins can change other users.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .context import DbOption, console, given_on_command_line, handle_errors, state

user_app = typer.Typer(help="Create, list and deactivate users; reset passwords; end their tokens.",
                       no_args_is_help=True)
UserArg = Annotated[str, typer.Argument(help="Username.")]
PasswordOption = Annotated[str | None, typer.Option(
    "--password", envvar="TRUTHLINE_USER_PASSWORD", help="The password (prompted, hidden, if omitted).")]


def _prompted(password: str | None, username: str) -> str:
    return password if password is not None else typer.prompt(
        f"Password for {username}", hide_input=True, confirmation_prompt=True)


@user_app.command("list")
@handle_errors
def user_list(db: DbOption = None) -> None:
    """List every user with their role and whether they can log in."""
    from truthline.services import users

    engine = state.engine(db)
    table = Table("id", "username", "role", "active")
    for user in users.list_users(engine, state.actor(engine)):
        table.add_row(str(user.id), escape(user.username), user.role, "yes" if user.active else "no")
    console.print(table)


@user_app.command("create")
@handle_errors
def user_create(
    username: UserArg,
    role: Annotated[str, typer.Option("--role", help="member or admin.")] = "member",
    password: PasswordOption = None,
    no_password: Annotated[bool, typer.Option("--no-password", help="A token-only account (no login).")] = False,
    db: DbOption = None,
) -> None:
    """Create a user (admins)."""
    from truthline.services import users

    engine = state.engine(db)
    actor = state.actor(engine)
    user = users.create_user(engine, actor, username, None if no_password else _prompted(password, username), role)
    console.print(f"Created {user.role} [bold]{escape(user.username)}[/].")


@user_app.command("deactivate")
@handle_errors
def user_deactivate(username: UserArg, db: DbOption = None) -> None:
    """Stop a user: no more logins, and every session and API token of theirs ends now."""
    _update(db, username, "Deactivated", active=False)


@user_app.command("activate")
@handle_errors
def user_activate(username: UserArg, db: DbOption = None) -> None:
    """Let a deactivated user log in again (their old tokens stay ended)."""
    _update(db, username, "Activated", active=True)


@user_app.command("password")
@handle_errors
def user_password(username: UserArg, password: PasswordOption = None, db: DbOption = None) -> None:
    """Set a new password for a user; every session and API token of theirs ends."""
    _update(db, username, "Set a new password for", password=_prompted(password, username))


@user_app.command("revoke-tokens")
@handle_errors
def user_revoke_tokens(username: UserArg, db: DbOption = None) -> None:
    """End every session and API token of a user (say, one that leaked); their password still works."""
    from truthline.services import users

    engine = state.engine(db)
    with given_on_command_line("USERNAME"):
        revoked = users.revoke_tokens(engine, state.actor(engine), username)
    console.print(f"Ended {revoked} session(s) and token(s) of [bold]{escape(username)}[/].")


@user_app.command("token")
@handle_errors
def user_token(
    username: UserArg,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    db: DbOption = None,
) -> None:
    """Create an API token for a user (admins; shown once), e.g. for a token-only worker account."""
    from truthline.services import users

    engine = state.engine(db)
    with given_on_command_line("USERNAME"):
        token = users.issue_token(engine, state.actor(engine), username, name=name)
    console.print(token, highlight=False, soft_wrap=True)


def _update(db: str | None, username: str, done: str, **changes: object) -> None:
    from truthline.services import users

    engine = state.engine(db)
    with given_on_command_line("USERNAME"):
        user, revoked = users.update_user(engine, state.actor(engine), username, **changes)  # type: ignore[arg-type]
    ended = f"; ended {revoked} session(s) and token(s)" if revoked else ""
    console.print(f"{done} [bold]{escape(user.username)}[/]{ended}.")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
