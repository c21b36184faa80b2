"""Rich renderings of ingest summaries and store totals (the CLI's half of the front end)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bot.telemetry.service import StoreCounts, StoredTotals
from bot.telemetry.summary import IngestSummary

SHOWN_ERRORS = 20


def ingest_summary(console: Console, summary: IngestSummary) -> None:
    table = Table(title=f"{summary.kind} from {summary.source}", title_justify="left")
    for name in ("stored", "duplicates", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(str(summary.stored), str(summary.duplicates), str(summary.rejected))
    console.print(table)
    for rejection in summary.errors[:SHOWN_ERRORS]:
        console.print(f"  [red]rejected[/red] {rejection}", markup=True, highlight=False)
    hidden = len(summary.errors) - SHOWN_ERRORS + summary.errors_omitted
    if hidden > 0:
        console.print(f"  ... and {hidden} more (all kept in the dead_letters table)")


def stored_totals(console: Console, totals: list[StoredTotals], counts: StoreCounts) -> None:
    console.print(
        f"The store holds {counts.router_events:,} raw router events, "
        f"{counts.cohort_assignments:,} cohort assignments, {counts.dead_letters:,} dead letters."
    )
    table = Table(title="Traffic per tier and cohort (from rollups)", title_justify="left")
    for name, justify in (
        ("tier", "left"), ("cohort", "left"), ("requests", "right"), ("failures", "right"),
        ("failure rate", "right"), ("fallbacks in", "right"), ("from", "left"), ("to", "left"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in totals:
        rate = f"{row.failures / row.requests:.2%}" if row.requests else "-"
        table.add_row(
            row.tier,
            row.cohort,
            f"{row.requests:,}",
            f"{row.failures:,}",
            rate,
            f"{row.retries:,}",
            row.first_minute.strftime("%Y-%m-%d %H:%M") if row.first_minute else "-",
            row.last_minute.strftime("%Y-%m-%d %H:%M") if row.last_minute else "-",
        )
    console.print(table)
