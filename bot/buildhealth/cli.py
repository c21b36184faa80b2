"""`tierbot matrix BUILD`, `tierbot crashes BUILD`, `tierbot staleness [COHORT]`."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.buildhealth import service
from bot.buildhealth.crashes import CrashReport
from bot.buildhealth.matrix import OVER, POSSIBLY_OVER, Matrix
from bot.buildhealth.staleness import config_staleness
from bot.errors import TierbotError
from bot.settings import Settings, get_settings
from bot.store import open_store
from bot.telemetry.contract import rfc3339_to_datetime
from bot.timeutil import parse_duration, utcnow

out = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
EndOption = Annotated[
    str | None, typer.Option("--end", help="The time asked about, RFC 3339 (default: now).")
]
_STYLE = {OVER: "bold red", POSSIBLY_OVER: "yellow", "under": "green", "too_little_traffic": "dim"}


def register(app: typer.Typer) -> None:
    """Add the build health commands to the tierbot CLI."""
    app.command("matrix")(matrix_command)
    app.command("crashes")(crashes_command)
    app.command("staleness")(staleness_command)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


def _end(end: str | None) -> datetime:
    if end is None:
        return utcnow()
    try:
        return rfc3339_to_datetime(end)
    except ValueError as exc:
        raise TierbotError(f"--end: {exc}") from None


def _print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def render_matrix(console: Console, matrix: Matrix) -> None:
    console.print(
        f"[bold]{matrix.model_id}[/bold] ({matrix.tier}): {matrix.window_start:%Y-%m-%d %H:%M} "
        f"to {matrix.window_end:%H:%M} UTC, budget {matrix.budget_error_rate:.1%} errors; "
        f"cells under {matrix.min_requests:,} requests are too thin to judge",
        highlight=False,
    )
    table = Table(title="Cells, worst first", title_justify="left")
    for name in ("device class", "OS", "requests", "error rate", "99% bounds", "status", "p95",
                 "top error codes"):  # fmt: skip
        table.add_column(name)
    for c in matrix.cells:
        bounds = f"{_pct(c.error_rate_lower)}-{_pct(c.error_rate_upper)}" if c.error_rate else "-"
        table.add_row(
            c.device_class or "-",
            c.os_version or "-",
            f"{c.requests:,}",
            _pct(c.error_rate),
            bounds,
            f"[{_STYLE.get(c.status, '')}]{c.status.replace('_', ' ')}[/]",
            "-" if c.p95_latency_ms is None else f"{c.p95_latency_ms:,.0f} ms",
            ", ".join(f"{code} x{n:,}" for code, n in c.top_error_codes),
        )
    console.print(table)


def render_crashes(console: Console, report: CrashReport) -> None:
    compared = ", ".join(report.predecessors) or "no earlier build: none is called new"
    console.print(
        f"[bold]{report.model_id}[/bold] ({report.tier}): {report.total_fingerprints:,} "
        f"fingerprints, {report.total_events:,} crash events; compared with {compared}",
        highlight=False,
    )
    table = Table(title="Top crash fingerprints", title_justify="left")
    for name in ("fingerprint", "new", "events", "first seen", "last seen", "OS", "devices"):
        table.add_column(name)
    for f in report.fingerprints:
        table.add_row(
            f.fingerprint,
            {True: "[bold red]new[/]", False: "no", None: "-"}[f.new],
            f"{f.events:,}",
            f"{f.first_seen:%Y-%m-%d %H:%M}",
            f"{f.last_seen:%Y-%m-%d %H:%M}",
            ", ".join(f"{k} {v:,}" for k, v in f.os_versions.most_common()),
            ", ".join(f"{k} {v:,}" for k, v in f.device_classes.most_common()),
        )
    console.print(table)


def matrix_command(
    build: Annotated[str, typer.Argument(help="The model build, e.g. router-3.2-int8.")],
    end: EndOption = None,
    window: Annotated[str, typer.Option(help="The window, e.g. 6h.")] = "24h",
    as_json: JsonOption = False,
) -> None:
    """A build's compatibility matrix: device class x OS version against the tier budget."""
    settings = _settings()
    span = parse_duration(window)
    store = open_store(settings)
    try:
        with store.sessions() as session:
            matrix = service.matrix(
                session=session, model_id=build, end=_end(end), window=span, settings=settings
            )
    finally:
        store.close()
    if as_json:
        _print_json(matrix.to_dict())
    else:
        render_matrix(out, matrix)


def crashes_command(
    build: Annotated[str, typer.Argument(help="The model build.")],
    end: EndOption = None,
    as_json: JsonOption = False,
) -> None:
    """A build's top crash fingerprints, where they hit, and which are new with it."""
    settings = _settings()
    store = open_store(settings)
    try:
        with store.sessions() as session:
            report = service.crashes(
                session=session, model_id=build, end=_end(end), settings=settings
            )
    finally:
        store.close()
    if as_json:
        _print_json(report.to_dict())
    else:
        render_crashes(out, report)


def staleness_command(
    cohort: Annotated[str | None, typer.Argument(help="One cohort (default: all).")] = None,
    end: EndOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per cohort: the share of traffic on a config hash other than the canonical one."""
    settings = _settings()
    store = open_store(settings)
    try:
        with store.sessions() as session:
            when = _end(end)
            if cohort is not None:
                one = service.cohort_staleness(
                    session=session, cohort=cohort, end=when, settings=settings.build_health
                )
                items = [one] if one is not None else []
            else:
                items = config_staleness(session=session, end=when, settings=settings.build_health)
    finally:
        store.close()
    if as_json:
        _print_json({"cohorts": [i.to_dict() for i in items]})
        return
    if not items:
        out.print("no cohort has a canonical config hash")
    for item in items:
        style = "bold red" if item.sustained else ("yellow" if item.over else "green")
        out.print(f"[{style}]{item.cohort}[/]: {item.summary()}", highlight=False)
