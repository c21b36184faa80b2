"""The builtin backend: tierbot writes the cohort's new assignment; clients poll its config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction
from bot.rollouts.backends import Change
from bot.rollouts.models import CohortAssignment, ModelBuild
from bot.store import Store

SOURCE_PREFIX = "tierbot:"


def source_for(change: Change) -> str:
    """The assignment's `source`: names the change, so applying it again finds it."""
    return f"{SOURCE_PREFIX}{change.kind}:{change.idempotency_key}"


@dataclass(frozen=True)
class BuiltinBackend:
    store: Store
    name: str = "builtin"

    def apply(self, change: Change) -> str:
        """Insert the assignment unless this change's key already wrote one."""
        source = source_for(change)
        with transaction(self.store.sessions) as session:
            done = session.scalars(
                select(CohortAssignment.id).where(CohortAssignment.source == source)
            ).first()
            if done is not None:
                return f"assignment {done} (already written)"
            build = session.get(ModelBuild, change.model_id)
            effective_at = change.at
            taken = set(
                session.scalars(
                    select(CohortAssignment.effective_at).where(
                        CohortAssignment.cohort == change.cohort,
                        CohortAssignment.tier == change.tier,
                        CohortAssignment.effective_at >= effective_at,
                    )
                )
            )
            while effective_at in taken:  # one per (cohort, tier, instant): nudge by 1 ms
                effective_at += timedelta(milliseconds=1)
            row = CohortAssignment(
                cohort=change.cohort,
                tier=change.tier,
                model_id=change.model_id,
                effective_at=effective_at,
                quantization=build.quantization if build is not None else None,
                rollout_percent=float(change.percent),
                residency=None,
                residency_given=False,
                config_hash=change.config_hash,
                config_hash_given=change.config_hash is not None,
                extra=None,
                source=source[:256],
                received_at=change.at,
            )
            session.add(row)
            session.flush()
            return f"assignment {row.id}"
