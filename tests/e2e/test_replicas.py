"""Many replicas, one truth: two `tierbot serve` processes on one PostgreSQL database.

Scheduled probes run once per interval across both; a Slack delivery that reaches both is
processed once; what one replica changes, the other shows.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.activity.service import Entry, entries
from bot.playbooks.service import Playbooks
from bot.probes.models import ProbeRun
from bot.rollouts.service import cohort_history, current
from bot.sandbox import slack_payloads as payloads
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import (
    ALERTS_CHANNEL_ID,
    BOT_USER_ID,
    DRI_CHANNEL_ID,
    DRI_USER_ID,
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    SandboxMessage,
)
from bot.settings import Settings
from bot.slack.views.playbooks import STEP_ACTION
from bot.slack.views.rollbacks import APPROVE_ACTION
from bot.store import Store, open_store
from bot.telemetry.ingest import ingest_cohort_assignments, records_from_values
from bot.timeutil import utcnow
from tests.conftest import PG_URL, _reset_postgres
from tests.e2e.conftest import Expect
from tests.e2e.replicas import Replica, poll, two_replicas

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="the replica tests need PostgreSQL (TIERBOT_TEST_DATABASE_URL; CI sets it)"
)
PROBE_INTERVAL = 2.0
REPO = Path(__file__).resolve().parents[2]
COHORT, GOOD, BAD = "eu-android-stable", "router-3.1-fp16", "router-3.3-int8"


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def replicas(
    slack: SlackSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replica, Replica]]:
    assert PG_URL
    _reset_postgres(PG_URL)
    work_dir = tmp_path_factory.mktemp("replicas")
    env = {
        "TIERBOT_SLACK_ALERT_CHANNEL": ALERTS_CHANNEL_ID,
        "TIERBOT_PROBES__EDGE__INTERVAL_SECONDS": str(PROBE_INTERVAL),
        "TIERBOT_PROBES__JITTER_SECONDS": "0",
        "TIERBOT_PROBES__LEASE_SECONDS": "30",
        "TIERBOT_ROLLOUTS__DRIS__USERS": json.dumps([DRI_USER_ID]),
        "TIERBOT_ROLLOUTS__DRI_CHANNEL": DRI_CHANNEL_ID,
        "TIERBOT_PLAYBOOKS__DIRECTORY": str(REPO / "playbooks"),
    }
    with two_replicas(PG_URL, slack, work_dir, env) as pair:
        yield pair


@pytest.fixture(scope="module")
def store(replicas: tuple[Replica, Replica]) -> Iterator[Store]:
    assert PG_URL
    opened = open_store(Settings(database_url=PG_URL))
    yield opened
    opened.close()


def test_scheduled_probes_run_once_per_interval_across_both(
    replicas: tuple[Replica, Replica], slack: SlackSandbox, store: Store, tmp_path: Path
) -> None:
    from bot.db import transaction
    from bot.sandbox.models import register_demo_builds
    from bot.timeutil import utcnow

    with transaction(store.sessions) as session:
        register_demo_builds(session=session, now=utcnow(), cache_dir=tmp_path)

    def rounds() -> list[ProbeRun]:
        with store.sessions() as session:
            query = select(ProbeRun).where(ProbeRun.target == "edge/router-int8-badscale")
            return list(session.scalars(query.order_by(ProbeRun.started_at)))

    poll(lambda: len(rounds()) >= 4 or None, timeout=60, what="four probe rounds")
    runs = rounds()
    assert len({run.runner for run in runs}) == 1, "both replicas ran the probes"
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(runs)]
    assert min(gaps) >= timedelta(seconds=PROBE_INTERVAL * 0.5), gaps
    alert = slack.wait_for_message(
        ALERTS_CHANNEL_ID, where=lambda m: "router-int8-badscale" in m.text, timeout=30
    )
    assert alert.thread_ts is None
    posted = [m for m in slack.messages(ALERTS_CHANNEL_ID) if "router-int8-badscale" in m.text]
    assert posted == [alert], "the alert was posted more than once"


def test_a_delivery_sent_to_both_is_processed_once(
    replicas: tuple[Replica, Replica], slack: SlackSandbox
) -> None:
    a, b = replicas
    ts = slack.new_ts()
    event = {
        "type": "app_mention",
        "user": "U0ONCALL",
        "text": f"<@{BOT_USER_ID}> help",
        "ts": ts,
        "channel": ONCALL_CHANNEL_ID,
    }
    body = json.dumps(payloads.event_callback(event, event_id="EvREPLICA0001"))
    assert a.driver.post(body, "application/json").status == 200
    assert b.driver.post(body, "application/json").status == 200
    slack.wait_for_message(ONCALL_CHANNEL_ID, where=lambda m: m.thread_ts == ts, timeout=30)
    time.sleep(2)  # room for a second answer, had the other replica processed it too
    answers = [m for m in slack.messages(ONCALL_CHANNEL_ID) if m.thread_ts == ts]
    assert len(answers) == 1, [m.text for m in answers]


def _same_click(
    replicas: tuple[Replica, Replica], message: SandboxMessage, action_id: str, user: str
) -> None:
    """One click, delivered to both replicas (a retry that reached the other one)."""
    a, b = replicas
    payload = a.driver.click_payload(message, action_id, user=user)
    for replica in (a, b):
        reply = replica.driver.send_interactive(payload)
        assert reply.status == 200, reply.body


def _seed_cohort(store: Store) -> None:
    records = [
        {
            "cohort": COHORT,
            "tier": "edge",
            "model_id": GOOD,
            "effective_at": "2026-11-20T10:00:00Z",
        },
        {"cohort": COHORT, "tier": "edge", "model_id": BAD, "effective_at": "2026-11-26T10:00:00Z"},
    ]
    ingest_cohort_assignments(store.engine, records_from_values(records), source="replicas")


def test_an_approve_clicked_on_both_executes_one_rollback(
    replicas: tuple[Replica, Replica], slack: SlackSandbox, store: Store
) -> None:
    a, _ = replicas
    _seed_cohort(store)
    reply = a.driver.slash_command("/tier", f"rollback {COHORT} int8 build fails on lowram")
    assert reply.status == 200
    approval = slack.wait_for_message(
        DRI_CHANNEL_ID, where=lambda m: "ROLLBACK_APPROVE" in str(m.blocks).upper(), timeout=30
    )
    _same_click(replicas, approval, APPROVE_ACTION, DRI_USER_ID)

    def executed() -> list[Entry] | None:
        with store.sessions() as session:
            done = entries(session=session, kinds=["rollback.executed"], subject=COHORT)
        return done or None

    poll(executed, timeout=30, what="the rollback to execute")
    time.sleep(2)  # room for a second execution, had the other replica run it too
    with store.sessions() as session:
        assert len(entries(session=session, kinds=["rollback.executed"], subject=COHORT)) == 1
        assert len(entries(session=session, kinds=["rollback.approved"], subject=COHORT)) == 1
        history = cohort_history(session=session, cohort=COHORT)
    assert current(history, utcnow())["edge"].model_id == GOOD


def test_a_playbook_step_advanced_on_one_shows_on_the_other(
    replicas: tuple[Replica, Replica], slack: SlackSandbox, store: Store
) -> None:
    a, b = replicas
    runs = Playbooks(store, Settings(database_url=PG_URL or ""))
    before = {m.ts for m in slack.messages(ONCALL_CHANNEL_ID)}
    assert a.driver.slash_command("/tier", "playbook run stale-edge-config").status == 200

    def open_step() -> SandboxMessage | None:
        return next(
            (
                m
                for m in slack.messages(ONCALL_CHANNEL_ID)
                if m.ts not in before and m.text.endswith("(open)")
            ),
            None,
        )

    step = slack.wait_for(open_step, timeout=60, what="the first open step")
    (run,) = [r for r in runs.open_runs() if r.playbook == "stale-edge-config"]
    action_id = next(
        str(element["action_id"])
        for _, element in payloads.iter_elements(step.blocks)
        if str(element["action_id"]).startswith(STEP_ACTION)
        and element["text"]["text"] in ("Done", "Skip")
    )
    assert b.driver.click(step, action_id, user=ONCALL_USER_ID).status == 200

    def moved() -> str | None:
        now = next((r for r in runs.open_runs() if r.id == run.id), None)
        return None if now is not None and now.current_seq == run.current_seq else "moved"

    poll(moved, timeout=60, what="replica B to advance the run")
    after = next((r for r in runs.open_runs() if r.id == run.id), None)
    status = Expect.next(
        slack,
        "chat.postMessage",
        where=lambda c: str(c.args.get("text")).startswith(("Open", "No playbook")),
    )
    assert a.driver.slash_command("/tier", "playbook status").status == 200
    answer = str(status.wait(timeout=60).args.get("text"))
    if after is None:  # the run finished: A no longer lists it
        assert f"#{run.id} " not in answer, answer
    else:  # replica A sees the step B moved to
        assert f"#{run.id} " in answer and f"`{after.current_step}`" in answer, answer
        assert after.current_step != run.current_step
