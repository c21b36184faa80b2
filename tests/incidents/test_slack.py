"""`/tier incident ...` and the incident card's buttons: the real bolt app and the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.console.slack_session import SlackSession
from bot.incidents.service import get_incident, timeline
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID, ONCALL_USER_ID
from bot.sandbox.slack_state import SandboxMessage
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END, load_scenario


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield


def _card(session: SlackSession, channel: str, incident_id: int) -> SandboxMessage:
    return next(
        m
        for m in session.slack.messages(channel, include_ephemeral=False)
        if m.text.startswith(f"Incident #{incident_id} (")
    )


def _settled(store: Store, incident_id: int) -> None:
    """Wait until the incident knows its card (stored just after the card is posted)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with store.sessions() as db:
            if get_incident(session=db, incident_id=incident_id).thread_ts is not None:
                return
        time.sleep(0.02)
    raise TimeoutError(f"incident #{incident_id} never stored its card")


def _texts(session: SlackSession, channel: str) -> list[str]:
    return [m.text for m in session.slack.messages(channel, include_ephemeral=False)]


def test_an_incident_in_a_thread_from_start_to_postmortem(
    store: Store, settings: Settings, no_proxy: None
) -> None:
    load_scenario(store, "bad_quant_build", 5, rate=30, baseline=timedelta(hours=2))
    clock = Clock(END - timedelta(minutes=20))
    with SlackSession.start(settings, store, clock=clock) as session:
        started = session.command("incident start edge errors after the int8 rollout")
        assert started.ack.status == 200
        _settled(store, 1)
        card = _card(session, ONCALL_CHANNEL_ID, 1)
        assert "Incident #1: edge errors after the int8 rollout" in str(card.blocks)

        clock.now += timedelta(minutes=1)
        took = session.click(card, "incident_role_commander", "I'm commander")
        assert took.messages[-1].text == f"<@{ONCALL_USER_ID}> is commander of incident #1."
        assert took.messages[-1].thread_ts == card.ts
        again = session.click(card, "incident_role_commander", "I'm commander")
        assert "already is commander" in again.ephemeral[-1]["text"]  # a double click: no change
        assert f"<@{ONCALL_USER_ID}>" in str(session.slack.message(card.channel, card.ts).blocks)

        session.command(f"incident role dri <@{DRI_USER_ID}|dana.ortiz>")
        session.command("incident note rolled back eu-android-stable to router-3.1")
        bad = session.command("incident role boss me")
        assert "is not a role" in bad.ephemeral[0]["text"]

        clock.now = END
        session.command("failed")  # recorded on the timeline of this channel's incident
        status = session.command("incident status")
        assert "#1 edge errors after the int8 rollout" in str(status.messages[-1].blocks)

        clock.now = END + timedelta(minutes=1)
        resolved = session.click(card, "incident_resolve", "Resolve")
        done = resolved.messages[-1]
        assert done.text == "Incident #1 resolved" and done.thread_ts == card.ts
        twice = session.click(card, "incident_export", "Export postmortem")  # card changed
        assert twice.files, "the resolved card offers the export"
        late = session.command("incident resolve #1")
        assert "already resolved" in late.ephemeral[-1]["text"]

        exported = session.click(done, "incident_export", "Export postmortem")
        files = {f.filename: f for f in exported.files}
        assert set(files) == {"incident-1-postmortem.md", "incident-1-postmortem.png"}
        assert files["incident-1-postmortem.png"].content.startswith(b"\x89PNG")  # type: ignore[union-attr]
        assert all(f.thread_ts == card.ts for f in exported.files)
        markdown = (files["incident-1-postmortem.md"].content or b"").decode()

    for expected in (
        "# Postmortem draft: incident #1, edge errors after the int8 rollout",
        f"- **Commander:** @{ONCALL_USER_ID}",
        f"- **Routing DRI:** @{DRI_USER_ID}",
        "## Impact per tier",
        "## Impact per cohort",
        "## Timeline",
        "rolled back eu-android-stable to router-3.1",
        "| which_tier.answered |",
        "| incident.resolved |",
        "![Error rate and p95 per tier](incident-1-postmortem.png)",
    ):
        assert expected in markdown, expected
    with store.sessions() as db:
        kinds = [e.kind for e in timeline(session=db, incident_id=1)]
        assert get_incident(session=db, incident_id=1).status == "resolved"
    assert kinds == [
        "incident.opened",
        "incident.role",
        "incident.role",
        "incident.note",
        "which_tier.answered",
        "incident.resolved",
    ]


def test_an_incident_in_its_own_channel(store: Store, settings: Settings, no_proxy: None) -> None:
    own = settings.model_copy(
        update={"incidents": settings.incidents.model_copy(update={"create_channel": True})}
    )
    with SlackSession.start(own, store, clock=Clock(END)) as session:
        session.command("incident start Cloud region down!")
        created = session.slack.calls("conversations.create")[-1]
        assert created.args["name"] == "inc-1-cloud-region-down"
        channel = str(created.response["channel"]["id"])
        invited = session.slack.calls("conversations.invite")[-1]
        assert invited.args["users"] == ONCALL_USER_ID
        session.slack.wait_for(  # the card in the new channel comes first, then the pointer
            lambda: [t for t in _texts(session, ONCALL_CHANNEL_ID) if f"<#{channel}>" in t],
            timeout=20,
            what="the pointer to the incident channel",
        )
        card = _card(session, channel, 1)

        session.channel = channel  # typed in the incident's channel: no #ID needed
        session.command("incident note failing over to us-east")
        assert any("failing over to us-east" in t for t in _texts(session, channel))
        session.command("incident start a second one")  # opens #2 in its own channel too
        session.slack.wait_for(
            lambda: [t for t in _texts(session, channel) if "#2 (a second one) is handled" in t],
            timeout=20,
            what="the pointer to the second incident's channel",
        )
        session.command("incident note still about the first")
        with store.sessions() as db:
            notes = [
                e.summary for e in timeline(session=db, incident_id=1) if e.kind == "incident.note"
            ]
        assert notes == ["failing over to us-east", "still about the first"]

        session.channel = ONCALL_CHANNEL_ID
        ambiguous = session.command("incident note which one?")
        assert "Several incidents are open (#1, #2)" in ambiguous.ephemeral[-1]["text"]
        named = session.command("incident resolve #1 failed over")
        session.slack.wait_for(
            lambda: [r for r in session.slack.responses() if f"#1 is in <#{channel}>" in r.text],
            timeout=20,
            what="where the resolved incident is",
        )
        assert named.ephemeral == [] or "is in" in named.ephemeral[-1]["text"]
        assert "failed over" in str(session.slack.messages(channel)[-1].blocks)
        assert "resolved" in session.slack.message(channel, card.ts).text
