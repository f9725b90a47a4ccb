"""Project and data commands: `project create|list`, `import`, `export`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
import yaml
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.markup import escape
from rich.table import Table

from truthline.errors import Invalid

from .context import DbOption, console, err_console, given_on_command_line, handle_errors, method_or_default, state
from .files import check_input, check_output, export_format, import_format

project_app = typer.Typer(help="Create and list projects.", no_args_is_help=True)
ProjectArg = Annotated[str, typer.Argument(help="Project id or exact name.")]


def resolve_project(engine: Any, actor: Any, ref: str) -> Any:
    """A project by id (digits) or by exact name."""
    from truthline.services import projects

    if ref.isascii() and ref.isdigit():  # not "²" or "١", which isdigit() also accepts
        with given_on_command_line("PROJECT"):
            return projects.get_project(engine, actor, int(ref))
    matches = [p for p in projects.list_projects(engine, actor) if p.name == ref]
    if not matches:
        raise Invalid(f"no project named {ref!r}; `truthline project list` shows them", field="PROJECT")
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise Invalid(f"{len(matches)} projects are named {ref!r} (ids {ids}); give the id instead", field="PROJECT")
    return matches[0]


def _refuse_repeated_keys(root: yaml.Node | None) -> None:
    """Invalid for a key given twice in one mapping: PyYAML keeps the last silently, so `name: Q` then
    `name: R` would create a project the user did not mean. Checked on the composed document, before
    `<<: *anchor` merges copy keys around (keys a merge brings in may be overridden: that is what merges are
    for)."""
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in visited:  # an alias is the node it names: checked once
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                stack += [key_node, value_node]
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if key in seen:
                    raise Invalid(f"key {key_node.value!r} appears twice (first on line {seen[key]}); keep one",
                                  field="--config", line=line)
                seen[key] = line
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _safe_load_unique(text: str) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        _refuse_repeated_keys(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def load_config(path: Path) -> dict[str, Any]:
    """A project spec from YAML (or JSON, a YAML subset); errors name the line."""
    try:
        spec = _safe_load_unique(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise Invalid(f"{path}: not valid YAML ({exc.problem})", field="--config", line=line) from None
    except UnicodeDecodeError:
        raise Invalid(f"{path}: not a UTF-8 text file", field="--config") from None
    if not isinstance(spec, dict):
        raise Invalid(f"{path}: expected a mapping of project fields (name, task_type, labels, ...)", field="--config")
    return spec


@project_app.command("create")
@handle_errors
def project_create(
    config: Annotated[Path, typer.Option("--config", help="YAML file with the project spec.")],
    db: DbOption = None,
) -> None:
    """Create a project from a YAML spec (name, task_type, labels, guidelines, overlap, pay_cents, ...)."""
    from truthline.services import projects

    spec = load_config(config)
    engine = state.engine(db)
    project = projects.create_project(engine, state.actor(engine), spec)
    console.print(f"Created project [bold]#{project.id}[/] {escape(repr(project.name))}.", highlight=False)


@project_app.command("list")
@handle_errors
def project_list(db: DbOption = None) -> None:
    """List the projects you can see."""
    from truthline.services import projects

    engine = state.engine(db)
    table = Table("id", "name", "task type", "labels", "overlap", "status")
    for p in projects.list_projects(engine, state.actor(engine)):
        table.add_row(str(p.id), escape(p.name), p.task_type, escape(answers_text(p)), str(p.overlap), p.status)
    console.print(table)


def answers_text(p: Any) -> str:
    """What a project's answers are, in one cell: its labels, a rating's scale, a numeric project's range."""
    if p.scale is not None:  # up to 200 values: the scale says it in one line
        step = "" if p.scale["step"] == 1 else f" by {p.scale['step']}"
        return f"scale {p.scale['min']} to {p.scale['max']}{step}"
    if p.range is not None:  # numeric: no labels to list
        return numbers_text(p.range, p.tolerance)
    return ", ".join(p.labels) if getattr(p, "labels", None) else ""


def numbers_text(bounds: dict[str, Any], tolerance: float | None) -> str:
    """"numbers 0 to 100", "numbers ≥ 0", "any number", with ", tolerance 2" when answers may be off by some."""
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None:
        text = f"numbers {low} to {high}"
    elif low is not None:
        text = f"numbers ≥ {low}"
    elif high is not None:
        text = f"numbers ≤ {high}"
    else:
        text = "any number"
    return f"{text}, tolerance {tolerance}" if tolerance else text


class _Counting:
    """A binary reader that moves a progress bar by the bytes read (in steps: per-line updates cost)."""

    STEP = 1 << 20

    def __init__(self, raw: BinaryIO, progress: Progress, task: Any) -> None:
        self._raw, self._progress, self._task = raw, progress, task
        self._done = self._shown = 0

    def _count(self, n: int) -> None:
        self._done += n
        if self._done - self._shown >= self.STEP:
            self._progress.update(self._task, completed=self._done)
            self._shown = self._done

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._count(len(data))
        return data

    def readline(self, n: int = -1) -> bytes:
        data = self._raw.readline(n)
        self._count(len(data))
        return data

    def __iter__(self) -> Any:
        for line in self._raw:
            self._count(len(line))
            yield line
        self._progress.update(self._task, completed=self._done)

    def __getattr__(self, name: str) -> Any:  # readable/seekable/closed... for csv's TextIOWrapper
        return getattr(self._raw, name)


def _bytes_progress(on_stderr: bool = False) -> Progress:
    out = err_console if on_stderr else console
    # disabled off a terminal: nothing to animate there, and a transient bar would leave a blank line
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
        console=out, transient=True, disable=not out.is_terminal,
    )


