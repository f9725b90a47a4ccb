"""`truthline` command line: a thin shell over the service layer (`truthline --help`).

Console script entry point: `truthline = "truthline.cli:app"`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import admin, data, infer, results, simulate, users
from .context import DbOption, state

__all__ = ["app"]

app = typer.Typer(
    name="truthline",
    help="Truthline: an open, self-hostable data engine for AI training and evaluation data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def main(
    ctx: typer.Context,
    db: DbOption = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", envvar="TRUTHLINE_AS", help="Act as this user (default: the first admin)."),
    ] = None,
) -> None:
    """Truthline: an open, self-hostable data engine for AI training and evaluation data."""
    state.db = db
    state.as_user = as_user
    ctx.call_on_close(state.dispose)


admin.register(app)
data.register(app)
results.register(app)
infer.register(app)
simulate.register(app)
users.register(app)
