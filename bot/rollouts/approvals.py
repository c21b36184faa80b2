"""Approval as data: who may decide, checked at decision time against the stored request.

Only a DRI of the request's cohort (per cohort, else per tier, else the default; users and/or a
user group) may approve, never the requester (four eyes). DRIs reject; the requester may
withdraw their own request the same way. A decision is one conditional update that also
requires the request to be unexpired, so fifty concurrent clicks make one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.probes.store import affected
from bot.rollouts.models import RollbackRequest
from bot.rollouts.requests import RollbackRefused, RollbackView, audit, get_request, view_of
from bot.rollouts.settings import DriSet, RolloutSettings
from bot.timeutil import to_rfc3339


class Directory(Protocol):
    """Who is in a user group (Slack's usergroups.users.list, or the settings)."""

    def usergroup_members(self, usergroup: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class StaticDirectory:
    """User groups from `rollouts.usergroup_members` (the CLI, the console, tests)."""

    members: dict[str, list[str]] = field(default_factory=dict)

    def usergroup_members(self, usergroup: str) -> frozenset[str]:
        return frozenset(self.members.get(usergroup, ()))


def directory_for(settings: RolloutSettings) -> StaticDirectory:
    return StaticDirectory(dict(settings.usergroup_members))


def describe_dris(dris: DriSet) -> str:
    """Slack mrkdwn naming the DRIs (`<@U1>, <!subteam^S1>`)."""
    names = [f"<@{user}>" for user in dris.users]
    if dris.usergroup:
        names.append(f"<!subteam^{dris.usergroup}>")
    return ", ".join(names) or "nobody (set TIERBOT_ROLLOUTS__DRIS__USERS)"


def is_dri(
    settings: RolloutSettings, directory: Directory, *, cohort: str, tier: str, user: str
) -> bool:
    dris = settings.dris_for(cohort=cohort, tier=tier)
    if user in dris.users:
        return True
    return dris.usergroup is not None and user in directory.usergroup_members(dris.usergroup)


def require_dri(
    settings: RolloutSettings, directory: Directory, *, cohort: str, tier: str, user: str, what: str
) -> None:
    if not is_dri(settings, directory, cohort=cohort, tier=tier, user=user):
        dris = describe_dris(settings.dris_for(cohort=cohort, tier=tier))
        raise RollbackRefused(f"only the DRIs of cohort {cohort} ({dris}) may {what}.")


def _already(request: RollbackView) -> RollbackRefused:
    """Why a request can no longer be decided, naming who decided it and when."""
    if request.state == "expired":
        return RollbackRefused(
            f"request #{request.id} expired at {to_rfc3339(request.expires_at)} without a "
            "decision; open a new one if the rollback is still needed."
        )
    by = f" by <@{request.decided_by}>" if request.decided_by else ""
    at = f" at {to_rfc3339(request.decided_at)}" if request.decided_at else ""
    return RollbackRefused(f"request #{request.id} was already {request.state}{by}{at}.")


def _decidable(session: Session, request_id: int, now: datetime) -> RollbackView:
    request = get_request(session=session, request_id=request_id)
    if request.state != "requested":
        raise _already(request)
    if request.expires_at <= now:
        raise RollbackRefused(
            f"request #{request.id} expired at {to_rfc3339(request.expires_at)}; "
            "open a new one if the rollback is still needed."
        )
    return request


def _decide(
    session: Session,
    request: RollbackView,
    *,
    state: str,
    by: str,
    reason: str | None,
    now: datetime,
) -> RollbackView:
    values: dict[str, object] = {
        "state": state,
        "decided_by": by,
        "decided_at": now,
        "decision_reason": reason,
    }
    if state == "rejected":
        values["open_cohort"] = None
    won = (
        affected(
            session.execute(
                update(RollbackRequest)
                .where(
                    RollbackRequest.id == request.id,
                    RollbackRequest.state == "requested",
                    RollbackRequest.expires_at > now,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )
    if not won:
        session.expire_all()
        raise _already(get_request(session=session, request_id=request.id))
    session.expire_all()
    return get_request(session=session, request_id=request.id)


def approve(
    *,
    session: Session,
    settings: RolloutSettings,
    request_id: int,
    approver: str,
    now: datetime,
    directory: Directory | None = None,
    reason: str | None = None,
) -> RollbackView:
    """Approve a request as `approver`; raises RollbackRefused saying why it cannot."""
    directory = directory or directory_for(settings)
    request = _decidable(session, request_id, now)
    if approver == request.requester:
        raise RollbackRefused(
            f"you requested #{request.id} yourself: another DRI must approve it (four eyes)."
        )
    require_dri(
        settings,
        directory,
        cohort=request.cohort,
        tier=request.tier,
        user=approver,
        what="approve a rollback",
    )
    decided = _decide(session, request, state="approved", by=approver, reason=reason, now=now)
    audit(
        session=session,
        request=decided,
        event="approved",
        summary=f"{approver} approved {decided.label()}" + (f": {reason}" if reason else ""),
        at=now,
        actor=approver,
        requester=decided.requester,
        reason=reason,
        seconds_to_decision=round((now - decided.created_at).total_seconds(), 1),
    )
    return decided


def reject(
    *,
    session: Session,
    settings: RolloutSettings,
    request_id: int,
    rejecter: str,
    reason: str,
    now: datetime,
    directory: Directory | None = None,
) -> RollbackView:
    """Reject (a DRI) or withdraw (the requester) a request; the reason is required."""
    reason = reason.strip()
    if not reason:
        raise RollbackRefused("say why you reject the rollback: the reason is kept in the audit.")
    directory = directory or directory_for(settings)
    request = _decidable(session, request_id, now)
    if rejecter != request.requester:
        require_dri(
            settings,
            directory,
            cohort=request.cohort,
            tier=request.tier,
            user=rejecter,
            what="reject a rollback",
        )
    decided = _decide(session, request, state="rejected", by=rejecter, reason=reason, now=now)
    audit(
        session=session,
        request=decided,
        event="rejected",
        summary=f"{rejecter} rejected {decided.label()}: {reason}",
        at=now,
        actor=rejecter,
        requester=decided.requester,
        reason=reason,
    )
    return decided


def expire_due(*, session: Session, now: datetime) -> list[RollbackView]:
    """Mark every undecided request past its TTL expired; returns the ones this call expired."""
    due = session.scalars(
        select(RollbackRequest.id).where(
            RollbackRequest.state == "requested", RollbackRequest.expires_at <= now
        )
    ).all()
    expired: list[RollbackView] = []
    for request_id in due:
        won = affected(
            session.execute(
                update(RollbackRequest)
                .where(RollbackRequest.id == request_id, RollbackRequest.state == "requested")
                .values(state="expired", open_cohort=None)
                .execution_options(synchronize_session=False)
            )
        )
        if won != 1:
            continue  # decided or swept by another replica meanwhile
        row = session.get(RollbackRequest, request_id, populate_existing=True)
        assert row is not None
        view = view_of(row)
        audit(
            session=session,
            request=view,
            event="expired",
            summary=f"{view.label()} expired undecided at {to_rfc3339(view.expires_at)}",
            at=now,
            actor="tierbot",
            requester=view.requester,
            expires_at=to_rfc3339(view.expires_at),
        )
        expired.append(view)
    return expired
