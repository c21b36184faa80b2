"""Rollout settings: `Settings.rollouts` (env: `TIERBOT_ROLLOUTS__...`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator


class DriSet(BaseModel):
    """Who may approve: Slack user ids and/or one Slack user group (its members, at click time)."""

    users: list[str] = Field(default_factory=list, description="Slack user ids, e.g. U0123.")
    usergroup: str | None = Field(
        default=None, description="A Slack user group id (S...); its members are DRIs too."
    )

    def is_empty(self) -> bool:
        return not self.users and self.usergroup is None


class RolloutSettings(BaseModel):
    """DRIs, approval TTL and the rollout backend."""

    dris: DriSet = Field(
        default_factory=DriSet, description="The global default DRIs (users and/or a user group)."
    )
    tier_dris: dict[str, DriSet] = Field(
        default_factory=dict, description="DRIs per tier (edge, cloud); override the default."
    )
    cohort_dris: dict[str, DriSet] = Field(
        default_factory=dict, description="DRIs per cohort; override the tier's and the default."
    )
    usergroup_members: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Members of user groups for front ends without Slack (the CLI, the console).",
    )
    dri_channel: str | None = Field(
        default=None, description="Channel id where approval requests are posted (and DM'd)."
    )
    default_tier: Literal["edge", "cloud"] = Field(
        default="edge", description="The tier a rollback moves when `--to` does not say."
    )
    approval_ttl_seconds: float = Field(
        default=1800, gt=0, description="A request not decided within this expires."
    )
    backend: Literal["builtin", "webhook"] = Field(
        default="builtin",
        description="builtin: tierbot writes the assignment and serves the cohort config; "
        "webhook: tierbot POSTs the change to your rollout system.",
    )
    webhook_url: str | None = Field(default=None, description="Where the webhook backend POSTs.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key for the X-Tierbot-Signature header."
    )
    webhook_timeout_seconds: float = Field(default=10, gt=0, description="Per attempt.")
    webhook_attempts: int = Field(
        default=5, ge=1, description="Attempts per execution on 5xx or connect errors."
    )
    webhook_backoff_seconds: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles per attempt (capped at 30 s)."
    )
    execution_lease_seconds: float = Field(
        default=120,
        gt=0,
        description="An `executing` request older than this is retried (same idempotency key).",
    )
    verification_delay_seconds: float = Field(
        default=300, ge=0, description="Wait this long after execution before the which-tier check."
    )
    verification_window_seconds: float = Field(
        default=300, gt=0, description="The which-tier window the verification judges."
    )
    stage_step_percent: int = Field(
        default=25, ge=1, le=100, description="A staged rollback grows by this many points a step."
    )
    stage_interval_seconds: float = Field(
        default=600, gt=0, description="Time between the steps of a staged rollback."
    )
    sweep_interval_seconds: float = Field(
        default=30, gt=0, description="How often the scheduler expires, resumes and verifies."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("webhook_url must start with http:// or https://")
        return value

    def dris_for(self, *, cohort: str, tier: str) -> DriSet:
        """The cohort's DRIs, else the tier's, else the default."""
        for found in (self.cohort_dris.get(cohort), self.tier_dris.get(tier)):
            if found is not None and not found.is_empty():
                return found
        return self.dris
