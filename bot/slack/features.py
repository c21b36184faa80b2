"""Every Slack feature tierbot has, in the order `/tier help` lists them.

A feature module has `SUBCOMMANDS` (a tuple of `Subcommand`) and `register(app, deps)` for its
buttons, views and events. Adding a feature is one line here.
"""

from __future__ import annotations

from types import ModuleType

from slack_bolt import App

from bot.slack import build_health, core_commands, incidents, playbooks, probes, rollbacks
from bot.slack.deps import SlackDeps
from bot.slack.subcommands import Subcommand

FEATURES: tuple[ModuleType, ...] = (
    core_commands, probes, playbooks, incidents, rollbacks, build_health
)  # fmt: skip


def subcommands() -> dict[str, Subcommand]:
    """Every `/tier` subcommand by name (names are unique across features)."""
    found: dict[str, Subcommand] = {}
    for feature in FEATURES:
        for sub in feature.SUBCOMMANDS:
            if sub.name in found:
                raise RuntimeError(f"two features define `/tier {sub.name}`")
            found[sub.name] = sub
    return found


def register_all(app: App, deps: SlackDeps) -> None:
    for feature in FEATURES:
        feature.register(app, deps)
