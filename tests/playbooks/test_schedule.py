"""The scheduler runs the playbook tick; a failing tick never escapes the job."""

from __future__ import annotations

from bot.db import make_engine, make_session_factory
from bot.notifiers import Notifiers
from bot.playbooks.notify import LogPlaybookNotifier
from bot.playbooks.schedule import scheduled_tick
from bot.playbooks.service import Playbooks
from bot.scheduling import build_scheduler
from bot.settings import Settings
from bot.store import Store


def test_the_scheduler_ticks_playbooks(store: Store, pb_settings: Settings) -> None:
    scheduler = build_scheduler(store, pb_settings, Notifiers())
    job = scheduler.get_job("playbooks:tick")
    assert job is not None and job.trigger.interval.total_seconds() == 5
    assert isinstance(Notifiers().playbooks, LogPlaybookNotifier)


def test_a_failing_tick_is_logged_not_raised(pb_settings: Settings) -> None:
    engine = make_engine("sqlite:////nonexistent-dir/tierbot.db")
    broken = Store(engine=engine, sessions=make_session_factory(engine))
    scheduled_tick(Playbooks(broken, pb_settings))  # the database is unreachable: logged only
