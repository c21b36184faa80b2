"""One row per delivery key seen in the last TTL, shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime

KEY_LENGTH = 200


class DeliverySeen(Base):
    """A delivery key (e.g. a Slack event_id) and when it was first seen.

    The primary key is the whole mechanism: of two replicas inserting the same key, one
    insert loses, and the loser drops its copy of the delivery.
    """

    __tablename__ = "slack_deliveries"
    __table_args__ = (Index("ix_slack_deliveries_seen_at", "seen_at"),)

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), doc="event or action: what the key names.")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
