"""Probe settings: one nested model, `Settings.probes` (env: `TIERBOT_PROBES__...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator


class EdgeProbeSettings(BaseModel):
    """What a registered edge build must show on its golden set."""

    interval_seconds: float = Field(
        default=300, gt=0, description="How often every registered edge build is probed."
    )
    min_top1_agreement: float = Field(
        default=0.98, ge=0, le=1, description="Share of golden inputs whose top-1 class matches."
    )
    min_sqnr_db: float = Field(
        default=20.0, description="Smallest signal-to-quantization-noise ratio of the outputs (dB)."
    )
    max_abs_diff: float | None = Field(
        default=None, gt=0, description="Largest output difference; unset: reported, not judged."
    )
    p95_latency_budget_ms: float = Field(default=20.0, gt=0, description="Per-input p95, batch 1.")
    warmup_runs: int = Field(default=10, ge=0, description="Untimed runs when a session loads.")
    intra_op_threads: int = Field(default=1, ge=1, description="As on a device: one thread.")


class CloudEndpoint(BaseModel):
    """One cloud-tier endpoint in one region, probed over HTTPS."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    region: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    protocol: Literal["openai", "oip"] = Field(
        description="openai: /v1/models and /v1/chat/completions; oip: Open Inference Protocol v2."
    )
    base_url: str = Field(description="e.g. https://eu.inference.example.com (no /v1 suffix).")
    model: str = Field(min_length=1, description="The model id the endpoint must serve.")
    api_key: SecretStr | None = Field(default=None, description="Sent as a bearer token.")
    canary_prompt: str = "Reply with the single word: pong"
    expected_content: str = Field(
        default="pong", description="The canary reply must contain this (case-insensitive)."
    )
    latency_budget_ms: float = Field(default=2500, gt=0)
    timeout_seconds: float = Field(default=10, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @property
    def target(self) -> str:
        return f"cloud/{self.region}/{self.name}"


class ProbeSettings(BaseModel):
    """Schedules, thresholds and targets of the health probes."""

    enabled: bool = Field(default=True, description="Run probes on the scheduler.")
    edge: EdgeProbeSettings = EdgeProbeSettings()
    cloud_endpoints: list[CloudEndpoint] = Field(
        default_factory=list,
        description="Cloud endpoints to probe (name, region, protocol openai|oip, base_url, ...).",
    )
    cloud_interval_seconds: float = Field(
        default=60, gt=0, description="How often every cloud endpoint is probed."
    )
    jitter_seconds: float = Field(default=5, ge=0, description="Random delay added to each run.")
    open_after_failures: int = Field(default=3, ge=1, description="Consecutive failures to alert.")
    resolve_after_passes: int = Field(default=2, ge=1, description="Consecutive passes to resolve.")
    history_days: float = Field(default=14, gt=0, description="Probe results kept this long.")
    lease_seconds: float = Field(
        default=120, gt=0, description="How long the replica running the probes holds the lease."
    )
    ca_bundle: Path | None = Field(
        default=None, description="Extra CA bundle for cloud endpoints; TLS is always verified."
    )
    model_cache_dir: Path = Field(
        default=Path(".tierbot-models"), description="Where builds registered by URL are kept."
    )
