"""Set-up commands: `init`, `db upgrade`, `serve`, `demo`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from truthline.errors import Conflict

from .context import DbOption, console, handle_errors, method_or_default, state
from .results import summary_lines
from .serving import check_bindable, run_server

HostOption = Annotated[str | None, typer.Option("--host", help="Address to bind (default: settings.host, 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                               help="Port to listen on (default: settings.port, 8000).")]
WorkersOption = Annotated[int, typer.Option(
    "--workers", min=1, max=64, help="Server processes sharing the port (one per core uses them all).")]

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@db_app.command("upgrade")
@handle_errors
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the database schema to the latest version (alembic upgrade head)."""
    from truthline.store.db import upgrade

    engine = state.engine(db, migrated=False)
    upgrade(engine)
    console.print(f"Database {engine.url.render_as_string(hide_password=True)} is up to date.")


@handle_errors
def init(
    db: DbOption = None,
    username: Annotated[str, typer.Option("--username", help="Name of the first admin.")] = "admin",
    password: Annotated[
        str | None,
        typer.Option("--password", envvar="TRUTHLINE_ADMIN_PASSWORD", help="Admin password (prompted if omitted)."),
    ] = None,
) -> None:
    """Create the first admin user and print an API token for it (shown once)."""
    from truthline.services import users

    engine = state.engine(db)
    existing = users.first_admin(engine)
    if existing is not None:
        raise Conflict(
            f"an admin already exists ({existing.username}); `truthline init` only creates the first one",
            field="username",
        )
    if password is None:
        password = typer.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)
    _user, token = users.init_admin(engine, username, password)
    console.print(f"Created admin [bold]{username}[/].")
    console.print("API token (shown once, store it now):")
    console.print(token, highlight=False, soft_wrap=True)


@handle_errors
def serve(db: DbOption = None, host: HostOption = None, port: PortOption = None, workers: WorkersOption = 1) -> None:
    """Serve the web app and the REST API (refuses an unmigrated database)."""
    state.engine(db)  # the checks every command runs (usable URL, existing migrated database), before serving
    state.dispose()  # the server builds its own engine
    run_server(state.url(db), host, port, workers)


@handle_errors
def demo(
    db: DbOption = None,
    host: HostOption = None,
    port: PortOption = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed only; do not start the server.")] = False,
    items: Annotated[int | None, typer.Option("--items", min=1, help="Seed only the first N digits.")] = None,
) -> None:
    """Migrate, seed the handwritten-digits demo (idempotent), then serve it."""
    from truthline.demo import seed_demo
    from truthline.settings import Settings
    from truthline.store.db import upgrade

    settings = Settings()
    if not no_serve:  # a port in use fails now, not after seeding
        check_bindable(host or settings.host, port or settings.port)
    engine = state.engine(db, migrated=False)
    upgrade(engine)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                titles = {"import": "Importing digits", "label": "Importing simulated crowd labels",
                          "arena": "Importing the model arena"}
                bars[stage] = progress.add_task(titles.get(stage, stage), total=total)
            progress.update(bars[stage], completed=done, total=total)

        info = seed_demo(engine, limit=items, progress=report)
    url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"\nDemo project #{info.project_id}: {info.n_items} digit images"
                  + (f", {info.n_labels_seeded} simulated labels added." if info.n_labels_seeded else "."))
    for line in summary_lines(engine, state.actor(engine), info.project_id, method_or_default(None)):
        console.print(line, highlight=False)
    console.print(f"Model arena #{info.arena.project_id}: {info.arena.n_items} questions, each answered by two of "
                  "six made-up models, compared blind; its manager page ranks the models"
                  + (f" ({info.arena.n_labels_seeded} simulated labels added)." if info.arena.n_labels_seeded
                     else "."), highlight=False)
    serve_cmd = "truthline serve" + (f" --db {db}" if db else "")
    console.print((f"Serve it with `{escape(serve_cmd)}`, then open" if no_serve else "Open")
                  + f" [bold]{url}/[/]  (API docs: {url}/api/v1/docs)", soft_wrap=True)  # copyable: unbroken
    for name, pw in info.logins.items():
        console.print(f"  log in as [bold]{name}[/] / {pw}", highlight=False)
    if not no_serve:
        run_server(state.url(db), host, port)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("init")(init)
    app.command("serve")(serve)
    app.command("demo")(demo)
