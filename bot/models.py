"""Every ORM model, imported once so `Base.metadata` is complete (Alembic, tests)."""

from bot.activity.models import Activity
from bot.db import Base
from bot.probes.models import ProbeAlert, ProbeLease, ProbeRun
from bot.rollouts.models import CohortAssignment, ModelBuild
from bot.telemetry.models import (
    DeadLetter,
    PullCursor,
    RollupHour,
    RollupMinute,
    RouterEvent,
    Slice,
)

__all__ = [
    "Activity",
    "Base",
    "CohortAssignment",
    "DeadLetter",
    "ModelBuild",
    "ProbeAlert",
    "ProbeLease",
    "ProbeRun",
    "PullCursor",
    "RollupHour",
    "RollupMinute",
    "RouterEvent",
    "Slice",
]
