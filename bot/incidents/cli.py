"""`tierbot incident ...`: list incidents, show a timeline, export a postmortem draft."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.activity.service import Entry
from bot.errors import TierbotError
from bot.incidents.export import build_postmortem, write_postmortem
from bot.incidents.service import (
    IncidentView,
    get_incident,
    incident_fields,
    recent_incidents,
    timeline,
)
from bot.settings import Settings, get_settings
from bot.store import open_store
from bot.timeutil import to_rfc3339, utcnow

incident_app = typer.Typer(no_args_is_help=True, help="Incidents: timelines, postmortem drafts.")
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArgument = Annotated[int, typer.Argument(help="The incident's number.")]


def register(app: typer.Typer) -> None:
    """Add the `incident` command group to the tierbot CLI."""
    app.add_typer(incident_app, name="incident")


def cli_actor() -> str:
    """Who acted from a terminal, for the activity log."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a bare container)
        return "cli"


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


def incident_dict(view: IncidentView) -> dict[str, Any]:
    return {
        **incident_fields(view),
        "resolved_at": to_rfc3339(view.resolved_at) if view.resolved_at else None,
        "resolved_by": view.resolved_by,
        "summary": view.summary,
    }


def entry_dict(entry: Entry) -> dict[str, Any]:
    return {
        "at": to_rfc3339(entry.at),
        "kind": entry.kind,
        "actor": entry.actor,
        "subject": entry.subject,
        "incident_id": entry.incident_id,
        "summary": entry.summary,
        "data": entry.data,
    }


def _print_json(document: object) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


@incident_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The newest incidents, open and resolved, with their roles."""
    store = open_store(_settings())
    try:
        with store.sessions() as session:
            views = recent_incidents(session=session, limit=limit)
    finally:
        store.close()
    if as_json:
        _print_json([incident_dict(view) for view in views])
        return
    if not views:
        out.print("no incidents")
        return
    table = Table("#", "title", "status", "opened (UTC)", "commander", "DRI", "scribe")
    for view in views:
        table.add_row(
            str(view.id),
            view.title,
            view.status,
            f"{view.opened_at:%Y-%m-%d %H:%M}",
            view.commander or "-",
            view.dri or "-",
            view.scribe or "-",
        )
    out.print(table)


@incident_app.command("show")
def show_command(incident_id: IdArgument, as_json: JsonOption = False) -> None:
    """One incident and its timeline."""
    store = open_store(_settings())
    try:
        with store.sessions() as session:
            view = get_incident(session=session, incident_id=incident_id)
            entries = timeline(session=session, incident_id=incident_id)
    finally:
        store.close()
    if as_json:
        _print_json(incident_dict(view) | {"timeline": [entry_dict(e) for e in entries]})
        return
    out.print(f"[bold]#{view.id} {view.title}[/bold] ({view.status})", highlight=False)
    for entry in entries:
        out.print(
            f"{entry.at:%H:%M:%S}  {entry.actor or '-':<14} {entry.summary}"
            f"  [dim]{entry.kind}[/dim]",
            highlight=False,
        )


@incident_app.command("export")
def export_command(
    incident_id: IdArgument,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="A .md file or a directory (default: the export setting)."),
    ] = None,
) -> None:
    """Write the postmortem draft (Markdown) and its chart (PNG) next to it."""
    settings = _settings()
    store = open_store(settings)
    try:
        with store.sessions() as session:
            postmortem = build_postmortem(
                session=session,
                incident_id=incident_id,
                budgets=settings.budgets,
                settings=settings.incidents,
                now=utcnow(),
            )
    finally:
        store.close()
    path = write_postmortem(postmortem, out_path or Path(settings.incidents.export_directory))
    chart = f" and {path.parent / postmortem.chart_filename}" if postmortem.chart_png else ""
    out.print(f"wrote {path}{chart}", highlight=False)
