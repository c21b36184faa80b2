"""Build health as the front ends ask for it, and the config-staleness alert.

The staleness alert rides on the probe alert machinery (`bot.probes.alerts`): each check is a
`ProbeResult` for the target `config/<cohort>`, so it gets the same hysteresis, the same
once-only announcements across replicas and the same alert channel as the probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.activity.service import record
from bot.buildhealth.crashes import CrashReport, crash_report
from bot.buildhealth.matrix import Matrix, build_matrix
from bot.buildhealth.settings import BuildHealthSettings
from bot.buildhealth.staleness import CohortStaleness, config_staleness
from bot.probes.alerts import OK, OPEN, Hysteresis, record_outcome
from bot.probes.models import ProbeAlert
from bot.probes.results import Check, ProbeResult
from bot.rollouts.service import cohort_history
from bot.settings import Settings

TARGET_PREFIX = "config/"
ALERT_TIER = "edge"  # the devices run the config; the alert sits with the edge tier's


def matrix(
    *, session: Session, model_id: str, end: datetime, window: timedelta, settings: Settings
) -> Matrix:
    return build_matrix(
        session=session,
        model_id=model_id,
        end=end,
        window=window,
        budgets=settings.budgets,
        settings=settings.build_health,
    )


def crashes(*, session: Session, model_id: str, end: datetime, settings: Settings) -> CrashReport:
    return crash_report(
        session=session, model_id=model_id, end=end, top=settings.build_health.crashes_top
    )


def cohort_staleness(
    *, session: Session, cohort: str, end: datetime, settings: BuildHealthSettings
) -> CohortStaleness | None:
    """One cohort's staleness (None when it has no canonical hash); raises UnknownCohort."""
    cohort_history(session=session, cohort=cohort)  # the cohort must exist
    found = config_staleness(session=session, end=end, settings=settings, cohorts={cohort})
    return found[0] if found else None


def target(cohort: str) -> str:
    return f"{TARGET_PREFIX}{cohort}"


def _result(item: CohortStaleness, now: datetime, settings: BuildHealthSettings) -> ProbeResult:
    share = item.stale_share
    detail = item.summary()
    if item.over_threshold_since is not None:
        minutes = (item.window_end - item.over_threshold_since).total_seconds() / 60
        detail += f"; over {settings.stale_threshold:.0%} for {minutes:.0f} min"
    check = Check(
        ok=not item.sustained,
        value=None if share is None else round(share, 4),
        limit=settings.stale_threshold,
        detail=detail,
    )
    return ProbeResult(target(item.cohort), ALERT_TIER, now, 0.0, {"stale_share": check})


@dataclass(frozen=True)
class StalenessCheck:
    cohort: str
    ok: bool
    state: str  # of the alert after this check: ok or open
    changed: bool


def record_staleness_checks(
    *, session: Session, items: list[CohortStaleness], settings: BuildHealthSettings, now: datetime
) -> list[StalenessCheck]:
    """Fold each cohort's check into its alert; an alert whose cohort is gone gets a pass.

    Openings and resolutions go on the activity log in this transaction, with the numbers.
    """
    rules = Hysteresis(settings.open_after_failures, settings.resolve_after_passes)
    results: dict[str, tuple[ProbeResult, CohortStaleness | None]] = {
        item.cohort: (_result(item, now, settings), item) for item in items
    }
    stray = session.scalars(
        select(ProbeAlert.target).where(
            ProbeAlert.target.like(f"{TARGET_PREFIX}%"), ProbeAlert.state == OPEN
        )
    ).all()
    for name in stray:
        cohort = name.removeprefix(TARGET_PREFIX)
        if cohort not in results:
            passed = Check(ok=True, detail="no canonical config hash or traffic any more")
            results[cohort] = (
                ProbeResult(name, ALERT_TIER, now, 0.0, {"stale_share": passed}),
                None,
            )
    out = []
    for cohort, (result, item) in sorted(results.items()):
        before = session.scalar(select(ProbeAlert.state).where(ProbeAlert.target == result.target))
        after = record_outcome(session=session, result=result, result_id=None, rules=rules, now=now)
        changed = (before or OK) != after
        if changed:
            opened = after == OPEN
            record(
                session=session,
                kind=f"build_health.stale_config_{'opened' if opened else 'resolved'}",
                summary=(
                    f"cohort {cohort}: {item.summary() if item else 'no stale traffic'}"
                    + ("" if opened else " (resolved)")
                ),
                at=now,
                actor="tierbot",
                subject=result.target,
                data=item.to_dict() if item is not None else {"cohort": cohort},
            )
        out.append(StalenessCheck(cohort, result.ok, after, changed))
    return out
