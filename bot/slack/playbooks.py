"""`/tier playbook run|status|list`, the step buttons, and the alert's "Start playbook" button.

Acks only parse; the lazy listeners call `bot.playbooks.service.Playbooks`, whose Slack
notifier posts one message per step in the run's thread and updates it once the step is done.
A press that changes nothing (double click, stale step, lost race) is told to the presser only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.playbooks.press import parse_value
from bot.playbooks.service import Playbooks
from bot.playbooks.views import RunView, StepView
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, guarded
from bot.slack.subcommands import Invocation, Subcommand
from bot.slack.views import playbooks as views

log = logging.getLogger(__name__)
RUN_USAGE = "`/tier playbook run NAME`: walk a playbook step by step in a thread"
STATUS_USAGE = "`/tier playbook status`: the open playbook runs"
LIST_USAGE = "`/tier playbook list`: the playbooks you can run"
_USAGE = f"Usage: {RUN_USAGE}\n{STATUS_USAGE}\n{LIST_USAGE}"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class SlackPlaybookNotifier:
    """Posts a run in its channel's thread: a header, then one message per step."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def run_started(self, run: RunView) -> str | None:
        if run.channel is None:
            return None
        message = views.run_header(run).to_dict()
        posted = self.client.chat_postMessage(
            channel=run.channel, thread_ts=run.thread_ts, **message
        )
        return run.thread_ts or str(posted["ts"])

    def step_changed(self, run: RunView, step: StepView) -> str | None:
        if run.channel is None:
            return None
        message = views.step_message(run, step).to_dict()
        if step.message_ts:
            self.client.chat_update(channel=run.channel, ts=step.message_ts, **message)
            return step.message_ts
        posted = self.client.chat_postMessage(
            channel=run.channel, thread_ts=run.thread_ts, **message
        )
        return str(posted["ts"])

    def run_finished(self, run: RunView) -> None:
        if run.channel is not None and run.outcome and not run.outcome.startswith("handed over"):
            message = views.run_finished(run).to_dict()
            self.client.chat_postMessage(channel=run.channel, thread_ts=run.thread_ts, **message)


def playbooks_for(deps: SlackDeps, client: WebClient) -> Playbooks:
    """The service as Slack uses it: posting with this client, probing with the shared runner."""
    return Playbooks(
        deps.store, deps.settings, SlackPlaybookNotifier(client), probe_runner=deps.probe_runner
    )


def _parse(args: Sequence[str]) -> tuple[str, str | None]:
    words = [a.strip() for a in args]
    if not words or words == ["list"]:
        return ("list", None)
    if words == ["status"]:
        return ("status", None)
    if len(words) == 2 and words[0].lower() == "run" and _NAME.match(words[1].lower()):
        return ("run", words[1].lower())
    shown = " ".join(words)[:60]
    raise UsageError(f"`playbook` did not understand `{shown}`.", _USAGE)


def _playbook(deps: SlackDeps, asked: Invocation, args: tuple[str, str | None]) -> None:
    what, name = args
    service = playbooks_for(deps, asked.client)
    if what == "list":
        message = views.playbook_list(service.catalog())
    elif what == "status":
        message = views.open_runs(service.open_runs())
    else:
        service.start(str(name), user=asked.user, channel=asked.channel, now=deps.clock())
        return  # the notifier posted the run
    asked.client.chat_postMessage(channel=asked.channel, **message.to_dict())


SUBCOMMANDS = (Subcommand("playbook", (RUN_USAGE, STATUS_USAGE, LIST_USAGE), _parse, _playbook),)


_ALERT_TARGET = re.compile(r"(edge|cloud) probe failing: (\S+?):?(?:\s|$)")


def alert_inputs(text: str) -> dict[str, str]:
    """What a run started from a probe alert knows: `input.target`, `input.tier`, and the
    `input.cohort` of a config drift alert (`config/COHORT`) or `input.model_id` of an edge one."""
    found: dict[str, str] = {"alert": text[:500]}
    match = _ALERT_TARGET.search(text)
    if match is None:
        return found
    tier, target = match.group(1), match.group(2)
    found |= {"tier": tier, "target": target}
    if target.startswith("config/"):
        found["cohort"] = target.removeprefix("config/")
    elif target.startswith("edge/"):
        found["model_id"] = target.removeprefix("edge/")
    return found


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, deps: SlackDeps) -> None:
    @guarded
    def start_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        name = str(body["actions"][0].get("value") or "").strip().lower()
        if not _NAME.match(name):
            respond(text="That button names no playbook.", response_type="ephemeral",
                    replace_original=False)  # fmt: skip
            return
        message = body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts")
        playbooks_for(deps, client).start(
            name,
            user=str(body["user"]["id"]),
            channel=str(body["channel"]["id"]),
            thread_ts=str(thread) if thread else None,
            now=deps.clock(),
            inputs=alert_inputs(str(message.get("text") or "")),
        )

    @guarded
    def step_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        try:
            run_id, seq, choice = parse_value(str(body["actions"][0].get("value") or ""))
        except ValueError:
            respond(text="That button is not a playbook step.", response_type="ephemeral",
                    replace_original=False)  # fmt: skip
            return
        pressed = playbooks_for(deps, client).press(
            run_id, seq, choice, user=str(body["user"]["id"]), now=deps.clock()
        )
        if not pressed.changed:
            respond(text=pressed.message, response_type="ephemeral", replace_original=False)

    app.action(views.START_ACTION)(ack=_ack, lazy=[start_clicked])
    app.action(re.compile(rf"^{views.STEP_ACTION}_\d+$"))(ack=_ack, lazy=[step_clicked])
