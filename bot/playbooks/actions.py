"""The steps tierbot runs itself: each calls a domain service and returns plain data.

An action gets the run's context and returns `(context updates, result)`: the updates land in
the context under the action's name (`report`, `probe`, `cohort`, `rollback`), the result is
stored on the step with a one-line `summary` for Slack and the timeline. A `TierbotError` is a
result a person can act on (the step offers Retry and Skip); it never breaks the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.errors import TierbotError
from bot.playbooks.schema import (
    CohortShowAction,
    PostMessageAction,
    ProbeAction,
    RequestRollbackAction,
    WhichTierAction,
)
from bot.playbooks.templates import UNKNOWN, render
from bot.settings import Settings
from bot.timeutil import parse_duration

if TYPE_CHECKING:
    from bot.probes.results import ProbeResult
    from bot.probes.service import ProbeRunner

_DIMENSIONS = ("cohort", "model_id", "device_class", "region", "os_version", "app_version")
Updates = dict[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class ActionDeps:
    """What actions need beyond the session: settings, and the process's probe runner."""

    settings: Settings
    probe_runner: ProbeRunner | None = None


def _top_suspect(report: dict[str, Any], failing_tier: str | None) -> dict[str, Any]:
    suspects: list[dict[str, Any]] = report.get("suspects") or []
    ranked = [s for s in suspects if s.get("tier") == failing_tier] or suspects
    if not ranked:
        return {}
    top = ranked[0]
    dims: dict[str, str] = top.get("dimensions") or {}
    out: dict[str, Any] = {k: dims.get(k) for k in _DIMENSIONS}
    out |= {
        "tier": top.get("tier"),
        "label": " x ".join(f"{k}={v}" for k, v in dims.items()),
        "metric": top.get("metric"),
        "share_of_excess": top.get("share_of_excess"),
        "error_rate": top.get("error_rate"),
        "baseline_error_rate": top.get("baseline_error_rate"),
        "related_change": top.get("related_change"),
    }
    changes = [
        c
        for c in report.get("changes") or []
        if c.get("tier") == top.get("tier")
        and (
            (out["model_id"] and c.get("model_id") == out["model_id"])
            or (out["cohort"] and c.get("cohort") == out["cohort"])
        )
    ]
    out["cohorts"] = sorted({c["cohort"] for c in changes}) or (
        [out["cohort"]] if out["cohort"] else []
    )
    if changes:
        change = changes[0]
        out["cohort"] = out["cohort"] or change.get("cohort")
        out["model_id"] = out["model_id"] or change.get("model_id")
        out["quantization"] = change.get("quantization")
        out["previous_model_id"] = change.get("previous_model_id")
    else:
        out["quantization"] = out["previous_model_id"] = None
    return out


def derive_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report plus what playbooks branch on: the failing tier and the top suspect."""
    failing: list[str] = list(report.get("failing") or [])
    failing_tier = failing[0] if failing else None
    degraded: list[str] = list(report.get("degraded") or [])
    return report | {
        "failing_tier": failing_tier,
        "suspect_tier": failing_tier or (degraded[0] if degraded else None),
        "top": _top_suspect(report, failing_tier or (degraded[0] if degraded else None)),
    }


def which_tier(
    step: WhichTierAction, *, session: Session, deps: ActionDeps, now: datetime
) -> tuple[Updates, Result]:
    from bot.diagnosis.service import which_tier as diagnose

    report = diagnose(
        session=session,
        budgets=deps.settings.budgets,
        end=now,
        window=parse_duration(step.window),
        baseline=parse_duration(step.baseline),
    )
    derived = derive_report(report.to_dict())
    top = derived["top"]
    summary = report.verdict or "which-tier answered"
    if top:
        summary += f" Top suspect: {top['label']} ({top['tier']})."
    return {"report": derived}, {
        "summary": summary,
        "failing": derived["failing"],
        "failing_tier": derived["failing_tier"],
        "top": top,
    }


def summarize_probes(results: list[ProbeResult], tier: str) -> dict[str, Any]:
    failing = [r.target for r in results if not r.ok]
    if not results:
        summary = f"no probe targets configured ({tier})"
    else:
        summary = f"{len(results) - len(failing)} of {len(results)} {tier} probe targets pass"
        if failing:
            summary += ": failing " + ", ".join(failing[:10])
    return {
        "tier": tier,
        "total": len(results),
        "failing": failing,
        "ok": not failing,
        "summary": summary,
    }


def probe(step: ProbeAction, *, deps: ActionDeps) -> tuple[Updates, Result]:
    """Runs outside the run's transaction (it does network I/O and commits on its own)."""
    if deps.probe_runner is None:
        raise TierbotError("probes cannot run here (no probe runner in this process)")
    found = summarize_probes(deps.probe_runner.run_round(step.tier), step.tier)
    return {"probe": found}, dict(found)


