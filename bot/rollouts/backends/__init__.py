"""Rollout backends: how an approved rollback reaches the clients.

`builtin`: tierbot is the source of truth; it writes the new cohort assignment and serves it at
`GET /api/v1/cohorts/{cohort}/config`. `webhook`: tierbot POSTs the change to the team's rollout
system, signed, with an idempotency key. Both must be idempotent on `Change.idempotency_key`:
after a crash the same change is applied again with the same key and must not happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.errors import TierbotError
from bot.timeutil import to_rfc3339


class BackendError(TierbotError):
    """The backend refused or could not be reached; `transient` ones were retried already."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Change:
    """One rollout change: put `cohort` on `tier` onto `model_id` for `percent` of its clients."""

    request_id: int
    kind: str
    cohort: str
    tier: str
    from_model_id: str
    model_id: str
    percent: int
    config_hash: str | None
    reason: str
    requested_by: str
    approved_by: str | None
    idempotency_key: str
    at: datetime

    def to_payload(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "cohort": self.cohort,
            "tier": self.tier,
            "from_model_id": self.from_model_id,
            "model_id": self.model_id,
            "rollout_percent": self.percent,
            "config_hash": self.config_hash,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "approved_by": self.approved_by,
            "idempotency_key": self.idempotency_key,
            "effective_at": to_rfc3339(self.at),
        }


class RolloutBackend(Protocol):
    @property
    def name(self) -> str: ...

    def apply(self, change: Change) -> str:
        """Make the change (idempotently on its key); return a reference for the audit log."""
        ...
