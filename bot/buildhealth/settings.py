"""Build health settings: `Settings.build_health` (env: `TIERBOT_BUILD_HEALTH__...`)."""

from __future__ import annotations

from pydantic import BaseModel


class BuildHealthSettings(BaseModel):
    """Matrix thresholds and the config-staleness alert."""
