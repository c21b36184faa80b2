"""Settings: the agreed defaults, environment variables, and the optional YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def test_defaults_are_the_agreed_budgets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_url == "sqlite:///tierbot.db"
    assert (settings.budgets.edge.error_rate, settings.budgets.edge.p95_latency_ms) == (0.01, 300)
    assert (settings.budgets.cloud.error_rate, settings.budgets.cloud.p95_latency_ms) == (
        0.005,
        2500,
    )


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERBOT_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("TIERBOT_BUDGETS__EDGE__ERROR_RATE", "0.02")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    settings = Settings()
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.budgets.edge.error_rate == 0.02
    assert settings.budgets.edge.p95_latency_ms == 300
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-test"
    assert "xoxb-test" not in repr(settings)


def test_yaml_file_with_pull_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "tierbot.yaml"
    config.write_text(
        "retention_days: 3\n"
        "pull_sources:\n"
        "  - {name: router-logs, kind: router_events, url: 'http://127.0.0.1:8080/events'}\n"
    )
    monkeypatch.setenv("TIERBOT_CONFIG_FILE", str(config))
    monkeypatch.setenv("TIERBOT_RETENTION_DAYS", "5")
    settings = Settings()
    assert settings.retention_days == 5  # the environment wins over the file
    assert settings.pull_sources[0].url == "http://127.0.0.1:8080/events"
    assert settings.pull_sources[0].interval_seconds == 60


def test_a_bad_pull_source_is_refused_with_its_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "tierbot.yaml"
    config.write_text("pull_sources:\n  - {name: x, kind: router_events, url: 'ftp://host/x'}\n")
    monkeypatch.setenv("TIERBOT_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError, match=r"pull_sources\.0\.url"):
        Settings()
