"""Every knob tierbot has, from `TIERBOT_*` environment variables and an optional YAML file.

Precedence (highest first): explicit arguments, environment, the YAML file named by
`TIERBOT_CONFIG_FILE` (default `tierbot.yaml` in the working directory, if present), defaults.
Nested settings use `__` in environment names, e.g. `TIERBOT_BUDGETS__EDGE__ERROR_RATE=0.02`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bot.buildhealth.settings import BuildHealthSettings
from bot.incidents.settings import IncidentSettings
from bot.playbooks.settings import PlaybookSettings
from bot.probes.settings import ProbeSettings
from bot.rollouts.settings import RolloutSettings
from bot.telemetry.prometheus_settings import PrometheusSource

Tier = Literal["edge", "cloud"]
TIERS: tuple[Tier, ...] = ("edge", "cloud")


class TierBudget(BaseModel):
    """What a tier may spend: errors are outcome `error` or `timeout`."""

    error_rate: float = Field(ge=0, le=1, description="Largest acceptable error rate (0..1).")
    p95_latency_ms: float = Field(gt=0, description="Largest acceptable p95 latency in ms.")


DEFAULT_BUDGETS: dict[str, dict[str, float]] = {
    "edge": {"error_rate": 0.01, "p95_latency_ms": 300},
    "cloud": {"error_rate": 0.005, "p95_latency_ms": 2500},
}


class Budgets(BaseModel):
    """Per-tier budgets; the defaults are the ones the team agreed on."""

    edge: TierBudget = TierBudget(**DEFAULT_BUDGETS["edge"])
    cloud: TierBudget = TierBudget(**DEFAULT_BUDGETS["cloud"])

    @model_validator(mode="before")
    @classmethod
    def _fill_partial(cls, data: Any) -> Any:
        """Let one knob be set (TIERBOT_BUDGETS__EDGE__ERROR_RATE) and keep the other default."""
        if isinstance(data, dict):
            data = dict(data)
            for tier, defaults in DEFAULT_BUDGETS.items():
                given = data.get(tier)
                if isinstance(given, dict):
                    data[tier] = {**defaults, **given}
        return data

    def for_tier(self, tier: str) -> TierBudget:
        return self.edge if tier == "edge" else self.cloud


class PullSource(BaseModel):
    """An HTTP endpoint the scheduler polls for NDJSON records newer than a cursor (`?since=`)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["router_events", "cohort_assignments"]
    url: str = Field(description="http(s) URL; tierbot appends ?since=<cursor>.")
    interval_seconds: float = Field(default=60, gt=0)
    timeout_seconds: float = Field(default=10, gt=0)
    token: SecretStr | None = Field(default=None, description="Sent as a bearer token.")
    max_pages: int = Field(default=100, ge=1, description="Pages fetched per poll at most.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value


def _default_config_file() -> Path:
    return Path(os.environ.get("TIERBOT_CONFIG_FILE", "tierbot.yaml"))


class Settings(BaseSettings):
    """tierbot's configuration. Read once per process with `get_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="TIERBOT_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        default="sqlite:///tierbot.db",
        description="SQLAlchemy URL. SQLite (a file in the working directory) by default; "
        "postgresql+psycopg://user:pass@host/db in production.",
    )
    budgets: Budgets = Budgets()
    ingest_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the ingest API requires. Unset: the ingest API refuses pushes.",
    )
    ingest_batch_size: int = Field(default=20_000, ge=1, description="Records per transaction.")
    ingest_max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest ingest request body, decompressed."
    )
    retention_days: float = Field(
        default=14, gt=0, description="Raw router events older than this are pruned; rollups stay."
    )
    minute_rollup_retention_days: float = Field(
        default=90,
        gt=0,
        description="Minute rollups older than this are pruned; hour rollups stay for trends.",
    )
    pull_sources: list[PullSource] = Field(
        default_factory=list,
        description="NDJSON feeds the scheduler polls with ?since=<cursor> (name, kind, url, ...).",
    )
    prometheus_sources: list[PrometheusSource] = Field(
        default_factory=list, description="Prometheus servers whose router metrics fill rollups."
    )
    probes: ProbeSettings = ProbeSettings()
    playbooks: PlaybookSettings = PlaybookSettings()
    incidents: IncidentSettings = IncidentSettings()
    rollouts: RolloutSettings = RolloutSettings()
    build_health: BuildHealthSettings = BuildHealthSettings()
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "TIERBOT_SLACK_BOT_TOKEN"),
        description="The bot token (xoxb-...); unset, `tierbot serve` runs without Slack.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "TIERBOT_SLACK_SIGNING_SECRET"),
        description="Verifies every request from Slack (the app's Signing Secret).",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "TIERBOT_SLACK_APP_TOKEN"),
        description="The app-level token (xapp-...), for `tierbot serve --socket-mode` only.",
    )
    slack_alert_channel: str | None = Field(
        default=None,
        description="Channel id where probe alerts are posted; unset: alerts go to the log only.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="WebClient base_url; the sandbox sets it."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _default_config_file()
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
