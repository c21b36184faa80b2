"""Crash fingerprints per build: the top ones, where they hit, and which are new with it.

A fingerprint is new with a build when none of the builds it replaced (`predecessors`) ever
reported it: the crash came with the build, not with an OS update that hits every build.
Counts come from the hourly crash rollup, so a window's counts are those of the hours it
touches; first and last seen are exact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bot.buildhealth.builds import build_slices, build_tier, predecessors
from bot.telemetry.queries import SliceInfo, load_slices
from bot.timeutil import from_epoch_ms, to_epoch_ms, to_rfc3339

HOUR = 3600


@dataclass
class Fingerprint:
    fingerprint: str
    model_id: str
    events: int
    first_seen: datetime
    last_seen: datetime
    new: bool | None  # None: the build replaced no known build, so nothing to compare with
    device_classes: Counter[str] = field(default_factory=Counter)
    os_versions: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "model_id": self.model_id,
            "events": self.events,
            "first_seen": to_rfc3339(self.first_seen),
            "last_seen": to_rfc3339(self.last_seen),
            "new": self.new,
            "device_classes": dict(self.device_classes.most_common()),
            "os_versions": dict(self.os_versions.most_common()),
        }


@dataclass
class CrashReport:
    model_id: str
    tier: str
    end: datetime
    predecessors: list[str]
    fingerprints: list[Fingerprint]  # most events first, at most `top`
    total_fingerprints: int
    total_events: int

    @property
    def new(self) -> list[Fingerprint]:
        return [f for f in self.fingerprints if f.new is True]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "tier": self.tier,
            "end": to_rfc3339(self.end),
            "predecessors": self.predecessors,
            "total_fingerprints": self.total_fingerprints,
            "total_events": self.total_events,
            "fingerprints": [f.to_dict() for f in self.fingerprints],
        }


def _rows(
    conn: Connection, slice_ids: list[int], start_s: int | None, end: datetime
) -> list[tuple[int, str, int, int, int]]:
    """(slice_id, fingerprint, events, first_ms, last_ms) seen before `end` (since `start_s`)."""
    if not slice_ids:
        return []
    end_ms = to_epoch_ms(end)
    since = "" if start_s is None else " AND last_ms >= :since_ms"
    rows = conn.execute(
        text(
            "SELECT slice_id, fingerprint, SUM(events), MIN(first_ms), MAX(last_ms) "
            "FROM build_crashes_hour WHERE bucket_start < :end_s AND first_ms < :end_ms "
            f"AND slice_id IN ({','.join(map(str, sorted(slice_ids)))}){since} "
            "GROUP BY slice_id, fingerprint"
        ),
        {"end_s": end_ms // 1000, "end_ms": end_ms, "since_ms": (start_s or 0) * 1000},
    )
    return [(int(a), str(b), int(c), int(d), int(e)) for a, b, c, d, e in rows]


def seen_on(conn: Connection, model_ids: list[str], end: datetime) -> set[str]:
    """Every fingerprint the builds ever reported before `end`."""
    ids = [
        i for i, info in load_slices(conn).items() if info.dimensions.get("model_id") in model_ids
    ]
    return {fingerprint for _, fingerprint, *_ in _rows(conn, ids, None, end)}


def _fold(
    rows: list[tuple[int, str, int, int, int]],
    slices: dict[int, SliceInfo],
    known: set[str] | None,
) -> list[Fingerprint]:
    """One Fingerprint per (build, fingerprint), most events first."""
    out: dict[tuple[str, str], Fingerprint] = {}
    for slice_id, fingerprint, events, first_ms, last_ms in rows:
        dims = slices[slice_id].dimensions
        model_id = dims.get("model_id") or ""
        item = out.get((model_id, fingerprint))
        if item is None:
            item = out[(model_id, fingerprint)] = Fingerprint(
                fingerprint,
                model_id,
                0,
                from_epoch_ms(first_ms),
                from_epoch_ms(last_ms),
                None if known is None else fingerprint not in known,
            )
        item.events += events
        item.first_seen = min(item.first_seen, from_epoch_ms(first_ms))
        item.last_seen = max(item.last_seen, from_epoch_ms(last_ms))
        item.device_classes[dims.get("device_class") or "(unknown)"] += events
        item.os_versions[dims.get("os_version") or "(unknown)"] += events
    return sorted(out.values(), key=lambda f: (-f.events, f.fingerprint))


def crash_report(*, session: Session, model_id: str, end: datetime, top: int) -> CrashReport:
    """The build's crash fingerprints up to `end`; raises UnknownBuild."""
    conn = session.connection()
    slices = build_slices(conn, model_id)
    tier = build_tier(session, model_id, slices)
    before = predecessors(session, model_id, tier, end)
    known = seen_on(conn, before, end) if before else None
    found = _fold(_rows(conn, list(slices), None, end), slices, known)
    return CrashReport(
        model_id=model_id,
        tier=tier,
        end=end,
        predecessors=before,
        fingerprints=found[:top],
        total_fingerprints=len(found),
        total_events=sum(f.events for f in found),
    )


def new_in_window(
    *, session: Session, tier: str, start: datetime, end: datetime, top: int = 5
) -> list[Fingerprint]:
    """Fingerprints seen on `tier` in [start, end) that are new with their build."""
    conn = session.connection()
    slices = {i: s for i, s in load_slices(conn).items() if s.tier == tier}
    start_s = to_epoch_ms(start) // 1000
    rows = _rows(conn, list(slices), start_s, end)
    out: list[Fingerprint] = []
    for model_id in sorted({slices[r[0]].dimensions.get("model_id") or "" for r in rows}):
        mine = [r for r in rows if slices[r[0]].dimensions.get("model_id") == model_id]
        before = predecessors(session, model_id, tier, end)
        if not before:
            continue  # nothing to compare with: "new" would say nothing
        known = seen_on(conn, before, end)
        out.extend(f for f in _fold(mine, slices, known) if f.new is True)
    out.sort(key=lambda f: (-f.events, f.model_id, f.fingerprint))
    return out[:top]
