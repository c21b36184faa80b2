"""Playbooks in Slack, through the real bolt app and the sandbox: the alert button's walk."""

from __future__ import annotations

from datetime import timedelta

from bot.console.slack_session import SlackSession
from bot.db import transaction
from bot.playbooks.service import Playbooks
from bot.probes.notify import Alert
from bot.rollouts.approvals import reject
from bot.sandbox.slack_driver import Reply
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID, SandboxMessage
from bot.settings import Settings
from bot.slack.playbooks import SlackPlaybookNotifier
from bot.slack.views.probes import alert_opened_message
from bot.store import Store
from tests.diagnosis.conftest import END, load_scenario


def _step(session: SlackSession, fallback: str) -> SandboxMessage:
    """Wait for the step message whose notification text is `fallback`."""

    def found() -> SandboxMessage | None:
        return next(
            (m for m in session.slack.messages(ONCALL_CHANNEL_ID) if m.text == fallback), None
        )

    return session.slack.wait_for(found, timeout=30, what=fallback)


def _click_snapshot(session: SlackSession, message: SandboxMessage, action_id: str, user: str
                    ) -> Reply:  # fmt: skip
    """Press a button on the message as it was (a second click from a stale client)."""
    return session.driver.click(message, action_id, user=user, as_shown=True)


def test_alert_button_walks_triage_into_the_rollback(store: Store, pb_settings: Settings) -> None:
    load_scenario(store, "bad_quant_build", seed=3)
    with SlackSession.start(pb_settings, store, clock=lambda: END) as session:
        listed = session.command("playbook list")
        assert "`which-tier-failed`" in listed.messages[0].text

        alert = Alert("edge/router-3.3-int8", "edge", "open", END, None, 3, 0, None)
        web = session.slack.web_client()
        posted = web.chat_postMessage(channel=ONCALL_CHANNEL_ID,
                                      **alert_opened_message(alert, None).to_dict())  # fmt: skip
        alert_message = session.slack.message(ONCALL_CHANNEL_ID, str(posted["ts"]))
        session.click(alert_message, "playbook_start", "Start playbook which-tier-failed")

        confirm = _step(session, "Roll back a bad quantized edge build: Confirm the build is the "
                                 "cause (open)")  # fmt: skip
        assert confirm.thread_ts == alert_message.ts
        thread = [m for m in session.slack.messages(ONCALL_CHANNEL_ID) if m.thread_ts]
        texts = [m.text for m in thread]
        assert texts[0].startswith(":clipboard: Playbook *Which tier failed? (triage)*")
        assert "Which tier failed? (triage): Pick the playbook (answered)" in texts
        assert any(t.startswith(":arrow_right_hook: Handed over") for t in texts)

        session.click(confirm, "playbook_step_0", "Done")
        decision = _step(session, "Roll back a bad quantized edge build: Roll back? (open)")
        done = session.slack.message(ONCALL_CHANNEL_ID, confirm.ts)
        assert done.text.endswith("(done)") and done.edits >= 1
        assert "Done by <@U0ONCALL>" in str(done.blocks)
        assert "playbook_step_0" not in str(done.blocks)

        stale = _click_snapshot(session, confirm, "playbook_step_0", DRI_USER_ID)
        assert stale.status == 200
        said = session.slack.wait_for(
            lambda: next((r for r in session.slack.responses() if "already" in str(r.body)), None),
            timeout=30,
            what="the refusal of the second click",
        )
        assert "was already done by <@U0ONCALL>" in said.body["text"]
        assert said.body.get("response_type") == "ephemeral"

        session.click(decision, "playbook_step_0", "Request the rollback")
        waiting = _step(session, "Roll back a bad quantized edge build: Wait for a DRI to approve "
                                 "and the rollback to run (open)")  # fmt: skip
        assert "Rollback #1 is *requested*" in str(waiting.blocks)

        status = session.command("playbook status")
        assert "*Roll back a bad quantized edge build*" in status.messages[0].text
        assert "waiting `await_approval`" in status.messages[0].text

        # the requester withdraws; the tick moves the run on and posts in the same thread
        with transaction(store.sessions) as db:
            reject(session=db, settings=pb_settings.rollouts, request_id=1,
                   rejecter="U0ONCALL", reason="withdrawn: wrong cohort", now=END)  # fmt: skip
        background = Playbooks(store, pb_settings, SlackPlaybookNotifier(web))
        assert background.tick(END + timedelta(seconds=30)) == 1
        chase = _step(session, "Roll back a bad quantized edge build: The rollback did not run "
                               "(open)")  # fmt: skip
        assert chase.thread_ts == alert_message.ts and "*rejected*" in str(chase.blocks)
        waited = session.slack.message(ONCALL_CHANNEL_ID, waiting.ts)
        assert waited.text.endswith("(done)") and "Continue now" not in str(waited.blocks)


def test_playbook_run_command_and_usage(store: Store, pb_settings: Settings) -> None:
    with SlackSession.start(pb_settings, store, clock=lambda: END) as session:
        bad = session.command("playbook fly")
        assert "did not understand" in str(bad.ephemeral)
        session.command("playbook run stale-edge-config")
        first = _step(
            session, "Stale edge config (config hash drift): What the cohort should run (open)"
        )
        assert "Retry" in str(first.blocks) and "no cohort to show" in str(first.blocks)
        missing = session.command("playbook run no-such-playbook")
        assert "no playbook named 'no-such-playbook'" in str(missing.ephemeral) or any(
            "no playbook named" in str(r.body) for r in session.slack.responses()
        )


def test_a_run_from_an_alert_knows_its_target() -> None:
    from bot.slack.playbooks import alert_inputs

    drift = alert_inputs(":rotating_light: edge probe failing: config/eu-android-stable: 3 devices")
    assert drift["cohort"] == "eu-android-stable" and drift["tier"] == "edge"
    assert alert_inputs(":rotating_light: edge probe failing: edge/b-int8")["model_id"] == "b-int8"
    assert alert_inputs("something else") == {"alert": "something else"}
