"""Who may decide, checked against the stored request at decision time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.activity.service import entries
from bot.db import transaction
from bot.rollouts.approvals import StaticDirectory, approve, expire_due, reject
from bot.rollouts.requests import RollbackRefused, RollbackView, request_rollback
from bot.rollouts.settings import DriSet
from bot.store import Store
from tests.rollouts.conftest import COHORT, DRI, DRI2, NOBODY, NOW, REQUESTER, rollout_settings

SETTINGS = rollout_settings()


def _open(store: Store, requester: str = REQUESTER) -> RollbackView:
    with transaction(store.sessions) as session:
        return request_rollback(
            session=session,
            settings=SETTINGS,
            cohort=COHORT,
            target=None,
            percent=None,
            reason="int8 crashes",
            requester=requester,
            now=NOW,
        )


def _approve(
    store: Store, request_id: int, user: str, at: timedelta = timedelta(minutes=1), **kw: object
) -> RollbackView:
    with transaction(store.sessions) as session:
        return approve(
            session=session,
            request_id=request_id,
            approver=user,
            now=NOW + at,
            **kw,  # type: ignore[arg-type]
        )


def test_a_dri_approves_and_the_decision_is_stored_and_audited(seeded: Store) -> None:
    request = _open(seeded)
    view = _approve(seeded, request.id, DRI, settings=SETTINGS)
    assert (view.state, view.decided_by, view.decided_at) == (
        "approved",
        DRI,
        NOW + timedelta(minutes=1),
    )
    with seeded.sessions() as session:
        [entry] = entries(session=session, kinds=["rollback.approved"])
    assert entry.actor == DRI and entry.data["seconds_to_decision"] == 60.0


def test_a_non_dri_may_not_approve(seeded: Store) -> None:
    request = _open(seeded)
    with pytest.raises(RollbackRefused, match=f"only the DRIs of cohort {COHORT}"):
        _approve(seeded, request.id, NOBODY, settings=SETTINGS)


def test_the_requester_may_not_approve_their_own_request_even_as_a_dri(seeded: Store) -> None:
    request = _open(seeded, requester=DRI)
    with pytest.raises(RollbackRefused, match="four eyes"):
        _approve(seeded, request.id, DRI, settings=SETTINGS)
    assert _approve(seeded, request.id, DRI2, settings=SETTINGS).state == "approved"


def test_an_expired_request_cannot_be_approved_and_the_sweep_marks_it(seeded: Store) -> None:
    request = _open(seeded)
    with pytest.raises(RollbackRefused, match=f"request #{request.id} expired"):
        _approve(seeded, request.id, DRI, at=timedelta(minutes=31), settings=SETTINGS)
    with transaction(seeded.sessions) as session:
        assert expire_due(session=session, now=NOW + timedelta(minutes=29)) == []
        [expired] = expire_due(session=session, now=NOW + timedelta(minutes=31))
    assert expired.state == "expired"
    with pytest.raises(RollbackRefused, match=r"expired at .* without a decision"):
        _approve(seeded, request.id, DRI, at=timedelta(minutes=32), settings=SETTINGS)
    _open(seeded)  # the cohort is free again


def test_an_already_decided_request_says_who_decided(seeded: Store) -> None:
    request = _open(seeded)
    _approve(seeded, request.id, DRI, settings=SETTINGS)
    with pytest.raises(RollbackRefused, match=f"already approved by <@{DRI}>"):
        _approve(seeded, request.id, DRI2, settings=SETTINGS)


def test_reject_needs_a_reason_and_frees_the_cohort(seeded: Store) -> None:
    request = _open(seeded)
    with transaction(seeded.sessions) as session, pytest.raises(RollbackRefused, match="why"):
        reject(
            session=session,
            settings=SETTINGS,
            request_id=request.id,
            rejecter=DRI,
            reason=" ",
            now=NOW,
        )
    with transaction(seeded.sessions) as session:
        view = reject(
            session=session,
            settings=SETTINGS,
            request_id=request.id,
            rejecter=DRI,
            reason="it is the network, not the build",
            now=NOW,
        )
    assert (view.state, view.decision_reason) == ("rejected", "it is the network, not the build")
    with pytest.raises(RollbackRefused, match="already rejected"):
        _approve(seeded, request.id, DRI2, settings=SETTINGS)
    _open(seeded)


def test_dris_per_cohort_override_and_user_groups_count(seeded: Store) -> None:
    settings = rollout_settings(
        cohort_dris={COHORT: DriSet(usergroup="S0EDGE")}, tier_dris={"edge": DriSet(users=[DRI2])}
    )
    directory = StaticDirectory({"S0EDGE": [NOBODY]})
    request = _open(seeded)
    with pytest.raises(RollbackRefused, match="<!subteam\\^S0EDGE>"):
        _approve(seeded, request.id, DRI2, settings=settings, directory=directory)
    view = _approve(seeded, request.id, NOBODY, settings=settings, directory=directory)
    assert view.decided_by == NOBODY
