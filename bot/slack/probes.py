"""`/tier probe [edge|cloud|all]`: probe now, answer with the results, fold them into alerts."""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt import App

from bot.probes.tiers import TierChoice
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError
from bot.slack.subcommands import Invocation, Subcommand
from bot.slack.views.probes import probe_results_message

PROBE_USAGE = "`/tier probe [edge|cloud|all]`: run the health probes now (default all)"
_TIERS: dict[str, TierChoice] = {"edge": "edge", "cloud": "cloud", "all": "all"}


def _parse(args: Sequence[str]) -> TierChoice:
    if not args:
        return "all"
    if len(args) > 1 or args[0].lower() not in _TIERS:
        raise UsageError(
            f"`probe` takes edge, cloud or all (got `{' '.join(args)[:40]}`).",
            f"Usage: {PROBE_USAGE}",
        )
    return _TIERS[args[0].lower()]


def _probe(deps: SlackDeps, asked: Invocation, tier: TierChoice) -> None:
    results = deps.probe_runner.run_round(tier)
    message = probe_results_message(results, tier)
    asked.client.chat_postMessage(channel=asked.channel, **message.to_dict())


SUBCOMMANDS = (Subcommand("probe", (PROBE_USAGE,), _parse, _probe),)


def register(app: App, deps: SlackDeps) -> None:
    """No buttons of its own: the alert's buttons belong to which-tier and playbooks."""
