"""Incident settings: `Settings.incidents` (env: `TIERBOT_INCIDENTS__...`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IncidentSettings(BaseModel):
    create_channel: bool = Field(
        default=False,
        description="Give each incident its own Slack channel (conversations.create + invite); "
        "off: the incident lives in a thread where it was started.",
    )
    channel_prefix: str = Field(
        default="inc-",
        pattern=r"^[a-z0-9_-]{0,20}$",
        description="Prefix of an incident channel's name, e.g. inc-42-edge-errors.",
    )
    lookback_minutes: float = Field(
        default=30,
        ge=0,
        description="The postmortem's impact window starts this long before the incident was "
        "opened: failures start before someone notices them.",
    )
    baseline_hours: float = Field(
        default=24,
        gt=0,
        description="The postmortem compares the incident window with this many hours before it.",
    )
    export_directory: str = Field(
        default="postmortems",
        description="Where `tierbot incident export` and the Slack export write drafts.",
    )
