"""`tierbot cohort show`: support's answer to "why did my answer change?"."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from bot.buildhealth.staleness import CohortStaleness
from bot.rollouts.service import Assignment, current


def render_cohort(
    console: Console,
    name: str,
    history: list[Assignment],
    now: datetime,
    staleness: CohortStaleness | None = None,
) -> None:
    in_force = current(history, now)
    console.print(f"[bold]Cohort {name}[/bold]", highlight=False)
    for tier in ("edge", "cloud"):
        a = in_force.get(tier)
        if a is None:
            console.print(f"  {tier}: no assignment in force")
            continue
        since = now - a.effective_at
        hours = since.total_seconds() / 3600
        ago = f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"
        console.print(
            f"  {tier}: runs [bold]{a.model_id}[/bold] "
            f"({a.quantization or 'quantization unknown'}, {a.rollout_percent:g}% of the cohort) "
            f"since {a.effective_at:%Y-%m-%d %H:%M} UTC ({ago}); "
            f"residency {a.residency or 'anywhere'}; config {a.config_hash or '-'}",
            highlight=False,
        )
    if staleness is not None:
        style = "yellow" if staleness.over else "dim"
        console.print(f"  [{style}]config: {staleness.summary()}[/]", highlight=False)
    table = Table(title="History (oldest first)", title_justify="left")
    for column in (
        "effective",
        "tier",
        "build",
        "replaced",
        "quantization",
        "percent",
        "residency",
        "config",
    ):
        table.add_column(column)
    for a in history:
        table.add_row(
            f"{a.effective_at:%Y-%m-%d %H:%M}",
            a.tier,
            a.model_id,
            a.previous_model_id or "-",
            a.quantization or "-",
            f"{a.rollout_percent:g}%",
            a.residency or "anywhere",
            a.config_hash or "-",
        )
    console.print(table)
