"""Playbook runs and their steps: the runner's persisted state.

A run freezes the parsed playbook it started with (`definition`, `version`), so editing the file
never changes a run in flight. `revision` grows with every change: the conditional update on it
is what makes a double click or two responders at once change the run only once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class PlaybookRun(Base):
    __tablename__ = "playbook_runs"
    __table_args__ = (
        Index("ix_playbook_runs_state_wake_at", "state", "wake_at"),
        Index("ix_playbook_runs_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    playbook: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64), doc="v{version}-{content hash}")
    definition: Mapped[dict[str, object]] = mapped_column(JSON, doc="The frozen parsed playbook.")
    state: Mapped[str] = mapped_column(String(16), doc="running, waiting, finished, cancelled")
    current_step: Mapped[str | None] = mapped_column(String(64))
    current_seq: Mapped[int] = mapped_column(Integer, default=0, doc="The open visit's seq.")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    context: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    parent_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("playbook_runs.id", ondelete="SET NULL")
    )
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wake_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), doc="A wait's next check; on a running run, since when a probe is due."
    )
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="A wait's timeout.")
    outcome: Mapped[str | None] = mapped_column(String(200))


class PlaybookStep(Base):
    """One visit of a step (a step visited twice, e.g. after a loop back, has two rows)."""

    __tablename__ = "playbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(
        String(16), doc="open, done, skipped, answered, ran, timed_out, handed_over"
    )
    answer: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(128))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text, doc="Why (an auto rule, an error).")
    message_ts: Mapped[str | None] = mapped_column(String(32), doc="Its Slack message.")
