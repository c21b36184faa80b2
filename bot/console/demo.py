"""`tierbot demo`: the whole story on a fresh machine, no tokens, as a readable transcript.

Simulated traffic with a bad int8 rollout is generated and imported through the same services as
`tierbot import`; then the incident plays in Slack: the real bolt app serves on a loopback port,
the Slack sandbox stands in for the workspace, and signed `/tier` commands arrive as from
Slack. What the bot posts is printed as text; the chart it uploads is saved next to the store.
Later issues add the probes, the playbook walk and the approved rollback.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from bot.console import render
from bot.console.slack_console import render_exchange
from bot.console.slack_session import SlackSession
from bot.sandbox.traffic import SCENARIOS, write_files
from bot.settings import Settings
from bot.slack.views.which_tier import COHORT_ACTION
from bot.store import Store, open_store
from bot.telemetry.service import import_file, store_counts, stored_totals
from bot.timeutil import utcnow

DEMO_SCENARIO = "int8_oom_lowram"
DEMO_RATE_PER_MINUTE = 120


def _step(console: Console, title: str, command: str) -> None:
    console.print()
    console.print(Rule(title, align="left"))
    console.print(f"[dim]$ {command}[/dim]", highlight=False)


def _play_slack(
    console: Console, settings: Settings, store: Store, *, end: datetime, out_dir: Path
) -> Path | None:
    """The incident in Slack: signed commands to the real bolt app, the answers as text."""
    chart_path: Path | None = None
    with SlackSession.start(settings, store, clock=lambda: end) as session:
        _step(
            console,
            "6. On call, in Slack: the tiers at a glance",
            "/tier status   (Omar Haddad, in #tierbot-oncall)",
        )
        render_exchange(console, session.command("status"))
        _step(console, "7. Which tier failed?", "/tier failed")
        exchange = session.command("failed")
        buttons = render_exchange(console, exchange)
        for file in exchange.files:
            chart_path = out_dir / file.filename
            chart_path.write_bytes(file.content or b"")
        cohorts = [b for b in buttons if b.action_id.startswith(COHORT_ACTION)]
        cohort = cohorts[0].label.removeprefix("Cohort ") if cohorts else "eu-android-stable"
        _step(console, "8. Support: why did my answer change?", f"/tier cohort {cohort}")
        render_exchange(console, session.command(f"cohort {cohort}"))
    return chart_path


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
    simulator = SCENARIOS[DEMO_SCENARIO](seed=seed, end=end, rate_per_minute=rate_per_minute)
    events_path, cohorts_path = out_dir / "events.ndjson.gz", out_dir / "cohorts.ndjson"

    _step(
        console,
        "1. Simulated traffic: 24 h of baseline, then router-3.2-int8 reaches two cohorts",
        f"tierbot simulate --scenario {DEMO_SCENARIO} --seed {seed} --out {out_dir} --gzip",
    )
    n_events, n_assignments = write_files(simulator, events_path, cohorts_path)
    console.print(f"wrote {n_events:,} router events and {n_assignments} cohort assignments")

    store = open_store(Settings(database_url=f"sqlite:///{db_path}"))
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
        settings = Settings(database_url=f"sqlite:///{db_path}")
        chart_path = _play_slack(console, settings, store, end=end, out_dir=out_dir)
    finally:
        store.close()
    console.print()
    console.print(f"The store is at {db_path} (TIERBOT_DATABASE_URL=sqlite:///{db_path});")
    if chart_path is not None:
        console.print(f"the which-tier chart the bot uploaded is at {chart_path};")
    console.print(f"the simulated files are in {out_dir}/.")
    console.print("Try it yourself: tierbot console (with the same TIERBOT_DATABASE_URL).")