class _ImportProgress:
    """Two phases: a bar over the file's bytes while it is read, then a spinner while the database is
    written (the bar sat at 100% meanwhile, looking stuck)."""

    def __init__(self, name: str, size: int) -> None:
        self.bytes = _bytes_progress()
        self.task = self.bytes.add_task(f"Reading {escape(name)}", total=size)
        self._writing = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=console, transient=True, disable=not console.is_terminal)

    def __enter__(self) -> _ImportProgress:
        self.bytes.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bytes.stop()
        self._writing.stop()

    def then_writing(self, records: Iterable[Any]) -> Iterator[Any]:
        """`records`, then the switch to the writing phase once the last one is read."""
        yield from records
        self.bytes.stop()
        self._writing.add_task("Writing to the database", total=None)
        self._writing.start()


LabelsOption = Annotated[
    bool, typer.Option("--labels", help="FILE holds labels (external_id, worker, answer, active_ms), not items.")
]
CreateWorkersOption = Annotated[
    bool, typer.Option("--create-workers", help="With --labels: create missing workers (token-only accounts).")
]


@handle_errors
def import_items(
    project: ProjectArg,
    file: Annotated[Path, typer.Argument(help="Items file: .jsonl, .csv or .parquet (labels: .jsonl).")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="jsonl|csv|parquet|json (default: from the suffix).")] = None,
    labels: LabelsOption = False,
    create_workers: CreateWorkersOption = False,
    db: DbOption = None,
) -> None:
    """Import items, or with --labels existing labels, into a project (all-or-nothing; idempotent)."""
    from truthline.services import importing, label_import, readers

    check_input(file)
    fmt = import_format(file, fmt)
    if labels and fmt not in ("jsonl", "json", "csv"):
        shape = "{external_id, worker, answer, active_ms}"
        raise Invalid(f"--labels reads .jsonl, .json or .csv records {shape}", field="--format")
    if create_workers and not labels:
        raise Invalid("--create-workers only applies with --labels (it creates the workers a label file names)",
                      field="--create-workers")
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    with file.open("rb") as raw, _ImportProgress(file.name, file.stat().st_size) as shown:
        stream: Any = raw if fmt == "parquet" else _Counting(raw, shown.bytes, shown.task)
        read = readers.read_label_records(stream, fmt) if labels else importing.read_records(stream, fmt)
        records = shown.then_writing(read)
        if labels:
            done = label_import.import_annotations(engine, actor, proj.id, records, create_workers=create_workers)
        else:
            report = importing.import_items(engine, actor, proj.id, records)
    if labels:
        console.print(
            f"Project #{proj.id}: {done.created} labels created, {done.unchanged} unchanged,"
            f" {done.workers_created} workers created."
        )
        if done.differing:
            console.print(f"note: {done.differing:,} of the unchanged labels differ from the answer already stored "
                          "for that worker and item; the stored answer was kept", highlight=False)
    else:
        console.print(
            f"Project #{proj.id}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged."
        )


class _CountingWriter:
    def __init__(self, raw: BinaryIO, progress: Progress, task: Any) -> None:
        self._raw, self._progress, self._task = raw, progress, task
        self.written = 0

    def write(self, data: bytes) -> int:
        n = self._raw.write(data)
        self.written += len(data)
        self._progress.advance(self._task, len(data))
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


@handle_errors
def export(
    project: ProjectArg,
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="jsonl|csv|parquet (default: from the --out suffix; jsonl without one); preferences: a "
                         "pairwise project's chosen/rejected pairs (RLHF/DPO), as JSON Lines.")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="Truth-inference method for the answer column (default: settings.default_method).")] = None,
    probabilities: Annotated[bool, typer.Option(
        "--probabilities", help="Add each label's probability per item (soft labels).")] = False,
    db: DbOption = None,
) -> None:
    """Export items with their inferred answer, confidence and every raw annotation."""
    from truthline.services import exporting

    if not out.name:
        raise Invalid(f"--out {str(out)!r} names no file", field="--out")
    fmt = export_format(out, fmt)
    # A regular file is written under a temporary name and renamed, so a failure never leaves half a file
    # under the real one. A device or pipe (a FIFO, /dev/stdout) is written in place, appending: /dev/stdout
    # leads to whatever the shell opened, and resolving it renamed a file over the one `>>` appends to (or
    # failed on a pipe's "pipe:[N]"), while opening it for writing would truncate that file.
    direct = str(out).startswith(("/dev/", "/proc/")) or (out.exists() and not out.is_file())
    if not direct:
        check_output(out)
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    target = out if direct else out.resolve()  # through a symlink: write its target, keep the link
    tmp = target if direct else target.with_name(target.name + ".partial")
    to_stdout = direct and _is_stdout(target)  # then the progress and the note go to stderr, not into the data
    try:
        with _opened(tmp, "ab" if direct else "wb", out) as raw, _bytes_progress(on_stderr=to_stdout) as progress:
            task = progress.add_task(f"Exporting project #{proj.id}", total=None)
            writer = _CountingWriter(raw, progress, task)
            exporting.export(engine, actor, proj.id, fmt, writer, method=method_or_default(method),
                             probabilities=probabilities)
        if not direct:
            tmp.replace(target)
    finally:
        if not direct:
            tmp.unlink(missing_ok=True)
    (err_console if to_stdout else console).print(
        f"Wrote {escape(str(out))} ({writer.written:,} bytes, {fmt}).")


def _opened(path: Path, mode: str, shown_as: Path) -> BinaryIO:
    """`path` opened; an error names `shown_as`, the user's --out, not the temporary file beside it."""
    try:
        return path.open(mode)  # type: ignore[return-value]
    except OSError as exc:
        exc.filename = str(shown_as)
        raise


def _is_stdout(path: Path) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):
        return False


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
    app.command("import")(import_items)
    app.command("export")(export)
