"""Probe alerts and `/tier probe` in Slack: real probes, the real bolt app, the sandbox Slack.

The alert opens after three failing rounds with one message in the alert channel (with the
buttons for `/tier failed` and the matching playbook), stays quiet while it keeps failing, and
posts the recovery in its thread after two passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.activity.service import entries
from bot.db import transaction
from bot.probes.registry import register_build
from bot.probes.settings import ProbeSettings
from bot.sandbox.models import GOLDEN_SET, MODELS_DIR
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import SlackHttpDriver
from bot.sandbox.slack_models import ALERTS_CHANNEL_ID, ONCALL_CHANNEL_ID, SIGNING_SECRET
from bot.slack.app import make_web_client
from bot.slack.views.probes import PLAYBOOK_ACTION
from bot.slack.views.status import FAILED_ACTION
from bot.slack.wiring import slack_deps
from bot.store import Store
from bot.timeutil import utcnow
from tests.e2e.conftest import Expect, serve_http, wired_settings


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as slack:
        yield slack


def _register_copy(store: Store, tmp_path: Path) -> Path:
    """A good int8 build whose file the test can break and mend (the shipped one stays put)."""
    model = tmp_path / "router-int8.onnx"
    shutil.copy(MODELS_DIR / "router-int8.onnx", model)
    with transaction(store.sessions) as session:
        register_build(
            session=session,
            model_id="router-int8-copy",
            tier="edge",
            location=str(model),
            quantization="int8",
            reference_model_id=None,
            golden_set=str(GOLDEN_SET),
            expected_sha256=None,
            now=utcnow(),
            cache_dir=tmp_path,
        )
    return model


def _blocks_actions(blocks: list[dict[str, object]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            assert isinstance(element, dict)
            found[str(element["action_id"])] = str(element.get("value"))
    return found


def test_an_alert_opens_once_and_recovers_in_its_thread(
    store: Store, sandbox: SlackSandbox, tmp_path: Path
) -> None:
    model = _register_copy(store, tmp_path)
    settings = wired_settings(store, sandbox).model_copy(
        update={
            "slack_alert_channel": ALERTS_CHANNEL_ID,
            "probes": ProbeSettings(model_cache_dir=tmp_path / "cache", jitter_seconds=0),
        }
    )
    runner = slack_deps(settings, store, make_web_client(settings)).probe_runner
    pristine = model.read_bytes()
    model.write_bytes(pristine + b"tampered")

    def alerts_posted() -> list[object]:
        return [m for m in sandbox.messages(ALERTS_CHANNEL_ID) if m.thread_ts is None]

    for _ in range(2):
        assert not runner.run_round("edge")[0].ok
    assert alerts_posted() == []
    runner.run_round("edge")
    (opened,) = alerts_posted()
    assert "edge/router-int8-copy" in opened.text and "sha256" in opened.text
    assert _blocks_actions(opened.blocks) == {
        FAILED_ACTION: "30m",
        PLAYBOOK_ACTION: "which-tier-failed",
    }
    for _ in range(3):
        runner.run_round("edge")
    assert len(alerts_posted()) == 1

    model.write_bytes(pristine)
    runner.run_round("edge")
    assert [m for m in sandbox.messages(ALERTS_CHANNEL_ID) if m.thread_ts] == []
    runner.run_round("edge")
    (recovery,) = [m for m in sandbox.messages(ALERTS_CHANNEL_ID) if m.thread_ts]
    assert recovery.thread_ts == opened.ts and "recovered" in recovery.text
    with store.sessions() as session:
        kinds = [e.kind for e in entries(session=session, kind_prefix="probe.")]
    assert kinds == ["probe.alert_opened", "probe.alert_resolved"]


def test_tier_probe_answers_with_the_numbers(
    store: Store, sandbox: SlackSandbox, tmp_path: Path
) -> None:
    from bot.sandbox.models import register_demo_builds

    with transaction(store.sessions) as session:
        register_demo_builds(session=session, now=utcnow(), cache_dir=tmp_path)
    for _bot, base_url in serve_http(store, sandbox):
        with SlackHttpDriver(sandbox, f"{base_url}/slack/events", SIGNING_SECRET) as driver:
            posted = Expect.next(sandbox, "chat.postMessage")
            reply = driver.slash_command("/tier", "probe edge", channel=ONCALL_CHANNEL_ID)
            assert reply.status == 200
            call = posted.wait(timeout=60)
            text = str(call.args.get("text"))
            assert "2 of 3 targets pass, 1 failing" in text
            (answer,) = [m for m in sandbox.messages(ONCALL_CHANNEL_ID) if m.text == text]
            body = str(answer.blocks)
            assert "router-int8-badscale" in body and "top1_agreement" in body
            usage = driver.slash_command("/tier", "probe moon").json()
            assert "`probe` takes edge, cloud or all" in usage["text"]
