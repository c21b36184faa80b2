"""The incident `tierbot demo` plays in Slack, from the first probe alert to the postmortem.

An int8 build with a broken quantization scale reached one cohort. The edge probe catches it on
the golden set; the alert's button starts triage, which hands over to the rollback playbook;
the routing DRI approves in the sandbox; the rollback executes through the builtin backend,
the probes pass on the old build, and the cohort's error rate recovers. Everything goes through
the real bolt app; this module only plays the people and the clock, and prints what the bot
posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console
from rich.rule import Rule

from bot.console.slack_console import render_exchange, render_messages
from bot.console.slack_session import Exchange, SlackSession
from bot.db import transaction
from bot.playbooks.service import Playbooks
from bot.probes.cli import render_results
from bot.probes.settings import ProbeSettings
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.settings import DriSet, RolloutSettings
from bot.sandbox.demo_incident import DEMO_BAD_BUILD, DEMO_COHORT, DEMO_ONNX_NAMES, demo_incident
from bot.sandbox.dri import approval_message_in, executed_and_probed
from bot.sandbox.models import register_demo_builds
from bot.sandbox.slack_models import (
    ALERTS_CHANNEL_ID,
    DRI_CHANNEL_ID,
    DRI_USER_ID,
    SandboxMessage,
)
from bot.settings import Settings
from bot.slack.playbooks import SlackPlaybookNotifier
from bot.slack.rollbacks import rollback_flow
from bot.slack.views.incidents import EXPORT_ACTION
from bot.slack.views.probes import PLAYBOOK_ACTION
from bot.slack.views.rollbacks import APPROVE_ACTION
from bot.store import Store
from bot.telemetry.service import import_file

AFTER_ROLLBACK = timedelta(minutes=25)  # traffic simulated past the rollback
VERIFY_AFTER = timedelta(minutes=16)  # the verification delay has passed by then
SETTLED = timedelta(minutes=22)  # the playbook's settle wait (5 min) is over by then
PROBE_ROUNDS = 3  # what the alert needs (probes.open_after_failures)
AFTER_FILE = "after-rollback.ndjson"


@dataclass
class DemoClock:
    """The demo's "now": pinned to the simulated data, moved on as the story goes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class StoryFiles:
    chart: Path | None
    postmortem: Path | None


def demo_settings(settings: Settings, out_dir: Path) -> Settings:
    """Alerts in #tierbot-alerts, Dana Ortiz as the routing DRI, probes every round."""
    rollouts = RolloutSettings(
        dris=DriSet(users=[DRI_USER_ID]),
        dri_channel=DRI_CHANNEL_ID,
        verification_delay_seconds=300,
    )
    probes = ProbeSettings(model_cache_dir=out_dir / "model-cache", jitter_seconds=0)
    return settings.model_copy(
        update={"slack_alert_channel": ALERTS_CHANNEL_ID, "rollouts": rollouts, "probes": probes}
    )


class Story:
    """The people in the story, at the keyboard of the sandbox Slack."""

    def __init__(self, console: Console, session: SlackSession, clock: DemoClock) -> None:
        self.console, self.session, self.clock = console, session, clock
        self.step_number = 5

    def step(self, title: str, command: str | None = None) -> None:
        self.step_number += 1
        self.console.print()
        self.console.print(Rule(f"{self.step_number}. {title}", align="left"))
        if command is not None:
            self.console.print(f"[dim]$ {command}[/dim]", highlight=False)

    def show(self, exchange: Exchange) -> None:
        render_exchange(self.console, exchange)

    def command(self, text: str, *, who: str = "Omar Haddad, on call") -> Exchange:
        self.console.print(f"[dim]/tier {text}   ({who})[/dim]", highlight=False)
        exchange = self.session.command(text)
        self.show(exchange)
        return exchange

    def step_message(self, fallback: str) -> SandboxMessage | None:
        """The playbook step message whose notification text is `fallback`, once posted."""
        return next((m for m in self.session.slack.messages() if m.text == fallback), None)

    def wait_step(self, fallback: str) -> SandboxMessage:
        return self.session.slack.wait_for(
            lambda: self.step_message(fallback), timeout=60, what=fallback
        )

    def press(
        self,
        message: SandboxMessage,
        action_id: str,
        label: str,
        *,
        user: str | None = None,
        until: Callable[[], object] | None = None,
    ) -> Exchange:
        exchange = self.session.click(message, action_id, label, user=user, until=until)
        self.console.print(f"[dim]{exchange.said}[/dim]", highlight=False)
        self.show(exchange)
        return exchange

    def since(self, seen: set[tuple[str, str]]) -> None:
        """Print what the bot posted on its own since `seen` (background work)."""
        render_messages(self.console, self.session, self.session.new_messages(seen))


def _probe_until_the_alert(story: Story, store: Store, out_dir: Path) -> SandboxMessage:
    story.step(
        "The edge probe: every registered build on the golden set, against the fp32 reference",
        "tierbot probe register-demo && tierbot probe run --tier edge   (x3, as the scheduler)",
    )
    with transaction(store.sessions) as session:
        register_demo_builds(
            session=session,
            now=story.clock(),
            cache_dir=out_dir / "model-cache",
            names=DEMO_ONNX_NAMES,
        )
    seen = story.session.posted()
    runner = story.session.deps.probe_runner
    for round_number in range(1, PROBE_ROUNDS + 1):
        results = runner.run_round("edge")
        if round_number == 1:
            render_results(story.console, results)
        failing = ", ".join(r.target for r in results if not r.ok) or "none"
        story.console.print(f"round {round_number}: failing: {failing}", highlight=False)
    story.console.print(f"[dim]the alert opens after {PROBE_ROUNDS} failed rounds:[/dim]")
    story.since(seen)
    return story.session.slack.wait_for_message(
        ALERTS_CHANNEL_ID, where=lambda m: DEMO_BAD_BUILD in m.text, timeout=30
    )


