"""Playbook settings: `Settings.playbooks` (env: `TIERBOT_PLAYBOOKS__...`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class PlaybookSettings(BaseModel):
    directory: Path = Field(
        default=Path("playbooks"), description="Where the playbook YAML files are read from."
    )
