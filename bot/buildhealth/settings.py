"""Build health settings: `Settings.build_health` (env: `TIERBOT_BUILD_HEALTH__...`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BuildHealthSettings(BaseModel):
    """Matrix thresholds and the config-staleness alert."""

    matrix_min_requests: int = Field(
        default=50,
        ge=1,
        description="A matrix cell with fewer requests in the window shows no rate: too little "
        "traffic to judge.",
    )
    matrix_top_codes: int = Field(
        default=3, ge=1, le=20, description="Error codes listed per matrix cell."
    )
    crashes_top: int = Field(
        default=10, ge=1, le=100, description="Crash fingerprints listed per build."
    )
    stale_threshold: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="A cohort is stale while more than this share of its traffic runs a config "
        "hash other than the canonical one.",
    )
    stale_for_minutes: float = Field(
        default=30,
        gt=0,
        description="Alert when a cohort has stayed over the threshold this long.",
    )
    stale_window_minutes: float = Field(
        default=30,
        gt=0,
        description="The recent window whose stale share /tier status and /tier cohort show.",
    )
    stale_step_minutes: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Staleness is judged per step of this many minutes (since when, over since).",
    )
    stale_min_requests: int = Field(
        default=20,
        ge=1,
        description="Steps with fewer hashed requests are skipped when judging staleness.",
    )
    stale_lookback_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 14,
        description="How far back 'stale since' looks.",
    )
    alerts_enabled: bool = Field(
        default=False,
        description="Run the scheduled config-staleness check and alert through the probe "
        "alert channel.",
    )
    check_interval_seconds: float = Field(
        default=300, ge=5, description="How often the scheduled staleness check runs."
    )
    open_after_failures: int = Field(
        default=2, ge=1, description="Consecutive stale checks that open a cohort's alert."
    )
    resolve_after_passes: int = Field(
        default=2, ge=1, description="Consecutive clean checks that resolve it."
    )
