"""The one sentence a report leads with: what failed, how sure, and the slice that explains it."""

from __future__ import annotations

from bot.diagnosis.report import Report, Suspect


def _suspect_phrase(suspect: Suspect) -> str:
    where = " x ".join(f"{v}" for v in suspect.dimensions.values())
    if suspect.metric == "errors" and suspect.error_rate is not None:
        base = suspect.baseline_error_rate
        baseline = f", baseline {base:.2%}" if base is not None else ", no baseline"
        text = f"{where} fails {suspect.error_rate:.1%}{baseline}"
    elif suspect.metric == "latency" and suspect.slow_rate is not None:
        text = f"{where} is slow ({suspect.slow_rate:.0%} of requests over budget)"
    elif suspect.metric == "residency":
        dims = suspect.dimensions
        text = f"cohort {dims.get('cohort')} served in {dims.get('region')}"
    else:
        text = f"cohort {suspect.dimensions.get('cohort')} is sent to the wrong tier"
    text += f" ({suspect.share_of_excess:.0%} of the excess)"
    if suspect.related_change:
        text += f"; {suspect.related_change}"
    return text


def verdict(report: Report) -> str:
    failing, degraded = report.failing, report.degraded
    if not failing and not degraded:
        if all(t.status == "no_data" for t in report.tiers.values()):
            return "No data: no router events in the window."
        return "Nothing failing: edge, cloud and the router are within budget."
    parts: list[str] = []
    for component in failing + [d for d in degraded if d not in failing]:
        state = "FAILING" if component in failing else "degraded (not statistically clear)"
        top = next((s for s in report.suspects if s.tier == component), None)
        parts.append(f"{component} {state}" + (f": {_suspect_phrase(top)}" if top else ""))
    return ". ".join(parts) + "."
