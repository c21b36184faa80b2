"""`tierbot demo`: the whole story on a fresh machine, no tokens, as a readable transcript.

For now the story is data in and the diagnosis: simulated traffic with a bad int8 rollout is
generated, imported through the same services as `tierbot import`, summarised, and judged by
`which-tier`; support then looks up the cohort. Later issues add Slack, the probes, the playbook
walk and the rollback.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from bot.console import render
from bot.console.cohort import render_cohort
from bot.console.which_tier import render_report
from bot.diagnosis.service import which_tier
from bot.rollouts.service import cohort_history
from bot.sandbox.traffic import SCENARIOS, write_files
from bot.settings import Settings
from bot.store import open_store
from bot.telemetry.service import import_file, store_counts, stored_totals
from bot.timeutil import utcnow

DEMO_SCENARIO = "int8_oom_lowram"
DEMO_RATE_PER_MINUTE = 120


def _step(console: Console, title: str, command: str) -> None:
    console.print()
    console.print(Rule(title, align="left"))
    console.print(f"[dim]$ {command}[/dim]", highlight=False)


def run_demo(console: Console, *, out_dir: Path, seed: int) -> None:
    """Generate, import and summarise simulated traffic into a fresh store under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "tierbot.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    end = utcnow().replace(second=0, microsecond=0)
    simulator = SCENARIOS[DEMO_SCENARIO](seed=seed, end=end, rate_per_minute=DEMO_RATE_PER_MINUTE)
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
        _step(console, "6. On call: which tier failed?", "tierbot which-tier")
        with store.sessions() as session:
            report = which_tier(session=session, budgets=Settings().budgets, end=end)
        render_report(console, report)
        suspect_cohorts = [
            s.dimensions["cohort"] for s in report.suspects if "cohort" in s.dimensions
        ]
        changed_cohorts = [c.cohort for c in report.changes]
        cohort = (suspect_cohorts + changed_cohorts + ["eu-android-stable"])[0]
        _step(console, "7. Support: why did my answer change?", f"tierbot cohort show {cohort}")
        with store.sessions() as session:
            render_cohort(console, cohort, cohort_history(session=session, cohort=cohort), end)
    finally:
        store.close()
    console.print()
    console.print(f"The store is at {db_path} (TIERBOT_DATABASE_URL=sqlite:///{db_path});")
    console.print(f"the simulated files are in {out_dir}/.")
