"""docs/operations.md keeps up with the code: every metric and every /tier subcommand is in it."""

from __future__ import annotations

from pathlib import Path

from bot.probes.metrics import _HELP as PROBE_METRICS
from bot.slack.features import subcommands
from bot.slack.metrics import ServerMetrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_metric_tierbot_exports_is_explained() -> None:
    text = DOC.read_text(encoding="utf-8")
    server = [family.name for family in ServerMetrics().registry.collect()]
    missing = [name for name in [*server, *PROBE_METRICS] if f"`{name}" not in text]
    assert not missing, f"document these metrics in docs/operations.md (Monitoring): {missing}"


def test_the_runbook_gives_a_command_line_for_every_tier_subcommand() -> None:
    runbook = DOC.read_text(encoding="utf-8").split("## Runbook", 1)[1]
    missing = [name for name in subcommands() if f"`/tier {name}" not in runbook]
    assert not missing, f"add the CLI equivalent of these to the runbook: {missing}"


def test_readme_links_the_operations_guide() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "(docs/operations.md)" in readme
