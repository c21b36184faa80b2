"""What the Slack listeners need from the rest of tierbot, handed to each `register`.

Passed by closure, not through bolt's context: bolt deep-copies context values for lazy
listeners, which would copy (or fail to copy) an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.notifiers import Notifiers
from bot.probes.service import ProbeRunner
from bot.settings import Settings
from bot.slack.metrics import ServerMetrics
from bot.store import Store
from bot.timeutil import utcnow


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    store: Store
    probe_runner: ProbeRunner  # one per process: it keeps the warmed onnxruntime sessions
    notifiers: Notifiers = field(default_factory=Notifiers)
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    clock: Callable[[], datetime] = utcnow  # the demo and tests pin "now" to their data
