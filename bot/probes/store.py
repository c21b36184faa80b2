"""Probe results in the store: written after every round, read by status, metrics and diagnosis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import CursorResult, Result, delete, func, select
from sqlalchemy.orm import Session

from bot.probes.models import ProbeRun
from bot.probes.results import Check, ProbeResult


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched: how a conditional update tells whether it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def save_result(*, session: Session, result: ProbeResult, runner: str) -> int:
    """Store one result; returns its id."""
    row = ProbeRun(
        target=result.target,
        tier=result.tier,
        ok=result.ok,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        checks=orjson.dumps({n: c.to_dict() for n, c in result.checks.items()}).decode(),
        error=result.error,
        runner=runner[:128],
    )
    session.add(row)
    session.flush()
    return row.id


def result_from_row(row: ProbeRun) -> ProbeResult:
    checks: dict[str, Any] = orjson.loads(row.checks)
    return ProbeResult(
        target=row.target,
        tier=row.tier,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        checks={name: Check.from_dict(data) for name, data in checks.items()},
        error=row.error,
    )


def latest_results(*, session: Session, tier: str | None = None) -> list[ProbeResult]:
    """The newest result of every target (of `tier`), ordered by target."""
    newest = select(func.max(ProbeRun.id)).group_by(ProbeRun.target)
    if tier is not None:
        newest = newest.where(ProbeRun.tier == tier)
    rows = session.scalars(
        select(ProbeRun).where(ProbeRun.id.in_(newest)).order_by(ProbeRun.target)
    )
    return [result_from_row(row) for row in rows]


def failing_results(
    *, session: Session, since: datetime, tier: str | None = None
) -> list[ProbeResult]:
    """Failed probe results since `since`, oldest first: evidence for the which-tier report."""
    query = select(ProbeRun).where(ProbeRun.started_at >= since, ProbeRun.ok.is_(False))
    if tier is not None:
        query = query.where(ProbeRun.tier == tier)
    return [result_from_row(row) for row in session.scalars(query.order_by(ProbeRun.id))]


def prune_results(*, session: Session, older_than: datetime) -> int:
    """Delete results started before `older_than` (history is kept for N days)."""
    return affected(
        session.execute(
            delete(ProbeRun)
            .where(ProbeRun.started_at < older_than)
            .execution_options(synchronize_session=False)
        )
    )
