"""Every ORM model, imported once so `Base.metadata` is complete (Alembic, tests)."""

from bot.activity.models import Activity
from bot.buildhealth.models import ConfigHashMinute, CrashHour, ErrorCodeHour, ErrorCodeMinute
from bot.db import Base
from bot.deliveries.models import DeliverySeen
from bot.incidents.models import Incident
from bot.playbooks.models import PlaybookRun, PlaybookStep
from bot.probes.models import ProbeAlert, ProbeLease, ProbeRun
from bot.rollouts.models import CohortAssignment, ModelBuild, RollbackRequest
from bot.telemetry.models import (
    DeadLetter,
    PullCursor,
    RollupHour,
    RollupMinute,
    RouterEvent,
    Slice,
)
from bot.telemetry.rollup_models import RollupSubmission

__all__ = [
    "Activity",
    "Base",
    "CohortAssignment",
    "ConfigHashMinute",
    "CrashHour",
    "DeadLetter",
    "DeliverySeen",
    "ErrorCodeHour",
    "ErrorCodeMinute",
    "Incident",
    "ModelBuild",
    "PlaybookRun",
    "PlaybookStep",
    "ProbeAlert",
    "ProbeLease",
    "ProbeRun",
    "PullCursor",
    "RollbackRequest",
    "RollupHour",
    "RollupMinute",
    "RollupSubmission",
    "RouterEvent",
    "Slice",
]
