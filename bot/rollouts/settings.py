"""Rollout settings: `Settings.rollouts` (env: `TIERBOT_ROLLOUTS__...`)."""

from __future__ import annotations

from pydantic import BaseModel


class RolloutSettings(BaseModel):
    """DRIs, approval TTL and the rollout backend."""
