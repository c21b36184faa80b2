"""Time in tierbot: aware UTC datetimes inside, RFC 3339 with an offset at the edges.

Timestamps without an offset are rejected rather than guessed: a router in another time zone
would otherwise silently shift its events by hours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; raises ValueError with a reason a user can act on."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    if match.group(8) is None:
        raise ValueError(f"timestamp has no UTC offset (add Z or +HH:MM): {text!r}")
    normalized = text.upper() if ("t" in text or "z" in text) else text
    frac = match.group(7)
    if frac is not None and len(frac) > 7:  # fromisoformat wants at most 6 digits
        normalized = normalized.replace(frac, frac[:7], 1)
    try:
        return datetime.fromisoformat(normalized).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"invalid date or time in {text!r}: {exc}") from None


def to_rfc3339(value: datetime) -> str:
    """Format as RFC 3339 UTC with milliseconds and a Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def from_epoch_s(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_duration(text: str) -> timedelta:
    """Parse `30m`, `24h`, `90s`, `7d`, `1.5h`: the window syntax of the CLI and Slack."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 24h, 7d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)
