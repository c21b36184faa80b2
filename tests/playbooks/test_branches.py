"""Every shipped playbook runs to an end along each branch (each decision's each answer).

The runs post through the Slack notifier into the sandbox Slack, so every step message of every
branch also passes Block Kit validation and is updated to its final state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.playbooks.loader import load_directory
from bot.playbooks.schema import DecisionStep
from bot.playbooks.service import Playbooks
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import ONCALL_CHANNEL_ID
from bot.settings import Settings
from bot.slack.playbooks import SlackPlaybookNotifier
from bot.store import Store
from tests.playbooks.conftest import SHIPPED
from tests.playbooks.walker import drive

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
BRANCHES = [
    (name, step.id, answer.id)
    for name, loaded in sorted(load_directory(SHIPPED).playbooks.items())
    for step in loaded.playbook.steps
    if isinstance(step, DecisionStep)
    for answer in step.answers
]


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.mark.parametrize(("name", "step", "answer"), BRANCHES)
def test_branch_runs_to_an_end(
    store: Store, pb_settings: Settings, slack: SlackSandbox, name: str, step: str, answer: str
) -> None:
    notifier = SlackPlaybookNotifier(slack.web_client())
    playbooks = Playbooks(store, pb_settings, notifier)
    run = playbooks.start(name, user="U0ONCALL", now=NOW, channel=ONCALL_CHANNEL_ID)
    last = drive(playbooks, run.id, NOW, {step: answer})
    assert last.run.state == "finished"
    assert last.steps[-1].kind == "end" and last.steps[-1].state == "done"
    assert not (last.run.outcome or "").startswith(("stopped", "could not"))
    if name == "which-tier-failed" and step == "route":
        expected = {"bad_build": "bad-quantization-rollback", "cloud": "cloud-region-outage",
                    "residency": "residency-violation", "config": "stale-edge-config"}  # fmt: skip
        assert last.run.playbook == expected.get(answer, "which-tier-failed")
    chosen = [s for s in playbooks.detail(last.run.id).steps if s.step_id == step]
    if last.run.playbook == name:
        assert chosen and chosen[0].answer == answer
    for shown in playbooks.detail(last.run.id).steps:  # every step's message shows its end state
        assert shown.message_ts is not None
        message = slack.message(ONCALL_CHANNEL_ID, shown.message_ts)
        assert message.thread_ts == last.run.thread_ts
        assert message.text.endswith(f"({shown.state.replace('_', ' ')})")
        assert "playbook_step_" not in str(message.blocks)


def test_every_playbook_has_a_branch_test() -> None:
    assert {b[0] for b in BRANCHES} == set(load_directory(SHIPPED).playbooks)
