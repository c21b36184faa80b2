"""The configuration reference in docs/operations.md is generated and must not go stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field, SecretStr
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import Settings
from bot.settings_reference import (
    DEFAULT_DOC,
    END,
    START,
    Row,
    is_current,
    render,
    replace_section,
    sections,
)

runner = CliRunner()


def _rows() -> dict[str, Row]:
    return {row.path: row for section in sections() for row in section.rows}


def test_docs_operations_md_has_the_current_settings_reference() -> None:
    assert is_current(DEFAULT_DOC), (
        "docs/operations.md's configuration reference is stale: run `tierbot settings reference`"
    )


def test_every_settings_field_has_a_row_nested_models_included() -> None:
    rows = _rows()

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found += walk(annotation, f"{path}.")
            else:
                found.append(path)
        return found

    missing = [path for path in walk(Settings, "") if path not in rows]
    assert not missing
    assert "pull_sources[].url" in rows and "rollouts.tier_dris.<name>.users" in rows


def test_environment_names_are_the_ones_settings_read(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows()
    given = {
        "budgets.edge.error_rate": ("0.02", lambda s: s.budgets.edge.error_rate == 0.02),
        "probes.history_days": ("3", lambda s: s.probes.history_days == 3),
        "retention_days": ("9", lambda s: s.retention_days == 9),
        "probes.cloud_endpoints": (
            '[{"name": "eu", "region": "eu-west", "protocol": "openai", '
            '"base_url": "https://eu.example.com", "model": "m"}]',
            lambda s: s.probes.cloud_endpoints[0].target == "cloud/eu-west/eu",
        ),
    }
    monkeypatch.setenv("TIERBOT_CONFIG_FILE", "/nonexistent/tierbot.yaml")
    for path, (value, holds) in given.items():
        (env,) = rows[path].env
        monkeypatch.setenv(env, value)
        assert holds(Settings()), path
        monkeypatch.delenv(env)
    assert rows["slack_bot_token"].env == ("SLACK_BOT_TOKEN", "TIERBOT_SLACK_BOT_TOKEN")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert Settings().slack_bot_token == SecretStr("xoxb-1")


def test_secrets_defaults_are_never_printed() -> None:
    class WithSecret(BaseModel):
        token: SecretStr = Field(default=SecretStr("hunter2"), description="A secret | piped.")

    class Top(BaseModel):
        nested: WithSecret = WithSecret()

    text = render(Top)
    assert "hunter2" not in text and "(secret)" in text
    assert "A secret \\| piped." in text  # a pipe would break the table


def test_the_cli_rewrites_a_stale_document_and_check_fails_until_then(tmp_path: Path) -> None:
    doc = tmp_path / "operations.md"
    doc.write_text(f"# Ops\n\n{START}\nold table\n{END}\n\nafter\n", encoding="utf-8")

    stale = runner.invoke(app, ["settings", "reference", "--check", "--file", str(doc)])
    assert stale.exit_code == 1

    assert runner.invoke(app, ["settings", "reference", "--file", str(doc)]).exit_code == 0
    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text and text.endswith(f"{END}\n\nafter\n")
    assert "`TIERBOT_DATABASE_URL`" in text
    fresh = runner.invoke(app, ["settings", "reference", "--check", "--file", str(doc)])
    assert fresh.exit_code == 0


def test_a_document_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="settings-reference:start"):
        replace_section("# no markers here\n", render())
