"""The killswitch: move every cohort on a build back at once.

An emergency brake, so it skips the four-eyes wait: only a DRI (of every affected cohort) may
pull it, the front end makes them confirm, and it is audited like a rollback (`killswitch.*`):
one request per cohort, approved by the DRI who pulled it, executed like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.probes.store import affected
from bot.rollouts.approvals import Directory, describe_dris, is_dri
from bot.rollouts.models import RollbackRequest
from bot.rollouts.requests import (
    RollbackRefused,
    RollbackView,
    audit,
    get_request,
    open_request_for,
    request_rollback,
)
from bot.rollouts.service import assignments_until, current_by_cohort
from bot.rollouts.settings import RolloutSettings


@dataclass(frozen=True)
class Killswitch:
    build: str
    requests: list[RollbackView]  # approved, ready to execute
    skipped: list[str]  # "cohort: why"


def cohorts_on(*, session: Session, build: str, now: datetime) -> dict[str, str]:
    """cohort -> tier, for every cohort whose assignment in force names `build`."""
    in_force = current_by_cohort(assignments_until(session=session, end=now), now)
    return {
        cohort: tier
        for cohort, tiers in in_force.items()
        for tier, assignment in tiers.items()
        if assignment.model_id == build
    }


def pull_killswitch(
    *,
    session: Session,
    settings: RolloutSettings,
    directory: Directory,
    build: str,
    requester: str,
    reason: str,
    now: datetime,
) -> Killswitch:
    """Open and approve a rollback for every cohort on `build` (a DRI only)."""
    cohorts = cohorts_on(session=session, build=build, now=now)
    if not cohorts:
        raise RollbackRefused(f"no cohort runs {build} now: nothing to move back.")
    not_mine = [
        c
        for c, t in cohorts.items()
        if not is_dri(settings, directory, cohort=c, tier=t, user=requester)
    ]
    if not_mine:
        dris = describe_dris(settings.dris_for(cohort=not_mine[0], tier=cohorts[not_mine[0]]))
        raise RollbackRefused(
            f"only a DRI of every cohort on {build} may pull its killswitch; you are not one "
            f"for {', '.join(sorted(not_mine))} (DRIs: {dris})."
        )
    reason = reason.strip() or f"killswitch on {build}"
    opened: list[RollbackView] = []
    skipped: list[str] = []
    for cohort in sorted(cohorts):
        existing = open_request_for(session, cohort)
        if existing is not None and existing.state != "requested":
            skipped.append(f"{cohort}: request #{existing.id} is already {existing.state}")
            continue
        if existing is not None:
            _supersede(session, existing, requester, now)
        try:
            with session.begin_nested():
                request = request_rollback(
                    session=session,
                    settings=settings,
                    cohort=cohort,
                    target=None,
                    percent=100,
                    reason=reason,
                    requester=requester,
                    now=now,
                    kind="killswitch",
                )
        except RollbackRefused as exc:
            skipped.append(f"{cohort}: {exc}")
            continue
        opened.append(_approve(session, request, requester, build, reason, now))
    return Killswitch(build, opened, skipped)


def _supersede(session: Session, existing: RollbackRequest, by: str, now: datetime) -> None:
    won = affected(
        session.execute(
            update(RollbackRequest)
            .where(RollbackRequest.id == existing.id, RollbackRequest.state == "requested")
            .values(
                state="rejected",
                open_cohort=None,
                decided_by=by,
                decided_at=now,
                decision_reason="superseded by a killswitch",
            )
            .execution_options(synchronize_session=False)
        )
    )
    if won == 1:
        view = get_request(session=session, request_id=existing.id)
        audit(
            session=session,
            request=view,
            event="rejected",
            summary=f"{view.label()} superseded by a killswitch pulled by {by}",
            at=now,
            actor=by,
            reason="superseded by a killswitch",
        )


def _approve(
    session: Session, request: RollbackView, by: str, build: str, reason: str, now: datetime
) -> RollbackView:
    session.execute(
        update(RollbackRequest)
        .where(RollbackRequest.id == request.id, RollbackRequest.state == "requested")
        .values(
            state="approved",
            decided_by=by,
            decided_at=now,
            decision_reason=reason,
            killswitch_build=build,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    view = get_request(session=session, request_id=request.id)
    audit(
        session=session,
        request=view,
        event="approved",
        summary=f"{by} pulled the killswitch on {build}: {view.label()}",
        at=now,
        actor=by,
        build=build,
        reason=reason,
    )
    return view
