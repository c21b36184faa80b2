"""What a probe reports: named checks with the measured number and its limit, per target."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.timeutil import to_rfc3339


@dataclass(frozen=True)
class Check:
    """One judged measurement; `value` and `limit` are None where nothing was measured."""

    ok: bool
    value: float | None = None
    limit: float | None = None
    unit: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(
            ok=bool(data["ok"]),
            value=data.get("value"),
            limit=data.get("limit"),
            unit=data.get("unit", ""),
            detail=data.get("detail", ""),
        )


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one target: ok only when it ran and every check passed."""

    target: str
    tier: str
    started_at: datetime
    duration_ms: float
    checks: dict[str, Check] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks.values())

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.ok]

    def summary(self) -> str:
        """One line a person reads: what failed, with the numbers."""
        if self.error is not None:
            failed = "".join(f"; {n} {describe(self.checks[n])}" for n in self.failed_checks)
            return f"{self.target}: error: {self.error}{failed}"
        if self.ok:
            return f"{self.target}: ok"
        parts = [f"{name} {describe(self.checks[name])}" for name in self.failed_checks]
        return f"{self.target}: failed: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "tier": self.tier,
            "ok": self.ok,
            "started_at": to_rfc3339(self.started_at),
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
        }


def describe(check: Check) -> str:
    """`0.402 (limit 0.98): 103/256 agree`; just the detail (`HTTP 503`) when nothing is judged."""
    if check.value is None or (check.limit is None and check.detail):
        return check.detail or ("ok" if check.ok else "failed")
    text = f"{check.value:.4g}{check.unit}"
    if check.limit is not None:
        text += f" (limit {check.limit:.4g}{check.unit})"
    return f"{text}: {check.detail}" if check.detail else text
