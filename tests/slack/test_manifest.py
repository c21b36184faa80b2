"""The Slack app manifest names what the app listens on and what it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.slack.http import EVENTS_PATH
from bot.slack.parsing import COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"


def test_the_manifest_matches_the_app() -> None:
    manifest: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]

    assert command["command"] == COMMAND
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "files:write",
        "app_mentions:read",
        "channels:manage",
        "im:write",
        "usergroups:read",
    }
