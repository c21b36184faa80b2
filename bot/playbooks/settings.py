"""Playbook settings: `Settings.playbooks` (env: `TIERBOT_PLAYBOOKS__...`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class PlaybookSettings(BaseModel):
    directory: Path = Field(
        default=Path("playbooks"), description="Where the playbook YAML files are read from."
    )
    tick_seconds: float = Field(
        default=5, gt=0, description="How often the scheduler continues runs whose wait is over."
    )
    stale_seconds: float = Field(
        default=60,
        gt=0,
        description="A run left on a step tierbot runs itself for this long (a restart, a "
        "crash) is picked up again by the scheduler.",
    )
    max_steps_per_advance: int = Field(
        default=50, ge=1, description="Guard against loops: steps one advance may take at most."
    )
    status_limit: int = Field(
        default=20, ge=1, le=100, description="Open runs `/tier playbook status` lists at most."
    )
