"""`tierbot playbook ...`: the editor's JSON Schema, validation, the list, the open runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.errors import TierbotError
from bot.playbooks.loader import load_path
from bot.playbooks.schema import json_schema
from bot.settings import Settings, get_settings

playbook_app = typer.Typer(no_args_is_help=True, help="Playbooks: validate, list, see open runs.")
out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add the `playbook` command group to the tierbot CLI."""
    app.add_typer(playbook_app, name="playbook")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


def _write_json(document: object) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


@playbook_app.command("schema")
def schema_command() -> None:
    """Print the playbook JSON Schema (point your editor's YAML plugin at it)."""
    _write_json(json_schema())


@playbook_app.command("validate")
def validate_command(
    path: Annotated[
        Path | None, typer.Argument(help="A file or directory (default: the playbook directory).")
    ] = None,
) -> None:
    """Check playbooks; every problem names its file and line. Exit status 1 when any is broken."""
    catalog = load_path(path or _settings().playbooks.directory)
    for name, loaded in sorted(catalog.playbooks.items()):
        out.print(f"[green]ok[/green] {loaded.path} ({name} {loaded.version})", highlight=False)
    for error in catalog.errors:
        err.print(f"[red]error[/red] {error}", highlight=False)
    if catalog.errors:
        raise typer.Exit(1)


@playbook_app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """The playbooks `/tier playbook run NAME` can start."""
    catalog = load_path(_settings().playbooks.directory)
    rows = [
        {
            "name": name,
            "title": loaded.playbook.title,
            "version": loaded.version,
            "steps": len(loaded.playbook.steps),
            "path": loaded.path,
        }
        for name, loaded in sorted(catalog.playbooks.items())
    ]
    if as_json:
        _write_json({"playbooks": rows, "errors": [str(e) for e in catalog.errors]})
        return
    table = Table("name", "title", "steps", "version")
    for row in rows:
        table.add_row(str(row["name"]), str(row["title"]), str(row["steps"]), str(row["version"]))
    out.print(table)
    for error in catalog.errors:
        err.print(f"[red]broken[/red] {error}", highlight=False)


@playbook_app.command("status")
def status_command(as_json: JsonOption = False) -> None:
    """The open playbook runs: where each one is and since when."""
    from bot.playbooks.service import Playbooks
    from bot.store import open_store

    settings = _settings()
    store = open_store(settings)
    try:
        runs = Playbooks(store, settings).open_runs()
    finally:
        store.close()
    if as_json:
        _write_json({"runs": [r.to_dict() for r in runs]})
        return
    if not runs:
        out.print("no open playbook runs")
        return
    table = Table("run", "playbook", "state", "step", "started")
    for run in runs:
        table.add_row(str(run.id), run.playbook, run.state, run.current_step or "-",
                      f"{run.started_at:%Y-%m-%d %H:%M} UTC by {run.started_by}")  # fmt: skip
    out.print(table)
