"""Cohort history: which build each cohort runs on each tier, since when, and its residency.

`residency` and `config_hash` carry over from the previous assignment of the same cohort on the
same tier when a later one leaves them out (an explicit null resets them: "anywhere").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import TierbotError
from bot.rollouts.models import CohortAssignment


class UnknownCohort(TierbotError):
    """No assignment names this cohort."""


@dataclass(frozen=True)
class Assignment:
    """An assignment with carried-over fields resolved and the build it replaced."""

    cohort: str
    tier: str
    model_id: str
    effective_at: datetime
    quantization: str | None
    rollout_percent: float
    residency: str | None
    config_hash: str | None
    previous_model_id: str | None
    source: str

    def to_dict(self) -> dict[str, object]:
        from bot.timeutil import to_rfc3339

        return {
            "cohort": self.cohort,
            "tier": self.tier,
            "model_id": self.model_id,
            "effective_at": to_rfc3339(self.effective_at),
            "quantization": self.quantization,
            "rollout_percent": self.rollout_percent,
            "residency": self.residency,
            "config_hash": self.config_hash,
            "previous_model_id": self.previous_model_id,
        }


def _resolve(rows: list[CohortAssignment]) -> list[Assignment]:
    """Walk each (cohort, tier) history in time order, carrying fields over."""
    by_key: dict[tuple[str, str], list[CohortAssignment]] = defaultdict(list)
    for row in rows:
        by_key[(row.cohort, row.tier)].append(row)
    out: list[Assignment] = []
    for history in by_key.values():
        history.sort(key=lambda r: r.effective_at)
        residency: str | None = None
        config_hash: str | None = None
        previous: str | None = None
        for row in history:
            if row.residency_given:
                residency = row.residency
            if row.config_hash_given:
                config_hash = row.config_hash
            out.append(
                Assignment(
                    cohort=row.cohort,
                    tier=row.tier,
                    model_id=row.model_id,
                    effective_at=row.effective_at,
                    quantization=row.quantization,
                    rollout_percent=row.rollout_percent,
                    residency=residency,
                    config_hash=config_hash,
                    previous_model_id=previous,
                    source=row.source,
                )
            )
            previous = row.model_id
    out.sort(key=lambda a: (a.effective_at, a.cohort, a.tier))
    return out


def assignments_until(
    *, session: Session, end: datetime, cohorts: set[str] | None = None
) -> list[Assignment]:
    """Every assignment effective at or before `end`, resolved, in time order."""
    query = select(CohortAssignment).where(CohortAssignment.effective_at <= end)
    if cohorts is not None:
        query = query.where(CohortAssignment.cohort.in_(sorted(cohorts)))
    return _resolve(list(session.scalars(query)))


def cohort_history(*, session: Session, cohort: str) -> list[Assignment]:
    """The cohort's whole history, both tiers, oldest first; raises UnknownCohort."""
    rows = list(session.scalars(select(CohortAssignment).where(CohortAssignment.cohort == cohort)))
    if not rows:
        known = session.scalars(select(CohortAssignment.cohort).distinct().limit(20)).all()
        hint = f" Known cohorts: {', '.join(sorted(known))}." if known else ""
        raise UnknownCohort(f"no assignments for cohort {cohort!r}.{hint}")
    return _resolve(rows)


def current(history: list[Assignment], at: datetime) -> dict[str, Assignment]:
    """The assignment in force per tier at `at`."""
    out: dict[str, Assignment] = {}
    for assignment in history:
        if assignment.effective_at <= at:
            out[assignment.tier] = assignment
    return out


def residency_by_cohort(history: list[Assignment], at: datetime) -> dict[str, str | None]:
    """Each cohort's residency at `at`: its cloud assignment's, else its edge assignment's.

    Residency governs where text is processed, which is the cloud tier's business; an edge
    assignment's residency is the fallback when the cloud history never stated one.
    """
    in_force = current_by_cohort(history, at)
    out: dict[str, str | None] = {}
    for cohort, tiers in in_force.items():
        cloud, edge = tiers.get("cloud"), tiers.get("edge")
        if cloud is not None and cloud.residency is not None:
            out[cohort] = cloud.residency
        else:
            out[cohort] = edge.residency if edge is not None else None
    return out


def current_by_cohort(history: list[Assignment], at: datetime) -> dict[str, dict[str, Assignment]]:
    """cohort -> tier -> the assignment in force at `at`."""
    out: dict[str, dict[str, Assignment]] = defaultdict(dict)
    for assignment in history:
        if assignment.effective_at <= at:
            out[assignment.cohort][assignment.tier] = assignment
    return dict(out)


def region_allowed(region: str, residency: str | None) -> bool:
    """`eu` allows `eu` and `eu-*`; None allows anywhere."""
    return residency is None or region == residency or region.startswith(residency + "-")
