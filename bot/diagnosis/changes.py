"""Change correlation: the rollouts that preceded a failure, and whether a suspect matches one."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.diagnosis.report import Change, Suspect
from bot.rollouts.service import Assignment

LOOKBACK = timedelta(hours=1)
RELATED_WITHIN = timedelta(minutes=60)


def recent_changes(
    history: list[Assignment], window_start: datetime, window_end: datetime
) -> list[Change]:
    """Assignments effective within the hour before the window or during it, oldest first."""
    since = window_start - LOOKBACK
    return [
        Change(
            cohort=a.cohort,
            tier=a.tier,
            model_id=a.model_id,
            effective_at=a.effective_at,
            previous_model_id=a.previous_model_id,
            quantization=a.quantization,
            rollout_percent=a.rollout_percent,
        )
        for a in history
        if since <= a.effective_at <= window_end
    ]


def _minutes(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes} min" if minutes != 1 else "1 min"


def relate(suspect: Suspect, changes: list[Change]) -> str | None:
    """Say how the suspect lines up with a rollout of its build or to its cohort, if one does."""
    model, cohort = suspect.dimensions.get("model_id"), suspect.dimensions.get("cohort")
    matching = [
        c
        for c in changes
        if c.tier == suspect.tier
        and (
            (model is not None and c.model_id == model)
            or (cohort is not None and c.cohort == cohort)
        )
    ]
    if not matching:
        return None
    if suspect.onset is None:
        first = matching[0]
        return (
            f"matches the rollout of {first.model_id} to cohort {first.cohort} "
            f"at {first.effective_at:%H:%M} UTC"
        )
    before = [c for c in matching if c.effective_at <= suspect.onset]
    if before:
        change = max(before, key=lambda c: c.effective_at)
        lag = suspect.onset - change.effective_at
        if lag <= RELATED_WITHIN:
            return f"started {_minutes(lag)} after {change.model_id} reached cohort {change.cohort}"
        return None
    change = min(matching, key=lambda c: c.effective_at)
    lead = change.effective_at - suspect.onset
    return (
        f"began {_minutes(lead)} before {change.model_id} reached cohort {change.cohort}: "
        "that rollout is probably not the cause"
    )
