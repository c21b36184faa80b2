"""Settings of a Prometheus pull source (kept apart from prometheus.py: bot.settings imports it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

#: tierbot's names for what a series' labels say: the slice dimensions and the outcome.
LABEL_ROLES: tuple[str, ...] = (
    "tier", "model_id", "cohort", "region", "device_class", "os_version", "app_version", "outcome",
)  # fmt: skip


class PrometheusSource(BaseModel):
    """A Prometheus server whose router counters and latency histogram fill tierbot's rollups."""

    name: str = Field(
        min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Names the source: its cursor, its job and its rollup submissions.",
    )  # fmt: skip
    url: str = Field(description="Base URL of the Prometheus HTTP API, e.g. http://prom:9090.")
    interval_seconds: float = Field(default=60, gt=0, description="How often to poll.")
    timeout_seconds: float = Field(default=30, gt=0, description="Timeout of one query.")
    token: SecretStr | None = Field(default=None, description="Sent as a bearer token.")
    requests_metric: str = Field(
        default="router_requests_total",
        description="Counter of router attempts, labelled by tier, slice dimensions and outcome.",
    )
    latency_metric: str | None = Field(
        default="router_latency_seconds",
        description="Histogram of attempt latency (its _bucket and _sum series); null: none.",
    )
    latency_unit_ms: float = Field(
        default=1000.0, gt=0, description="Milliseconds per unit of the histogram (1000: seconds)."
    )
    retries_metric: str | None = Field(
        default=None, description="Counter of attempts > 0 (fallbacks), same labels; null: none."
    )
    selector: str = Field(
        default="", description='Extra label matchers for every query, e.g. job="router".'
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Label name per role (tier, model_id, cohort, region, device_class, "
        "os_version, app_version, outcome) where it differs from the role's name.",
    )
    outcome_values: dict[str, Literal["ok", "error", "timeout"]] = Field(
        default_factory=dict,
        description="Outcome label values other than ok/error/timeout, mapped (others: error).",
    )
    lag_seconds: float = Field(
        default=120, ge=0, description="Minutes newer than this are left for the next poll."
    )
    overlap_minutes: int = Field(
        default=5, ge=0, description="Minutes before the cursor read again (late scrapes)."
    )
    backfill_minutes: int = Field(default=60, ge=1, description="History read on the first poll.")
    max_minutes_per_poll: int = Field(default=1440, ge=1, description="Catch-up per poll at most.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("labels")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(LABEL_ROLES)
        if unknown:
            raise ValueError(f"unknown label roles {sorted(unknown)}; known: {list(LABEL_ROLES)}")
        return value

    def label(self, role: str) -> str:
        return self.labels.get(role, role)
