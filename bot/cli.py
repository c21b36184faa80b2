"""The `tierbot` command: each command parses, calls a service, renders."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bot.buildhealth.cli import register as register_build_health_commands
from bot.console import render
from bot.db import make_engine, transaction
from bot.errors import TierbotError, error_id_for
from bot.incidents.cli import cli_actor
from bot.incidents.cli import register as register_incident_commands
from bot.incidents.reports import record_which_tier
from bot.migrate import current_revision, head_revision, upgrade
from bot.playbooks.cli import register as register_playbook_commands
from bot.probes.cli import register as register_probe_commands
from bot.rollouts.cli import register as register_rollback_commands
from bot.settings import Settings, get_settings
from bot.settings_reference import register as register_settings_commands
from bot.store import Store, open_store
from bot.telemetry.contract import rfc3339_to_datetime
from bot.telemetry.pull import PullError, poll
from bot.telemetry.readers import InputError
from bot.telemetry.service import (
    RecordKind,
    import_file,
    prune_raw_events,
    store_counts,
    stored_totals,
)
from bot.telemetry.summary import IngestSummary
from bot.timeutil import parse_duration, utcnow

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="The database schema (Alembic migrations).")
import_app = typer.Typer(no_args_is_help=True, help="Import router events or cohort assignments.")
app.add_typer(db_app, name="db")
cohort_app = typer.Typer(no_args_is_help=True, help="Cohorts: which build they run, since when.")
app.add_typer(import_app, name="import")
app.add_typer(cohort_app, name="cohort")

out = Console()
err = Console(stderr=True)

EXIT_REJECTED = 2


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


def _store() -> Store:
    return open_store(_settings())


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply pending migrations to the configured database."""
    engine = make_engine(_settings().database_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    out.print(f"database at revision {after} (was {before or 'empty'})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one tierbot knows."""
    engine = make_engine(_settings().database_url)
    out.print(f"current: {current_revision(engine) or 'empty'}  head: {head_revision()}")


def _import(kind: RecordKind, path: str, as_json: bool) -> None:
    settings = _settings()
    store = open_store(settings)
    show_progress = err.is_terminal and not as_json
    try:
        if show_progress:
            with Progress(
                TextColumn("importing {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task(path, total=None)
                summary = import_file(
                    store.engine,
                    kind,
                    path,
                    batch_size=settings.ingest_batch_size,
                    on_open=lambda size: progress.update(task, total=size),
                    progress=lambda done: progress.update(task, completed=done),
                )
        else:
            summary = import_file(store.engine, kind, path, batch_size=settings.ingest_batch_size)
    except InputError as exc:
        _fail(str(exc))
    finally:
        store.close()
    _report(summary, as_json)


def _report(summary: IngestSummary, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(summary.to_dict()).decode() + "\n")
    else:
        render.ingest_summary(out, summary)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
FileArgument = Annotated[str, typer.Argument(help="NDJSON file (.gz accepted), or - for stdin.")]


@import_app.command("events")
def import_events(file: FileArgument, as_json: JsonOption = False) -> None:
    """Import router events (NDJSON). Exit status 2 when some lines were rejected."""
    _import("router_events", file, as_json)


@import_app.command("cohorts")
def import_cohorts(file: FileArgument, as_json: JsonOption = False) -> None:
    """Import cohort assignments (NDJSON or a JSON array). Exit status 2 when some were rejected."""
    _import("cohort_assignments", file, as_json)


@import_app.command("rollups")
def import_rollups(
    file: FileArgument,
    as_json: JsonOption = False,
    source: Annotated[str, typer.Option(help="Collector of records naming none.")] = "default",
) -> None:
    """Import per-minute rollups (docs/data.md); a resend by the same source replaces."""
    from bot.telemetry.rollup_ingest import import_rollup_file

    store = _store()
    try:
        summary = import_rollup_file(store.engine, file, collector=source[:64])
    except InputError as exc:
        _fail(str(exc))
    finally:
        store.close()
    _report(summary, as_json)


@app.command()
def pull(
    source: Annotated[str | None, typer.Option(help="Only this pull source.")] = None,
) -> None:
    """Poll the configured pull sources once, now."""
    settings = _settings()
    sources = [s for s in settings.pull_sources if source is None or s.name == source]
    if not sources:
        _fail(f"no pull source named {source!r}" if source else "no pull sources configured")
    store = open_store(settings)
    failed = False
    try:
        for item in sources:
            try:
                result = poll(store.engine, item, max_body_bytes=settings.ingest_max_body_bytes)
            except PullError as exc:
                err.print(f"[red]pull failed:[/red] {exc}", highlight=False)
                failed = True
                continue
            out.print(
                f"{item.name}: {result.pages} page(s), {result.stored} stored, "
                f"{result.duplicates} duplicates, {result.rejected} rejected; "
                f"cursor {result.cursor}"
            )
    finally:
        store.close()
    if failed:
        raise typer.Exit(1)


@app.command()
def prune(
    older_than: Annotated[
        str | None, typer.Option(help="Age, e.g. 14d (default: the retention setting).")
    ] = None,
) -> None:
    """Delete raw router events past retention; rollups stay."""
    settings = _settings()
    age = parse_duration(older_than) if older_than else timedelta(days=settings.retention_days)
    store = open_store(settings)
    try:
        with transaction(store.sessions) as session:
            pruned = prune_raw_events(session=session, older_than=utcnow() - age)
    finally:
        store.close()
    out.print(f"pruned {pruned:,} raw router events older than {age}")


@app.command()
def stats() -> None:
    """What the store holds, per tier and cohort."""
    store = _store()
    try:
        with store.sessions() as session:
            render.stored_totals(out, stored_totals(session=session), store_counts(session=session))
    finally:
        store.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 3000,
    socket_mode: Annotated[
        bool,
        typer.Option(
            "--socket-mode", help="Reach Slack over Socket Mode (SLACK_APP_TOKEN), not HTTP."
        ),
    ] = False,
) -> None:
    """Run the server: Slack (/slack/events or Socket Mode), ingest API, health, metrics."""
    import uvicorn

    from bot.app import create_server_app
    from bot.migrate import schema_lag

    settings = _settings()
    store = open_store(settings, migrate=False)  # migrations run once, before the replicas
    lag = schema_lag(store.engine)
    if lag is not None:
        logging.getLogger("tierbot").warning("%s; /readyz answers 503 until then", lag)
    asgi = create_server_app(settings, store, socket_mode=socket_mode)
    uvicorn.run(asgi, host=host, port=port, log_level="info")


@app.command("which-tier")
def which_tier_command(
    end: Annotated[
        str | None, typer.Option(help="End of the window, RFC 3339 (default: now).")
    ] = None,
    window: Annotated[str, typer.Option(help="The window judged, e.g. 30m.")] = "30m",
    baseline: Annotated[str, typer.Option(help="The baseline before it, e.g. 24h.")] = "24h",
    as_json: JsonOption = False,
) -> None:
    """Which tier failed: edge, cloud or the router, with the slice that explains it."""
    from bot.console.which_tier import render_report
    from bot.diagnosis.service import which_tier

    settings = _settings()
    when = rfc3339_to_datetime(end) if end else utcnow()
    store = open_store(settings)
    try:
        with store.sessions() as session:
            report = which_tier(
                session=session,
                budgets=settings.budgets,
                end=when,
                window=parse_duration(window),
                baseline=parse_duration(baseline),
            )
        with transaction(store.sessions) as session:  # on the activity log: incident timelines
            record_which_tier(
                session=session, report=report, now=utcnow(), actor=cli_actor(), source="cli"
            )
    finally:
        store.close()
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render_report(out, report)


@cohort_app.command("show")
def cohort_show(
    name: Annotated[str, typer.Argument(help="The cohort.")],
    as_json: JsonOption = False,
) -> None:
    """Which build a cohort runs on each tier, since when, its residency and its history."""
    from bot.buildhealth.service import cohort_staleness
    from bot.console.cohort import render_cohort
    from bot.rollouts.service import cohort_history, current

    settings = _settings()
    store = open_store(settings)
    now = utcnow()
    try:
        with store.sessions() as session:
            history = cohort_history(session=session, cohort=name)
            staleness = cohort_staleness(
                session=session, cohort=name, end=now, settings=settings.build_health
            )
    finally:
        store.close()
    if as_json:
        document = {
            "cohort": name,
            "current": {tier: a.to_dict() for tier, a in current(history, now).items()},
            "history": [a.to_dict() for a in history],
            "config_staleness": staleness.to_dict() if staleness is not None else None,
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render_cohort(out, name, history, now, staleness)


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="A scenario of the traffic simulator.")] = "healthy",
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the NDJSON files.")] = Path(
        "."
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    rate: Annotated[float, typer.Option(help="Assistant turns per minute.")] = 300,
    gzip_files: Annotated[bool, typer.Option("--gzip", help="Write .ndjson.gz files.")] = False,
) -> None:
    """Write simulated router events and cohort assignments (fault injection included)."""
    from bot.sandbox.demo_incident import demo_incident
    from bot.sandbox.scenarios import SCENARIOS
    from bot.sandbox.traffic import write_files

    known = {**SCENARIOS, "demo_incident": demo_incident}
    if scenario not in known:
        _fail(f"unknown scenario {scenario!r}; choose from {', '.join(sorted(known))}")
    sim = known[scenario](seed=seed, end=utcnow(), rate_per_minute=rate)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".ndjson.gz" if gzip_files else ".ndjson"
    events_path, cohorts_path = out_dir / f"events{suffix}", out_dir / f"cohorts{suffix}"
    n_events, n_cohorts = write_files(sim, events_path, cohorts_path)
    out.print(
        f"wrote {n_events:,} events to {events_path} and {n_cohorts} assignments to {cohorts_path}"
    )


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the demo leaves its files.")] = Path(
        "demo-output"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Play an incident on this machine with no tokens: traffic in, then /tier in the sandbox."""
    from bot.console.demo import run_demo

    run_demo(out, out_dir=out_dir, seed=seed)


@app.command()
def console() -> None:
    """Type /tier commands and press buttons in the terminal (the bot and a local Slack sandbox)."""
    from bot.console.slack_console import run_console
    from bot.console.slack_session import SlackSession

    settings = _settings()
    store = open_store(settings)
    try:
        with SlackSession.start(settings, store) as session:
            run_console(out, session)
    finally:
        store.close()


register_probe_commands(app)
register_settings_commands(app)
register_incident_commands(app)
register_playbook_commands(app)
register_build_health_commands(app)
register_rollback_commands(app)


def main() -> None:
    """Entry point: one place turns errors into words."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except TierbotError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except (InputError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except Exception as exc:
        error_id = error_id_for(exc)
        err.print(f"[red]error:[/red] unexpected failure, error id {error_id} (details in the log)")
        sys.exit(1)
