"""The webhook backend: POST the change to the team's rollout system, signed, exactly once.

Headers: `Idempotency-Key` (the same on every retry of one change), `X-Tierbot-Timestamp` and
`X-Tierbot-Signature: v1=<hex HMAC-SHA256 of "v1:<timestamp>:<body>">`. 2xx is done; 5xx, 429
and connection errors are retried with backoff; any other 4xx is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from bot.rollouts.backends import BackendError, Change

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Tierbot-Signature value a receiver recomputes to trust the body."""
    digest = hmac.new(secret, b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


@dataclass(frozen=True)
class WebhookBackend:
    url: str
    secret: bytes
    timeout: float = 10.0
    attempts: int = 5
    backoff: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep)
    name: str = "webhook"

    def _post(self, client: httpx.Client, change: Change, body: bytes) -> httpx.Response:
        timestamp = str(int(time.time()))
        return client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": change.idempotency_key,
                "X-Tierbot-Timestamp": timestamp,
                "X-Tierbot-Signature": signature(self.secret, timestamp, body),
            },
        )

    def apply(self, change: Change) -> str:
        body = orjson.dumps(change.to_payload())
        problem = ""
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = self._post(client, change, body)
                except httpx.TransportError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    if response.is_success:
                        return f"webhook HTTP {response.status_code} after {attempt} attempt(s)"
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                    if response.status_code < 500 and response.status_code != 429:
                        raise BackendError(f"the rollout webhook refused the change: {problem}")
                log.warning("webhook attempt %d/%d failed: %s", attempt, self.attempts, problem)
                if attempt < self.attempts:
                    self.sleep(min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))
        raise BackendError(
            f"the rollout webhook failed {self.attempts} times: {problem}", transient=True
        )
