"""The which-tier report: what the CLI prints with --json and what Slack renders.

Every judgement carries its evidence: the metric, its value, the budget or baseline it was
held against, the window and the sample size. `to_dict()` honours
contracts/which-tier-report.schema.json (required fields) and adds the evidence as extra fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.buildhealth.crashes import Fingerprint
from bot.buildhealth.staleness import CohortStaleness
from bot.timeutil import to_rfc3339

Status = Literal["healthy", "degraded", "failing", "no_data"]
Component = Literal["edge", "cloud", "router"]
STATUS_ORDER: dict[str, int] = {"no_data": 0, "healthy": 1, "degraded": 2, "failing": 3}


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Finding:
    """One rule that fired (or nearly did), with the numbers behind it."""

    rule: str
    status: Status
    metric: str
    value: float
    threshold: float
    requests: int
    detail: str
    dimensions: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "metric": self.metric,
            "value": _round(self.value),
            "threshold": _round(self.threshold),
            "requests": self.requests,
            "detail": self.detail,
            "dimensions": self.dimensions,
        }


@dataclass
class TierReport:
    tier: str
    status: Status
    requests: int
    failures: int
    error_rate: float | None
    p95_latency_ms: float | None
    fallback_rate: float | None
    baseline_requests: int
    baseline_error_rate: float | None
    baseline_p95_latency_ms: float | None
    budget_error_rate: float
    budget_p95_latency_ms: float
    burn_rate: float | None
    burn_rates: dict[str, float | None]
    fast_burn: bool
    slow_burn: bool
    findings: list[Finding] = field(default_factory=list)
    new_crash_fingerprints: list[Fingerprint] | None = None  # edge, when it fails

    def to_dict(self) -> dict[str, Any]:
        out = {
            "status": self.status,
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": _round(self.error_rate),
            "baseline_error_rate": _round(self.baseline_error_rate),
            "p95_latency_ms": _round(self.p95_latency_ms, 1),
            "baseline_p95_latency_ms": _round(self.baseline_p95_latency_ms, 1),
            "fallback_rate": _round(self.fallback_rate),
            "baseline_requests": self.baseline_requests,
            "budget": {
                "error_rate": self.budget_error_rate,
                "p95_latency_ms": self.budget_p95_latency_ms,
            },
            "burn_rate": _round(self.burn_rate, 3),
            "burn_rates": {k: _round(v, 3) for k, v in self.burn_rates.items()},
            "fast_burn": self.fast_burn,
            "slow_burn": self.slow_burn,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.new_crash_fingerprints is not None:  # an extra field: the contract allows it
            out["new_crash_fingerprints"] = [f.to_dict() for f in self.new_crash_fingerprints]
        return out


@dataclass
class RouterReport:
    status: Status
    turns: int
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "turns": self.turns,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class Suspect:
    """A slice that explains a failing or degraded component."""

    tier: Component
    dimensions: dict[str, str]
    share_of_excess: float
    metric: str
    requests: int
    traffic_share: float
    error_rate: float | None = None
    baseline_error_rate: float | None = None
    slow_rate: float | None = None
    baseline_slow_rate: float | None = None
    onset: datetime | None = None
    related_change: str | None = None

    def label(self) -> str:
        return " x ".join(f"{k}={v}" for k, v in self.dimensions.items())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tier": self.tier,
            "dimensions": self.dimensions,
            "share_of_excess": round(min(1.0, max(0.0, self.share_of_excess)), 4),
            "metric": self.metric,
            "requests": self.requests,
            "traffic_share": round(self.traffic_share, 4),
        }
        if self.error_rate is not None:  # the contract wants a number here when present
            out["error_rate"] = _round(self.error_rate)
            out["baseline_error_rate"] = _round(self.baseline_error_rate)
        if self.slow_rate is not None:
            out["slow_rate"] = _round(self.slow_rate)
            out["baseline_slow_rate"] = _round(self.baseline_slow_rate)
        out["onset"] = to_rfc3339(self.onset) if self.onset else None
        out["related_change"] = self.related_change
        return out


@dataclass(frozen=True)
class Change:
    """A cohort assignment that took effect shortly before or during the window."""

    cohort: str
    tier: str
    model_id: str
    effective_at: datetime
    previous_model_id: str | None
    quantization: str | None
    rollout_percent: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort,
            "tier": self.tier,
            "model_id": self.model_id,
            "effective_at": to_rfc3339(self.effective_at),
            "previous_model_id": self.previous_model_id,
            "quantization": self.quantization,
            "rollout_percent": self.rollout_percent,
        }


@dataclass
class Report:
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    tiers: dict[str, TierReport]
    router: RouterReport
    suspects: list[Suspect]
    changes: list[Change]
    verdict: str = ""
    config_staleness: list[CohortStaleness] = field(default_factory=list)

    @property
    def failing(self) -> list[Component]:
        out: list[Component] = []
        for name in ("edge", "cloud"):
            if self.tiers[name].status == "failing":
                out.append(name)
        if self.router.status == "failing":
            out.append("router")
        return out

    @property
    def degraded(self) -> list[str]:
        statuses = {name: t.status for name, t in self.tiers.items()} | {
            "router": self.router.status
        }
        return [name for name, status in statuses.items() if status == "degraded"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "window": {"start": to_rfc3339(self.window_start), "end": to_rfc3339(self.window_end)},
            "baseline": {
                "start": to_rfc3339(self.baseline_start),
                "end": to_rfc3339(self.baseline_end),
            },
            "failing": list(self.failing),
            "degraded": self.degraded,
            "tiers": {name: tier.to_dict() for name, tier in self.tiers.items()},
            "router": self.router.to_dict(),
            "suspects": [s.to_dict() for s in self.suspects],
            "changes": [c.to_dict() for c in self.changes],
            "config_staleness": [c.to_dict() for c in self.config_staleness],
        }
