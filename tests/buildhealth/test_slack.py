"""`/tier matrix` and `/tier crashes` through the real bolt app and the Slack sandbox."""

from __future__ import annotations

from bot.console.slack_session import SlackSession
from bot.sandbox.scenarios import CRASH_BUILD, NEW_CRASH
from bot.sandbox.slack_blocks import check_blocks
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END


def _settings(store: Store) -> Settings:
    return Settings(database_url=store.engine.url.render_as_string(hide_password=False))


def test_matrix_posts_the_worst_cells_and_a_heatmap(crash_store: Store) -> None:
    with SlackSession.start(_settings(crash_store), crash_store, clock=lambda: END) as slack:
        answer = slack.command(f"matrix {CRASH_BUILD} 30m")
        usage = slack.command("matrix")
        unknown = slack.command("matrix router-9")
        helped = slack.command("help")
    (message,) = answer.messages
    assert message.text.startswith(f"matrix {CRASH_BUILD}: ") and "android-15" in message.text
    assert check_blocks(message.blocks) == []
    worst = next(b for b in message.blocks if "Worst cells first" in str(b))["text"]["text"]
    first_cell = worst.splitlines()[1]
    assert first_cell.startswith(":red_circle: *") and "x android-15*" in first_cell
    assert "over budget" in first_cell and "`NPU_CRASH`" in first_cell
    assert "android-14" in str(message.blocks)  # the grid has both OS versions
    (heatmap,) = answer.files
    assert heatmap.filename == "matrix.png" and heatmap.thread_ts == message.ts
    assert heatmap.content is not None and heatmap.content.startswith(b"\x89PNG")

    assert "needs a build name" in str(usage.ephemeral) and not usage.messages
    assert "router-9" in str(unknown.ephemeral) and not unknown.messages
    assert "/tier matrix BUILD" in str(helped.ephemeral)
    assert "/tier crashes BUILD" in str(helped.ephemeral)


def test_crashes_lists_the_new_fingerprint_first(crash_store: Store) -> None:
    with SlackSession.start(_settings(crash_store), crash_store, clock=lambda: END) as slack:
        answer = slack.command(f"crashes {CRASH_BUILD}")
    (message,) = answer.messages
    assert check_blocks(message.blocks) == []
    text = str(message.blocks)
    assert f":new: `{NEW_CRASH}`" in text and "android-15" in text
    assert "never seen on router-3.1-fp16, router-3.1-int8" in text
    assert message.text.endswith("1 new")
