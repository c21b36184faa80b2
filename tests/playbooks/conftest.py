"""Playbook fixtures: the shipped playbooks, a service on the test store, a recording notifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.playbooks.loader import Catalog, load_directory
from bot.playbooks.service import Playbooks
from bot.playbooks.views import RunView, StepView
from bot.probes.notify import LogNotifier
from bot.probes.service import ProbeRunner
from bot.settings import Settings
from bot.store import Store

SHIPPED = Path(__file__).resolve().parents[2] / "playbooks"


class RecordingNotifier:
    """Keeps what the service showed, handing out message refs like Slack would."""

    def __init__(self) -> None:
        self.started: list[RunView] = []
        self.shown: list[tuple[RunView, StepView]] = []
        self.finished: list[RunView] = []
        self._next = 0

    def _ref(self) -> str:
        self._next += 1
        return f"ts-{self._next}"

    def run_started(self, run: RunView) -> str | None:
        self.started.append(run)
        return run.thread_ts or self._ref()

    def step_changed(self, run: RunView, step: StepView) -> str | None:
        self.shown.append((run, step))
        return step.message_ts or self._ref()

    def run_finished(self, run: RunView) -> None:
        self.finished.append(run)


@pytest.fixture(scope="session")
def shipped() -> Catalog:
    return load_directory(SHIPPED)


@pytest.fixture
def pb_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"playbooks": settings.playbooks.model_copy(update={"directory": SHIPPED})}
    )


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def playbooks(
    store: Store, pb_settings: Settings, notifier: RecordingNotifier
) -> Iterator[Playbooks]:
    runner = ProbeRunner(store, pb_settings.probes, LogNotifier())
    yield Playbooks(store, pb_settings, notifier, probe_runner=runner)