def _walk_the_playbook(story: Story, alert: SandboxMessage) -> None:
    story.step(
        "The alert's button starts triage; it diagnoses, probes, and hands over to the "
        "rollback playbook"
    )
    confirm = "Roll back a bad quantized edge build: Confirm the build is the cause (open)"
    story.press(
        alert,
        PLAYBOOK_ACTION,
        "Start playbook which-tier-failed",
        until=lambda: story.step_message(confirm),
    )
    story.step("Omar confirms the build, and asks for the rollback")
    decide = "Roll back a bad quantized edge build: Roll back? (open)"
    story.press(
        story.wait_step(confirm),
        "playbook_step_0",
        "Done",
        until=lambda: story.step_message(decide),
    )
    waiting = (
        "Roll back a bad quantized edge build: "
        "Wait for a DRI to approve and the rollback to run (open)"
    )
    story.press(
        story.wait_step(decide),
        "playbook_step_0",
        "Request the rollback",
        until=lambda: story.step_message(waiting),
    )


def _approve(story: Story, flow: RollbackFlow, simulated: Callable[[], int]) -> None:
    story.step("The request reaches the routing DRI (in #routing-dri and by DM)")
    seen = story.session.posted()
    flow.announce(1)
    story.since(seen)
    story.step("Dana Ortiz, the routing DRI, approves; the rollback executes and is probed")
    approval = approval_message_in(story.session.slack, 1, DRI_CHANNEL_ID)

    story.press(
        approval,
        APPROVE_ACTION,
        "Approve (and confirmed)",
        user=DRI_USER_ID,
        until=lambda: executed_and_probed(flow, 1),
    )
    story.step(
        "Devices pick the old build up; 25 more minutes of traffic arrive",
        f"tierbot import events {AFTER_FILE}",
    )
    story.console.print(f"{simulated():,} router events after the rollback")
    story.step("The verification delay has passed: did the cohort recover?")
    story.clock.now += VERIFY_AFTER
    seen = story.session.posted()
    flow.verify_now(1, probe=False)
    story.since(seen)


def play_story(
    console: Console,
    settings: Settings,
    store: Store,
    *,
    end: datetime,
    out_dir: Path,
    seed: int,
    rate_per_minute: float,
) -> StoryFiles:
    """Steps 6 onwards of the demo: the incident in Slack, start to postmortem."""
    clock = DemoClock(end)
    wired = demo_settings(settings, out_dir)
    chart: Path | None = None
    postmortem: Path | None = None
    with SlackSession.start(wired, store, clock=clock) as session:
        story = Story(console, session, clock)
        alert = _probe_until_the_alert(story, store, out_dir)

        story.step("On call, in Slack: the tiers at a glance")
        story.command("status")
        story.step("Which tier failed?")
        failed = story.command("failed")
        for file in failed.files:
            chart = out_dir / file.filename
            chart.write_bytes(file.content or b"")
        story.step("An incident, so that everything from now on lands on its timeline")
        story.command(f"incident start Edge answers failing for {DEMO_COHORT}")

        _walk_the_playbook(story, alert)
        client = session.slack.web_client()
        flow = rollback_flow(session.deps, client)

        def simulate_after() -> int:
            sim = demo_incident(
                seed=seed,
                end=end,
                rate_per_minute=rate_per_minute,
                rolled_back_at=end,
                until=end + AFTER_ROLLBACK,
            )
            cutoff = end.timestamp() * 1000
            path = out_dir / AFTER_FILE
            with path.open("wb") as out:
                for event in sim.events():
                    if _ts_ms(event) >= cutoff:
                        out.write(orjson.dumps(event) + b"\n")
            return import_file(store.engine, "router_events", str(path)).stored

        _approve(story, flow, simulate_after)

        story.step("The playbook goes on by itself: it waits, re-diagnoses, and says so")
        seen = session.posted()
        playbooks = Playbooks(
            store, wired, SlackPlaybookNotifier(client), probe_runner=session.deps.probe_runner
        )
        playbooks.tick(clock.now)
        clock.now = end + SETTLED
        playbooks.tick(clock.now)
        story.since(seen)

        story.step("Support: why did my answer change?")
        story.command(f"cohort {DEMO_COHORT}", who="Riley Chen, support")
        story.step("Resolve, and export the postmortem draft")
        resolved = story.command(f"incident resolve {DEMO_BAD_BUILD} rolled back on {DEMO_COHORT}")

        def shared() -> int:
            return len([f for f in session.slack.files() if f.shared])

        uploads = shared()
        exported = story.press(
            resolved.messages[-1],
            EXPORT_ACTION,
            "Export postmortem",
            until=lambda: shared() > uploads,
        )
        for file in exported.files:
            saved = out_dir / file.filename
            saved.write_bytes(file.content or b"")
            if saved.suffix == ".md":
                postmortem = saved
    return StoryFiles(chart=chart, postmortem=postmortem)


def _ts_ms(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp() * 1000
