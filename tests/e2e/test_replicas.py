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

from bot.probes.models import ProbeRun
from bot.sandbox import slack_payloads as payloads
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import ALERTS_CHANNEL_ID, BOT_USER_ID, ONCALL_CHANNEL_ID
from bot.settings import Settings
from bot.store import Store, open_store
from tests.conftest import PG_URL, _reset_postgres
from tests.e2e.replicas import Replica, poll, two_replicas

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="the replica tests need PostgreSQL (TIERBOT_TEST_DATABASE_URL; CI sets it)"
)
PROBE_INTERVAL = 2.0


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
