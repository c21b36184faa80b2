"""One row per thing that happened; rows are only ever inserted.

Incident timelines and the rollback audit are views of this log: an incident's timeline is what
happened while it was open (plus what was filed to it by id), the audit is the `rollback.*`
kinds. Keeping one log means a new feature gets both by recording its activity once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_at", "at"),
        Index("ix_activity_kind_at", "kind", "at"),
        Index("ix_activity_incident_id", "incident_id"),
        Index("ix_activity_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(
        String(64), doc="Dotted, area first: probe.alert_opened, rollback.approved, playbook.step"
    )
    actor: Mapped[str | None] = mapped_column(
        String(128), doc="A Slack user id, `tierbot`, or a CLI user; None when nobody acted."
    )
    subject: Mapped[str | None] = mapped_column(
        String(200), doc="What it is about (a cohort, a probe target, a request id), for lookups."
    )
    incident_id: Mapped[int | None] = mapped_column(
        Integer, doc="Set when the activity was filed to one incident (a note, a playbook step)."
    )
    summary: Mapped[str] = mapped_column(Text, doc="One line a person reads on the timeline.")
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
