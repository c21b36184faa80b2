"""`tierbot console` and `tierbot demo`: the same bolt app and sandbox, read in a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from bot.console.demo import run_demo
from bot.console.slack_console import run_console
from bot.console.slack_session import SlackSession
from bot.settings import Settings
from bot.store import Store
from tests.e2e.conftest import END


def _typed(lines: list[str]) -> Iterator[str]:
    yield from lines


def test_the_console_answers_commands_and_presses_buttons_by_number(
    loaded_store: Store, no_proxy: None
) -> None:
    typed = _typed(["help", "failed", "2", "quit"])
    console = Console(record=True, width=200)
    settings = Settings(database_url=loaded_store.engine.url.render_as_string(hide_password=False))

    with SlackSession.start(settings, loaded_store, clock=lambda: END) as session:
        run_console(console, session, read=lambda prompt: next(typed))

    text = console.export_text()
    assert "`/tier status`: the tiers at a glance" in text  # help, ephemeral
    assert "FAILING: EDGE" in text and "[1] Cohort eu-android-stable" in text
    assert "uploaded which-tier.png" in text
    assert "COHORT US-ANDROID-STABLE" in text  # button 2 pressed
    assert (
        session.slack.calls("chat.postMessage")[-1]
        .args["text"]
        .startswith("cohort us-android-stable")
    )


def test_the_console_says_which_buttons_exist(loaded_store: Store, no_proxy: None) -> None:
    typed = _typed(["status", "7"])  # then end of input
    console = Console(record=True, width=200)
    settings = Settings(database_url=loaded_store.engine.url.render_as_string(hide_password=False))

    def read(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    with SlackSession.start(settings, loaded_store, clock=lambda: END) as session:
        run_console(console, session, read=read)

    assert "no button 7; choose 1 to 1" in console.export_text()


def test_the_demo_plays_the_incident_through_slack_and_leaves_its_files(
    tmp_path: Path, no_proxy: None
) -> None:
    console = Console(record=True, width=120)

    run_demo(console, out_dir=tmp_path, seed=7, rate_per_minute=60)

    text = console.export_text()
    story = [
        "round 3: failing: edge/router-3.3-int8",  # the ONNX probe catches the bad build
        "edge/router-3.3-int8 failed 3 probes in a row",  # and the alert is posted
        "/tier status",
        "edge FAILING: router-3.3-int8 fails",
        "/tier incident start",
        "pressed Start playbook which-tier-failed",
        "Handed over to playbook Roll back a bad quantized edge build",
        "pressed Request the rollback",
        "in #routing-dri",
        "Dana Ortiz pressed Approve",
        "Executed: cohort eu-android-stable now runs router-3.1-fp16",
        "Recovered: cohort eu-android-stable edge error rate",
        "Answered Recovered automatically by tierbot",
        "/tier cohort eu-android-stable",
        "Incident #1 resolved",
        "uploaded incident-1-postmortem.md",
    ]
    positions = [text.find(line) for line in story]
    missing = [line for line, at in zip(story, positions, strict=True) if at < 0]
    assert not missing, missing
    assert positions == sorted(positions), "the story is told out of order"
    assert (tmp_path / "which-tier.png").read_bytes().startswith(b"\x89PNG")
    postmortem = (tmp_path / "incident-1-postmortem.md").read_text()
    assert "## Timeline" in postmortem and "## Rollbacks" in postmortem
    assert "U0DRI" in postmortem  # who approved
    assert (tmp_path / "tierbot.db").is_file()
    assert "the postmortem draft it exported is at" in text
