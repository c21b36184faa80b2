"""A build's compatibility matrix: device class x OS version, each cell against the budget.

A cell is judged like a tier in the diagnosis (`bot.diagnosis.tiers`): "over" only when the
Wilson lower bound of its error rate is past the budget and the excess is at least
MIN_EXCESS_EVENTS, "possibly_over" when the rate is past it but not clearly, "under" otherwise.
A cell with fewer than `matrix_min_requests` requests shows no rate at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bot.buildhealth.builds import build_slices, build_tier
from bot.buildhealth.settings import BuildHealthSettings
from bot.diagnosis.stats import wilson_bounds
from bot.diagnosis.tiers import MIN_EXCESS_EVENTS
from bot.settings import Budgets
from bot.telemetry.histogram import quantile
from bot.telemetry.queries import slice_totals, split_span
from bot.telemetry.rollups import Counts
from bot.timeutil import to_rfc3339

OVER, POSSIBLY_OVER, UNDER, THIN = "over", "possibly_over", "under", "too_little_traffic"
STATUS_RANK = {OVER: 3, POSSIBLY_OVER: 2, UNDER: 1, THIN: 0}
_CODE_TABLES = {
    "rollup_minute": "build_error_codes_minute",
    "rollup_hour": "build_error_codes_hour",
}


@dataclass
class Cell:
    device_class: str | None
    os_version: str | None
    requests: int
    failures: int
    status: str
    error_rate: float | None  # None when the cell has too little traffic
    error_rate_lower: float | None
    error_rate_upper: float | None
    p95_latency_ms: float | None
    top_error_codes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.device_class or '(unknown)'} x {self.os_version or '(unknown)'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_class": self.device_class,
            "os_version": self.os_version,
            "requests": self.requests,
            "failures": self.failures,
            "status": self.status,
            "error_rate": _round(self.error_rate),
            "error_rate_lower": _round(self.error_rate_lower),
            "error_rate_upper": _round(self.error_rate_upper),
            "p95_latency_ms": _round(self.p95_latency_ms, 1),
            "top_error_codes": [{"code": c, "events": n} for c, n in self.top_error_codes],
        }


@dataclass
class Matrix:
    model_id: str
    tier: str
    window_start: datetime
    window_end: datetime
    budget_error_rate: float
    budget_p95_latency_ms: float
    min_requests: int
    cells: list[Cell]  # worst first

    @property
    def device_classes(self) -> list[str | None]:
        return sorted({c.device_class for c in self.cells}, key=lambda v: (v is None, v or ""))

    @property
    def os_versions(self) -> list[str | None]:
        return sorted({c.os_version for c in self.cells}, key=lambda v: (v is None, v or ""))

    def cell(self, device_class: str | None, os_version: str | None) -> Cell | None:
        for c in self.cells:
            if (c.device_class, c.os_version) == (device_class, os_version):
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "tier": self.tier,
            "window": {"start": to_rfc3339(self.window_start), "end": to_rfc3339(self.window_end)},
            "budget": {
                "error_rate": self.budget_error_rate,
                "p95_latency_ms": self.budget_p95_latency_ms,
            },
            "min_requests": self.min_requests,
            "requests": sum(c.requests for c in self.cells),
            "cells": [c.to_dict() for c in self.cells],
        }


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def error_codes(
    conn: Connection, start: datetime, end: datetime, slice_ids: list[int]
) -> dict[int, Counter[str]]:
    """Error codes per slice over [start, end), from the error code rollups."""
    out: dict[int, Counter[str]] = {}
    if not slice_ids:
        return out
    ids = ",".join(map(str, sorted(slice_ids)))
    for table, a, b in split_span(start, end):
        rows = conn.execute(
            text(
                f"SELECT slice_id, error_code, SUM(events) FROM {_CODE_TABLES[table]} "
                f"WHERE bucket_start >= :a AND bucket_start < :b AND slice_id IN ({ids}) "
                "GROUP BY slice_id, error_code"
            ),
            {"a": a, "b": b},
        )
        for slice_id, code, events in rows:
            out.setdefault(slice_id, Counter())[code] += int(events)
    return out


def _judge(
    key: tuple[str | None, str | None],
    counts: Counts,
    codes: Counter[str],
    budget: float,
    settings: BuildHealthSettings,
) -> Cell:
    n, failures = counts.requests, counts.failures
    top = codes.most_common(settings.matrix_top_codes)
    p95 = quantile(counts.histogram, 0.95)
    if n < settings.matrix_min_requests:
        return Cell(key[0], key[1], n, failures, THIN, None, None, None, p95, top)
    rate = failures / n
    lower, upper = wilson_bounds(failures, n)
    if rate > budget and lower > budget and failures - n * budget >= MIN_EXCESS_EVENTS:
        status = OVER
    elif rate > budget:
        status = POSSIBLY_OVER
    else:
        status = UNDER
    return Cell(key[0], key[1], n, failures, status, rate, lower, upper, p95, top)


def _worst_first(cell: Cell) -> tuple[int, float, float, int]:
    return (
        -STATUS_RANK[cell.status],
        -(cell.error_rate_lower or 0.0),
        -(cell.error_rate or 0.0),
        -cell.requests,
    )


def build_matrix(
    *,
    session: Session,
    model_id: str,
    end: datetime,
    window: timedelta,
    budgets: Budgets,
    settings: BuildHealthSettings,
) -> Matrix:
    """The build's cells over [end - window, end), worst first; raises UnknownBuild."""
    if window <= timedelta(0):
        raise ValueError("the window must be positive")
    end = end.replace(second=0, microsecond=0)
    start = end - window
    conn = session.connection()
    slices = build_slices(conn, model_id)
    tier = build_tier(session, model_id, slices)
    budget = budgets.for_tier(tier)
    totals = slice_totals(conn, start, end, list(slices)) if slices else {}
    codes = error_codes(conn, start, end, list(totals))
    cells_counts: dict[tuple[str | None, str | None], Counts] = {}
    cells_codes: dict[tuple[str | None, str | None], Counter[str]] = {}
    for slice_id, counts in totals.items():
        dims = slices[slice_id].dimensions
        key = (dims.get("device_class"), dims.get("os_version"))
        cells_counts.setdefault(key, Counts()).add(counts)
        cells_codes.setdefault(key, Counter()).update(codes.get(slice_id, Counter()))
    cells = [
        _judge(key, counts, cells_codes[key], budget.error_rate, settings)
        for key, counts in cells_counts.items()
        if counts.requests
    ]
    cells.sort(key=_worst_first)
    return Matrix(
        model_id=model_id,
        tier=tier,
        window_start=start,
        window_end=end,
        budget_error_rate=budget.error_rate,
        budget_p95_latency_ms=budget.p95_latency_ms,
        min_requests=settings.matrix_min_requests,
        cells=cells,
    )
