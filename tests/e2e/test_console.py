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
    for command in ("/tier status", "/tier failed", "/tier cohort eu-android-stable"):
        assert f"$ {command}" in text
    assert "FAILING: EDGE" in text and "router-3.2-int8" in text
    assert (tmp_path / "which-tier.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "tierbot.db").is_file()
    assert "the which-tier chart the bot uploaded is at" in text
