"""`tierbot demo`: the whole story on a fresh machine, no tokens, as a readable transcript.

Simulated traffic with a badly quantized int8 build is generated and imported through the same
services as `tierbot import`; then the incident plays in Slack, from the probe alert to the
postmortem (`bot.console.demo_story`): the real bolt app serves on a loopback port, the Slack
sandbox stands in for the workspace, and signed commands and clicks arrive as from Slack.
What the bot posts is printed as text; the chart and the postmortem it uploads are saved next
to the store.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from bot.console import render
from bot.console.demo_story import play_story
from bot.sandbox.demo_incident import DEMO_BAD_BUILD, DEMO_COHORT, demo_incident
from bot.sandbox.traffic import write_files
from bot.settings import Settings
from bot.store import open_store
from bot.telemetry.service import import_file, store_counts, stored_totals
from bot.timeutil import utcnow

DEMO_SCENARIO = "demo_incident"
DEMO_RATE_PER_MINUTE = 120


def _step(console: Console, title: str, command: str) -> None:
    console.print()
    console.print(Rule(title, align="left"))
    console.print(f"[dim]$ {command}[/dim]", highlight=False)


def run_demo(
    console: Console,
    *,
    out_dir: Path,
    seed: int,
    rate_per_minute: float = DEMO_RATE_PER_MINUTE,
) -> None:
    """Simulate an incident, import it, and play it through the Slack app in the sandbox."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "tierbot.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    end = utcnow().replace(second=0, microsecond=0)
    simulator = demo_incident(seed=seed, end=end, rate_per_minute=rate_per_minute)
    events_path, cohorts_path = out_dir / "events.ndjson.gz", out_dir / "cohorts.ndjson"

    _step(
        console,
        f"1. Simulated traffic: 24 h of baseline, then {DEMO_BAD_BUILD} reaches {DEMO_COHORT}",
        f"tierbot simulate --scenario {DEMO_SCENARIO} --seed {seed} --out {out_dir} --gzip",
    )
    n_events, n_assignments = write_files(simulator, events_path, cohorts_path)
    console.print(f"wrote {n_events:,} router events and {n_assignments} cohort assignments")

    settings = Settings(database_url=f"sqlite:///{db_path}")
    store = open_store(settings)
    try:
        _step(console, "2. Cohort assignments in", f"tierbot import cohorts {cohorts_path}")
        render.ingest_summary(
            console, import_file(store.engine, "cohort_assignments", str(cohorts_path))
        )
        _step(
            console,
            "3. Router events in (rollups built as they arrive)",
            f"tierbot import events {events_path}",
        )
        render.ingest_summary(console, import_file(store.engine, "router_events", str(events_path)))
        _step(
            console,
            "4. Importing the same file again stores nothing new",
            f"tierbot import events {events_path}",
        )
        render.ingest_summary(console, import_file(store.engine, "router_events", str(events_path)))
        _step(console, "5. What the store holds", "tierbot stats")
        with store.sessions() as session:
            render.stored_totals(
                console, stored_totals(session=session), store_counts(session=session)
            )
        files = play_story(
            console,
            settings,
            store,
            end=end,
            out_dir=out_dir,
            seed=seed,
            rate_per_minute=rate_per_minute,
        )
    finally:
        store.close()
    console.print()
    console.print(f"The store is at {db_path} (TIERBOT_DATABASE_URL=sqlite:///{db_path});")
    if files.chart is not None:
        console.print(f"the which-tier chart the bot uploaded is at {files.chart};")
    if files.postmortem is not None:
        console.print(f"the postmortem draft it exported is at {files.postmortem};")
    console.print(f"the simulated files are in {out_dir}/.")
    console.print("Try it yourself: tierbot console (with the same TIERBOT_DATABASE_URL).")
