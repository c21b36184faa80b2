"""The demo's walk on real data: triage hands over to the rollback, which requests it and waits."""

from __future__ import annotations

from datetime import timedelta

from bot.activity.service import entries
from bot.db import transaction
from bot.playbooks.service import Playbooks
from bot.rollouts.approvals import reject
from bot.rollouts.requests import get_request
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END, load_scenario
from tests.playbooks.conftest import RecordingNotifier


def test_bad_quantization_walk(store: Store, pb_settings: Settings, playbooks: Playbooks,
                               notifier: RecordingNotifier) -> None:  # fmt: skip
    load_scenario(store, "bad_quant_build", seed=3)
    run = playbooks.start("which-tier-failed", user="U0ONCALL", now=END, channel="C1",
                          thread_ts="1700000000.000100")  # fmt: skip
    assert run.state == "finished" and run.outcome == "handed over to bad-quantization-rollback"
    triage = playbooks.detail(run.id)
    assert [(s.step_id, s.state) for s in triage.steps] == [
        ("diagnose", "ran"),
        ("probe", "ran"),
        ("route", "answered"),
    ]
    assert triage.steps[2].answer == "bad_build" and triage.steps[2].actor == "tierbot"

    child_id = playbooks.handed_to(run.id)
    assert child_id is not None
    child = playbooks.detail(child_id)
    assert child.run.parent_run_id == run.id and child.run.thread_ts == "1700000000.000100"
    confirm = child.steps[0]
    assert "*router-3.3-int8*" in confirm.text and "router-3.1-fp16" in confirm.text
    assert "eu-android-stable, us-android-stable, us-ios-stable" in confirm.text

    detail = playbooks.walk(child_id, user="U0ONCALL", now=END, answers={"go_no_go": "rollback"})
    assert detail.run.state == "waiting" and detail.run.current_step == "await_approval"
    requested = next(s for s in detail.steps if s.step_id == "request")
    assert requested.state == "ran" and "rollback #" in (requested.summary or "")
    with store.sessions() as session:
        request = get_request(session=session, request_id=1)
    assert (request.cohort, request.target_model_id, request.state) == (
        "eu-android-stable",
        "router-3.1-fp16",
        "requested",
    )
    assert request.requester == "U0ONCALL"

    assert playbooks.tick(END + timedelta(seconds=11)) == 1  # still requested: waits on
    assert playbooks.detail(child_id).run.state == "waiting"
    with transaction(store.sessions) as session:
        reject(session=session, settings=pb_settings.rollouts, request_id=1,
               rejecter="U0ONCALL", reason="wrong cohort", now=END)  # fmt: skip
    assert playbooks.tick(END + timedelta(seconds=22)) == 1
    detail = playbooks.detail(child_id)
    assert detail.run.current_step == "not_executed"
    outcome = next(s for s in detail.steps if s.step_id == "outcome")
    assert outcome.answer == "not_executed" and outcome.actor == "tierbot"

    detail = playbooks.walk(child_id, user="U0ONCALL", now=END)
    assert detail.run.state == "finished" and detail.run.outcome == "done"
    with store.sessions() as session:
        kinds = [e.kind for e in entries(session=session, kind_prefix="playbook.")]
    assert kinds.count("playbook.started") == 2 and kinds.count("playbook.finished") == 2
    assert [r.playbook for r in notifier.started] == ["which-tier-failed",
                                                      "bad-quantization-rollback"]  # fmt: skip
