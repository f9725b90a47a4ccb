"""`python -m truthline.cli ...` runs the same app as the `truthline` console script."""

from truthline.cli import app

app(prog_name="truthline")
