"""Opening requests: the defaults, the frozen assignment, and every refusal."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.activity.service import entries
from bot.db import transaction
from bot.rollouts.requests import RollbackRefused, get_request, request_rollback
from bot.store import Store
from tests.rollouts.conftest import (
    BAD,
    COHORT,
    GOOD,
    NOW,
    REQUESTER,
    probe,
    rollout_settings,
)


def _request(store: Store, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "cohort": COHORT,
        "target": None,
        "percent": None,
        "reason": "int8 build crashes on lowram devices",
        "requester": REQUESTER,
        "now": NOW,
    }
    args.update(kw)
    with transaction(store.sessions) as session:
        return request_rollback(session=session, settings=rollout_settings(), **args)  # type: ignore[arg-type]


def test_a_request_targets_the_previous_build_and_freezes_the_current_assignment(
    seeded: Store,
) -> None:
    view = _request(seeded)

    assert (view.tier, view.from_model_id, view.target_model_id) == ("edge", BAD, GOOD)
    assert view.from_effective_at == NOW - timedelta(hours=1)
    assert view.from_config_hash == "cfg-bad" and view.target_config_hash == "cfg-good"
    assert (view.percent, view.state, view.requester) == (100, "requested", REQUESTER)
    assert view.expires_at == NOW + timedelta(minutes=30)
    with seeded.sessions() as session:
        assert get_request(session=session, request_id=view.id) == view
        [entry] = entries(session=session, kinds=["rollback.requested"])
    assert entry.subject == COHORT and entry.data["request_id"] == view.id
    assert entry.data["from_model_id"] == BAD and entry.data["target_model_id"] == GOOD


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cohort": "nope"}, "unknown cohort"),
        ({"target": "router-9-nonexistent"}, "unknown build 'router-9-nonexistent'"),
        ({"target": BAD}, f"already runs {BAD}"),
        ({"percent": 0}, "between 1 and 100"),
        ({"reason": "  "}, "needs a reason"),
    ],
)
def test_refusals_say_what_was_wrong(seeded: Store, kw: dict[str, object], message: str) -> None:
    with pytest.raises(RollbackRefused, match=message):
        _request(seeded, **kw)


def test_a_target_whose_last_probe_failed_is_refused(seeded: Store) -> None:
    probe(seeded, GOOD, ok=True, at=NOW - timedelta(minutes=10))
    probe(seeded, GOOD, ok=False, at=NOW - timedelta(minutes=5))
    with pytest.raises(RollbackRefused, match=f"the last probe of {GOOD} failed"):
        _request(seeded)
    probe(seeded, GOOD, ok=True)
    assert _request(seeded).target_model_id == GOOD


def test_a_second_open_request_for_the_cohort_is_refused(seeded: Store) -> None:
    first = _request(seeded)
    with pytest.raises(RollbackRefused, match=f"already has an open rollback request #{first.id}"):
        _request(seeded, percent=50)


def test_concurrent_requests_open_one(seeded: Store) -> None:
    """The database enforces one open request per cohort, not just the check before insert."""
    results: list[object] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(_request(seeded))
        except RollbackRefused as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    opened = [r for r in results if not isinstance(r, RollbackRefused)]
    assert len(opened) == 1 and len(results) == 8
    assert all("already has an open" in str(r) for r in results if r not in opened)
