"""Incidents: one row each, with its roles and where in Slack it lives.

The timeline is not stored here: it is a view of the activity log (`bot.activity`), so every
feature that records activity shows up on the timeline without knowing about incidents.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_channel", "channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), doc="open or resolved")
    commander: Mapped[str | None] = mapped_column(String(128))
    dri: Mapped[str | None] = mapped_column(String(128), doc="The routing DRI.")
    scribe: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(
        String(64), doc="Where it was started, or its own channel when one was created."
    )
    thread_ts: Mapped[str | None] = mapped_column(String(64), doc="The incident's message.")
    own_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text, doc="Said when resolving.")
