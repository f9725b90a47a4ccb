"""The files `import` reads and `export` writes: their format (from --format or the name) and the checks
that run before any work, so an error names the user's path, not an internal one."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from truthline.errors import Invalid

__all__ = ["IMPORT_FORMATS", "EXPORT_FORMATS", "import_format", "export_format", "check_input", "check_output"]

IMPORT_FORMATS = ("jsonl", "csv", "parquet", "json")
EXPORT_FORMATS = ("jsonl", "csv", "parquet", "preferences")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet",
            ".pq": "parquet"}
ALIASES = {"ndjson": "jsonl", "pq": "parquet"}


def named_format(given: str, formats: tuple[str, ...]) -> str:
    """The format --format names (an alias such as ndjson or pq allowed), or Invalid listing the formats."""
    fmt = ALIASES.get(given.lower(), given.lower())
    if fmt not in formats:
        raise Invalid(f"unknown format {given!r}; use one of: {', '.join(formats)}", field="--format")
    return fmt


def import_format(path: Path, given: str | None) -> str:
    """--format if given, else the format the file's suffix names."""
    if given is not None:
        return named_format(given, IMPORT_FORMATS)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        names = ", ".join(SUFFIXES)
        raise Invalid(f"cannot tell the format of {path.name}: name it {names}, or pass --format "
                      f"{'|'.join(IMPORT_FORMATS)}", field="--format")
    return fmt


def export_format(out: Path, given: str | None) -> str:
    """--format if given, else the one --out's suffix names (jsonl for a name without one, such as
    /dev/stdout). An explicit --format that contradicts the suffix is refused: a .csv file of JSON Lines
    breaks whatever opens it. preferences (a pairwise project's chosen/rejected pairs) are JSON Lines: only
    --format names them, and they go in a .jsonl (or .ndjson) name or one without a suffix."""
    implied = SUFFIXES.get(out.suffix.lower())
    if given is None:
        if implied == "json":
            raise Invalid(f"{out.name}: export writes JSON Lines, not one JSON array; name it .jsonl "
                          "(or pass --format jsonl to write JSON Lines to this name anyway)", field="--out")
        return implied or "jsonl"
    fmt = named_format(given, EXPORT_FORMATS)
    written = "jsonl" if fmt == "preferences" else fmt  # what the file holds
    if implied not in (None, "json", written):
        raise Invalid(f"--format {fmt} does not match --out {out.name} (a {implied} name); drop --format "
                      "or rename the file", field="--format")
    return fmt


def check_input(path: Path) -> None:
    """An input path that is a directory or missing fails now, not as "cannot tell the format"."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))


def check_output(out: Path) -> None:
    """The directory a regular --out file goes in must exist and be writable; checked before the work, and
    named as the user gave it (the file is written under a temporary name beside it)."""
    folder = out.resolve().parent  # through a symlink: its target's directory is where the file goes
    shown = out.parent if folder == out.parent.resolve() else folder  # a symlink's target, where it leads
    if folder.exists() and not folder.is_dir():
        raise Invalid(f"{out}: {shown} is a file, not a directory; pick another --out", field="--out")
    if not folder.is_dir():
        raise Invalid(f"{out}: the directory {shown} does not exist; create it or pick another --out",
                      field="--out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Invalid(f"{out}: the directory {shown} is not writable; pick another --out", field="--out")
