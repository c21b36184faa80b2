"""Slack over HTTP: signed requests to `POST /slack/events` of the server `tierbot serve` runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from bot.db import transaction
from bot.probes.results import Check, ProbeResult
from bot.probes.store import save_result
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_blocks import check_blocks
from bot.sandbox.slack_driver import Delivery, SlackHttpDriver
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID, SIGNING_SECRET
from bot.slack.app import LISTENER_THREADS
from bot.store import Store
from tests.e2e.conftest import END, Bot, Expect, ok, serve_http

Served = tuple[Bot, str, SlackHttpDriver]
LIMIT_ERRORS = ("invalid_blocks", "msg_too_long", "no_text", "invalid_arguments")


@pytest.fixture(scope="module")
def served(loaded_store: Store, slack: SlackSandbox) -> Iterator[Served]:
    for bot, base_url in serve_http(loaded_store, slack):
        with SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET) as driver:
            yield bot, base_url, driver


@pytest.fixture
def driver(served: Served) -> SlackHttpDriver:
    return served[2]


def _sample(served: Served, name: str, **labels: str) -> float:
    return served[0].deps.metrics.registry.get_sample_value(name, labels) or 0.0


def _posted(slack: SlackSandbox, text_starts: str) -> Expect:
    return Expect.next(
        slack,
        "chat.postMessage",
        lambda c: c.ok and str(c.args.get("text", "")).startswith(text_starts),
    )


def test_a_signed_status_command_is_acked_empty_and_answered_in_the_channel(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    expect = _posted(slack, "tiers:")

    reply = driver.slash_command("/tier", "status")

    assert (reply.status, reply.body) == (200, "")
    call = expect.wait()
    assert call.args["channel"] == ONCALL_CHANNEL_ID
    assert call.args["text"] == "tiers: edge failing, cloud healthy, router healthy"
    message = slack.message(ONCALL_CHANNEL_ID, call.response["ts"])
    assert "Which tier failed?" in str(message.blocks)


def test_which_tier_leads_with_the_verdict_and_puts_the_chart_in_its_thread(
    slack: SlackSandbox, driver: SlackHttpDriver, served: Served
) -> None:
    expect_message = _posted(slack, "which tier failed (15m)")
    expect_upload = Expect.next(slack, "files.completeUploadExternal", ok)

    driver.slash_command("/tier", "failed 15m", user=DRI_USER_ID)

    posted = expect_message.wait()
    header, verdict, *rest = posted.args["blocks"]
    assert header["text"]["text"] == "Failing: edge"
    assert verdict["text"]["text"].startswith("*edge FAILING: router-3.2-int8 x lowram-4gb")
    text = str(rest)
    assert "budget 1.0%" in text and "Top suspects" in text and "Rollouts before" in text
    assert "model_id=router-3.2-int8 x device_class=lowram-4gb" in text
    completed = expect_upload.wait()
    assert completed.args["thread_ts"] == posted.response["ts"]
    [chart] = [f for f in slack.files() if f.id == completed.args["files"][0]["id"]]
    assert chart.filename == "which-tier.png" and (chart.content or b"").startswith(b"\x89PNG")
    assert _sample(served, "tierbot_which_tier_status", component="edge") == 3


def test_a_cohort_button_on_the_answer_shows_the_cohort(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    expect_answer = _posted(slack, "which tier failed (30m)")
    driver.slash_command("/tier", "failed")
    answer = slack.message(ONCALL_CHANNEL_ID, expect_answer.wait().response["ts"])
    expect_cohort = _posted(slack, "cohort eu-android-stable")

    reply = driver.click(answer, "tier_cohort_1")

    assert reply.status == 200
    text = expect_cohort.wait().args["text"]
    assert text.startswith("cohort eu-android-stable: ") and "edge router-3.2-int8 since" in text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("bogus", "I don't know `/tier bogus`."),
        ("failed 2x", "`2x` is not a window"),
        ("failed 9d", "The window must be between 1m and 7d"),
        ("cohort", "`cohort` needs a cohort name."),
        ("status now", "`status` takes no arguments"),
    ],
)
def test_bad_commands_get_an_ephemeral_usage_message_in_the_ack(
    slack: SlackSandbox, driver: SlackHttpDriver, text: str, says: str
) -> None:
    posts = Expect.next(slack, "chat.postMessage")

    reply = driver.slash_command("/tier", text)

    body = reply.json()
    assert reply.status == 200 and body["response_type"] == "ephemeral"
    assert says in body["text"]
    assert "Usage: `/tier" in body["text"] or "Try one of:" in body["text"]
    assert check_blocks(body["blocks"]) == []
    assert posts.arrived() == 0


def test_an_unknown_cohort_is_explained_ephemerally(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    before = len(slack.responses())

    driver.slash_command("/tier", "cohort no-such-cohort")

    response = slack.wait_for_response(where=lambda r: r in slack.responses()[before:])
    assert response.response_type == "ephemeral"
    assert response.text.startswith("no assignments for cohort 'no-such-cohort'. Known cohorts:")


@pytest.mark.parametrize(
    "delivery",
    [Delivery(signature="wrong"), Delivery(age_seconds=6 * 60), Delivery(signature="missing")],
    ids=["wrong-signature", "six-minutes-old", "missing-headers"],
)
def test_forged_stale_or_unsigned_requests_get_401_and_no_reply(
    slack: SlackSandbox, driver: SlackHttpDriver, delivery: Delivery
) -> None:
    calls = len(slack.calls())

    reply = driver.slash_command("/tier", "status", delivery=delivery)

    assert reply.status == 401
    assert len(slack.calls()) == calls


def test_a_retried_delivery_is_acked_and_not_processed_again(
    slack: SlackSandbox, driver: SlackHttpDriver, served: Served
) -> None:
    def counts() -> tuple[float, float]:
        return (
            _sample(served, "tierbot_slack_commands_total", subcommand="status"),
            _sample(served, "tierbot_slack_dropped_total", reason="retry"),
        )

    first = _posted(slack, "tiers:")
    driver.slash_command("/tier", "status")
    first.wait()
    (handled, dropped), calls = counts(), len(slack.calls())

    reply = driver.slash_command(
        "/tier", "status", delivery=Delivery(retry_num=1, retry_reason="http_timeout")
    )

    assert (reply.status, reply.body) == (200, "")
    # the middleware answered before any listener ran: no ack listener counted it, nothing started
    assert counts() == (handled, dropped + 1)
    assert len(slack.calls()) == calls


def test_a_redelivered_event_id_is_answered_once(
    slack: SlackSandbox, driver: SlackHttpDriver, served: Served
) -> None:
    before = _sample(served, "tierbot_slack_dropped_total", reason="duplicate_event")
    event = {"type": "app_mention", "user": DRI_USER_ID, "text": "<@U0TIERBOT> help",
             "ts": slack.new_ts(), "channel": ONCALL_CHANNEL_ID}  # fmt: skip
    expect = _posted(slack, "/tier: status")

    first = driver.event(event, event_id="EvE2EONCE1")
    second = driver.event(event, event_id="EvE2EONCE1")

    assert (first.status, second.status) == (200, 200)
    assert expect.wait().args["thread_ts"] == event["ts"]
    assert _sample(served, "tierbot_slack_dropped_total", reason="duplicate_event") == before + 1


def test_a_rate_limited_post_is_retried_after_retry_after_and_arrives(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    limited = Expect.next(slack, "chat.postMessage", lambda c: c.status == 429)
    expect = _posted(slack, "cohort us-android-stable")
    slack.inject_rate_limit("chat.postMessage", retry_after=0, times=1)

    driver.slash_command("/tier", "cohort us-android-stable")

    arrived = expect.wait()
    assert limited.wait().at < arrived.at
    assert slack.message(ONCALL_CHANNEL_ID, arrived.response["ts"]).text.startswith("cohort us-")


def test_acks_do_not_wait_for_busy_answer_threads(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    """Slack makes each answer wait out a 3 s Retry-After, so every listener thread is held;
    the acks must not queue behind them: all of them are back before the first answer lands.
    (An ordering, not a stopwatch: the acks' speed is measured in bench/slack_ack.py.)"""
    commands = LISTENER_THREADS + 1
    expect = _posted(slack, "cohort eu-android-beta")
    slack.inject_rate_limit("chat.postMessage", retry_after=3, times=LISTENER_THREADS)

    statuses = [
        driver.slash_command("/tier", "cohort eu-android-beta").status for _ in range(commands)
    ]
    answered_before_the_last_ack = expect.arrived()
    last_answer = expect.before + commands
    slack.wait_for_call("chat.postMessage", where=expect.where, count=last_answer, timeout=30)

    assert statuses == [200] * commands
    assert answered_before_the_last_ack == 0, "acks queued behind the held answer threads"


def test_every_message_the_bot_sent_passes_slacks_block_kit_limits(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    answers = [
        _posted(slack, "tiers:"),
        Expect.next(slack, "files.completeUploadExternal", ok),
        _posted(slack, "cohort eu-android-stable"),
    ]
    for text in ("help", "status", "failed 1h", "cohort eu-android-stable", "rollback", "x"):
        driver.slash_command("/tier", text)
    for answer in answers:
        answer.wait()

    posts = slack.calls("chat.postMessage")  # every post in this module so far, faults included
    refused = [c.response for c in posts if c.response.get("error") in LIMIT_ERRORS]
    assert posts and refused == []
    for call in posts:
        assert check_blocks(call.args.get("blocks", [])) == []
    for response in slack.responses():
        assert check_blocks(response.blocks) == []


def test_health_readiness_and_metrics(
    slack: SlackSandbox, served: Served, loaded_store: Store
) -> None:
    _, base_url, _ = served
    with httpx.Client(base_url=base_url, trust_env=False) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/readyz").json() == {"status": "ready"}
        pushed = http.post(
            "/api/v1/router-events", content=b"", headers={"Authorization": "Bearer e2e-token"}
        )
        metrics = http.get("/metrics")

    assert pushed.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'tierbot_http_requests_total{route="/slack/events",status="200"}' in text
    assert 'tierbot_http_requests_total{route="/slack/events",status="401"}' in text
    assert 'tierbot_http_requests_total{route="/api/v1/router-events",status="200"} 1.0' in text
    assert 'tierbot_which_tier_status{component="edge"} 3.0' in text
    assert 'tierbot_slack_dropped_total{reason="retry"}' in text


def test_status_shows_the_latest_probes_and_metrics_export_them(
    slack: SlackSandbox, driver: SlackHttpDriver, served: Served, loaded_store: Store
) -> None:
    failed = ProbeResult(
        target="edge/router-3.2-int8",
        tier="edge",
        started_at=END - timedelta(minutes=2),
        duration_ms=120.0,
        checks={"top1_agreement": Check(ok=False, value=0.41, limit=0.98, detail="105/256 agree")},
    )
    with transaction(loaded_store.sessions) as session:
        save_result(session=session, result=failed, runner="e2e")
    expect = _posted(slack, "tiers:")

    driver.slash_command("/tier", "status")

    blocks = str(expect.wait().args["blocks"])
    assert "edge/router-3.2-int8: failed: top1_agreement 0.41 (limit 0.98): 105/256 agree" in blocks
    with httpx.Client(base_url=served[1], trust_env=False) as http:
        text = http.get("/metrics").text
    assert 'tierbot_probe_up{target="edge/router-3.2-int8",tier="edge"} 0' in text


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("not_in_channel", "I am not in this channel yet: invite me with `/invite @tierbot`"),
        ("fatal_error", "Something went wrong on my side (error id `"),
    ],
)
def test_a_failed_answer_is_explained_ephemerally(
    slack: SlackSandbox, driver: SlackHttpDriver, error: str, says: str
) -> None:
    before = len(slack.responses())
    slack.inject_error("chat.postMessage", error=error)

    driver.slash_command("/tier", "cohort eu-android-stable")

    told = slack.wait_for_response(where=lambda r: r in slack.responses()[before:])
    assert told.response_type == "ephemeral" and told.text.startswith(says)
