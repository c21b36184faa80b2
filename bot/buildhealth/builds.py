"""Which slices belong to a build, which tier it runs on, and which build came before it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bot.errors import TierbotError
from bot.rollouts.models import ModelBuild
from bot.rollouts.service import assignments_until
from bot.telemetry.models import Slice
from bot.telemetry.queries import SliceInfo, load_slices


class UnknownBuild(TierbotError):
    """No assignment, registration or traffic names this build."""


def build_slices(conn: Connection, model_id: str) -> dict[int, SliceInfo]:
    """Every slice of the build's traffic, on whichever tier."""
    ids = set(conn.execute(select(Slice.id).where(Slice.model_id == model_id)).scalars())
    if not ids:
        return {}
    return {i: info for i, info in load_slices(conn).items() if i in ids}


def build_tier(session: Session, model_id: str, slices: dict[int, SliceInfo]) -> str:
    """The build's tier: as registered, else as its traffic says; raises UnknownBuild."""
    build = session.get(ModelBuild, model_id)
    if build is not None:
        return build.tier
    tiers = Counter(info.tier for info in slices.values())
    if tiers:
        return tiers.most_common(1)[0][0]
    known = sorted(session.scalars(select(ModelBuild.model_id).limit(30)))
    hint = f" Known builds: {', '.join(known)}." if known else ""
    raise UnknownBuild(f"no assignment or traffic names build {model_id!r}.{hint}")


def predecessors(session: Session, model_id: str, tier: str, end: datetime) -> list[str]:
    """The builds this one replaced: in cohort histories, else the previous one registered.

    A build can replace different builds in different cohorts; all of them count, so a crash
    is "new with this build" only if none of the builds it replaced ever showed it.
    """
    history = assignments_until(session=session, end=end)
    replaced = Counter(
        a.previous_model_id
        for a in history
        if a.model_id == model_id and a.previous_model_id not in (None, model_id)
    )
    if replaced:
        return sorted((n for n in replaced if n is not None), key=lambda n: (-replaced[n], n))
    builds = list(
        session.execute(
            select(ModelBuild.model_id, ModelBuild.first_seen_at)
            .where(ModelBuild.tier == tier)
            .order_by(ModelBuild.first_seen_at, ModelBuild.model_id)
        )
    )
    names = [name for name, _ in builds]
    if model_id in names and names.index(model_id) > 0:
        return [names[names.index(model_id) - 1]]
    return []