def cohort_show(
    step: CohortShowAction, context: dict[str, Any], *, session: Session, now: datetime
) -> tuple[Updates, Result]:
    from bot.rollouts.service import cohort_history, current

    name = render(step.cohort, context).strip()
    if not name or UNKNOWN in name:
        raise TierbotError(f"no cohort to show (the template gave {name!r})")
    now_in_force = current(cohort_history(session=session, cohort=name), now)
    found: dict[str, Any] = {"name": name} | {t: a.to_dict() for t, a in now_in_force.items()}
    builds = ", ".join(f"{t}: {a.model_id}" for t, a in sorted(now_in_force.items()))
    return {"cohort": found}, {"summary": f"cohort {name} runs {builds or 'nothing'}"} | found


def request_rollback(
    step: RequestRollbackAction,
    context: dict[str, Any],
    *,
    session: Session,
    deps: ActionDeps,
    now: datetime,
    requester: str,
    incident_id: int | None,
) -> tuple[Updates, Result]:
    from bot.rollouts.requests import request_rollback as open_request

    cohort = render(step.cohort, context).strip()
    target = render(step.target, context).strip() if step.target else ""
    if not cohort or UNKNOWN in cohort:
        raise TierbotError(f"no cohort to roll back (the template gave {cohort!r})")
    if UNKNOWN in target:
        target = ""  # unknown: let the rollback default to the build the cohort ran before
    view = open_request(
        session=session,
        settings=deps.settings.rollouts,
        cohort=cohort,
        target=target or None,
        percent=step.percent,
        reason=render(step.reason, context),
        requester=requester,
        now=now,
        incident_id=incident_id,
    )
    found = rollback_fields(view)
    summary = (
        f"rollback #{view.id} requested: {cohort} to {found['target'] or 'its previous build'} "
        f"(by {requester}); waiting for a DRI's approval"
    )
    return {"rollback": found}, {"summary": summary} | found


def rollback_fields(view: Any) -> dict[str, Any]:
    """The request as the context shows it (re-read on every wait tick)."""
    return {
        "id": view.id,
        "state": view.state,
        "cohort": getattr(view, "cohort", None),
        "target": getattr(view, "target_model_id", None),
        "from": getattr(view, "from_model_id", None),
        "decided_by": getattr(view, "decided_by", None),
        "verified": getattr(view, "verified", None),
        "failure": getattr(view, "failure", None),
    }


def refresh_rollback(session: Session, context: dict[str, Any]) -> None:
    """Re-read the run's rollback request into the context (its state moves on its own)."""
    current = context.get("rollback")
    if not isinstance(current, dict) or not isinstance(current.get("id"), int):
        return
    try:
        from bot.rollouts.requests import get_request
    except ImportError:  # pragma: no cover - the rollouts package ships with tierbot
        return
    try:
        view = get_request(session=session, request_id=current["id"])
    except TierbotError:
        return
    context["rollback"] = rollback_fields(view)


def post_message(step: PostMessageAction, context: dict[str, Any]) -> tuple[Updates, Result]:
    text = render(step.message, context)
    return {}, {"summary": text, "message": text}
