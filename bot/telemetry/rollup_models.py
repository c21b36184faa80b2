"""What each source last sent for a minute x slice, so a resend replaces instead of adding."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class RollupSubmission(Base):
    """One source's counts for one minute and slice, as last received (pre-aggregated ingest).

    The minute rollup holds the sum of every source's submission (plus what events added);
    keeping each source's part lets a resend swap its old counts for the new ones exactly.
    """

    __tablename__ = "rollup_submissions"

    bucket_start: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, doc="Start of the minute, epoch seconds UTC."
    )
    slice_id: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)
    source: Mapped[str] = mapped_column(
        String(80), primary_key=True, doc="The collector that sent it (record or request)."
    )
    requests: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    timeouts: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    latency_sum_ms: Mapped[float] = mapped_column(Float)
    latency_max_ms: Mapped[float] = mapped_column(Float)
    histogram: Mapped[str] = mapped_column(Text, doc="Sparse histogram JSON, as in the rollups.")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
