"""The runner: frozen versions, resume after a restart, double and concurrent clicks, timeline."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.activity.service import entries
from bot.db import transaction
from bot.errors import TierbotError
from bot.incidents.service import open_incident
from bot.playbooks import runner, state
from bot.playbooks.actions import ActionDeps
from bot.playbooks.loader import load_directory
from bot.playbooks.models import PlaybookRun
from bot.playbooks.service import Playbooks
from bot.playbooks.views import RunView, StepView
from bot.settings import Settings
from bot.store import Store, open_store
from tests.playbooks.conftest import RecordingNotifier

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
WAITER = """
name: waiter
title: Wait then say
steps:
  - id: check
    title: Check
    kind: manual
    text: "Look at {{ input.what | default('it') }} ({{ incident.title | default('no incident') }})"
  - id: pause
    title: Pause
    kind: action
    action: wait
    duration: 5m
  - id: say
    title: Say
    kind: action
    action: post_message
    message: "paused, {{ last_actor }} checked"
  - id: end
    title: End
    kind: end
"""


def _service(store: Store, settings: Settings, directory: Path, notifier: RecordingNotifier
             ) -> Playbooks:  # fmt: skip
    pb = settings.playbooks.model_copy(update={"directory": directory, "stale_seconds": 30})
    return Playbooks(store, settings.model_copy(update={"playbooks": pb}), notifier)


def _dir(tmp_path: Path, text: str = WAITER) -> Path:
    directory = tmp_path / "pb"
    directory.mkdir(exist_ok=True)
    (directory / "waiter.yaml").write_text(text)
    return directory


def test_run_posts_steps_and_updates_them(store: Store, settings: Settings, tmp_path: Path
                                          ) -> None:  # fmt: skip
    notifier = RecordingNotifier()
    service = _service(store, settings, _dir(tmp_path), notifier)
    run = service.start("waiter", user="U1", now=NOW, channel="C1", inputs={"what": "the graph"})
    assert run.state == "running" and run.current_step == "check" and run.thread_ts == "ts-1"
    (_shown_run, step), = notifier.shown  # fmt: skip
    assert step.text == "Look at the graph (no incident)" and [b.choice for b in step.buttons] == [
        "done",
        "skip",
    ]
    assert service.press(run.id, step.seq, "done", user="U2", now=NOW).changed
    detail = service.detail(run.id)
    assert [(s.step_id, s.state, s.actor) for s in detail.steps] == [
        ("check", "done", "U2"),
        ("pause", "open", None),
    ]
    assert detail.run.state == "waiting"
    updated = [s for _, s in notifier.shown if s.step_id == "check"][-1]
    assert updated.message_ts == step.message_ts or updated.message_ts == "ts-2"
    assert updated.buttons == ()


def test_double_click_and_stale_clicks_change_nothing(store: Store, settings: Settings,
                                                      tmp_path: Path) -> None:  # fmt: skip
    service = _service(store, settings, _dir(tmp_path), RecordingNotifier())
    run = service.start("waiter", user="U1", now=NOW, channel="C1")
    first = service.press(run.id, 1, "done", user="U2", now=NOW)
    again = service.press(run.id, 1, "done", user="U3", now=NOW)
    assert first.changed and not again.changed
    assert "already done by <@U2>" in again.message
    wrong = service.press(run.id, 2, "done", user="U3", now=NOW)
    assert not wrong.changed and "does not belong" in wrong.message
    gone = service.press(run.id, 9, "done", user="U3", now=NOW)
    assert not gone.changed and "no longer exists" in gone.message
    with store.sessions() as session:
        done = entries(session=session, kinds=["playbook.step_done"])
    assert [(e.data["step"], e.actor) for e in done] == [("check", "U2")]


def test_concurrent_clicks_one_wins(store: Store, settings: Settings, tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    run = _service(store, settings, directory, RecordingNotifier()).start(
        "waiter", user="U1", now=NOW, channel="C1"
    )
    n = 6
    barrier = threading.Barrier(n)
    results: list[tuple[str, bool, str]] = []
    lock = threading.Lock()

    def click(user: str) -> None:
        service = _service(store, settings, directory, RecordingNotifier())
        barrier.wait()
        pressed = service.press(run.id, 1, "done", user=user, now=NOW)
        with lock:
            results.append((user, pressed.changed, pressed.message))

    threads = [threading.Thread(target=click, args=(f"U{i}",)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r[1]]
    assert len(winners) == 1, results
    for _, _, message in (r for r in results if not r[1]):
        assert "already done" in message or "same moment" in message
    with store.sessions() as session:
        done = entries(session=session, kinds=["playbook.step_done"])
    assert [e.actor for e in done] == [winners[0][0]]


def test_resume_after_restart(settings: Settings, tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    store = open_store(settings)
    service = _service(store, settings, directory, RecordingNotifier())
    run = service.start("waiter", user="U1", now=NOW, channel="C1")
    service.press(run.id, 1, "done", user="U2", now=NOW)
    store.close()  # the process stops while the run waits

    store = open_store(settings)
    notifier = RecordingNotifier()
    service = _service(store, settings, directory, notifier)
    assert service.tick(NOW + timedelta(minutes=1)) == 0
    assert service.detail(run.id).run.state == "waiting"
    assert service.tick(NOW + timedelta(minutes=5, seconds=1)) == 1
    detail = service.detail(run.id)
    assert detail.run.state == "finished"
    assert [s.step_id for s in detail.steps] == ["check", "pause", "say", "end"]
    assert detail.steps[2].summary == "paused, U2 checked"
    assert [s.step_id for _, s in notifier.shown] == ["pause", "say", "end"]
    assert notifier.shown[0][1].message_ts == "ts-3"  # the old message is updated, not reposted
    store.close()


def test_a_run_left_on_a_tierbot_step_is_resumed(store: Store, settings: Settings,
                                                 tmp_path: Path) -> None:  # fmt: skip
    text = WAITER.replace("kind: manual\n    text:", "kind: action\n    action: probe\n    text:")
    directory = _dir(tmp_path, text)
    catalog = load_directory(directory)
    machine = state.Machine(ActionDeps(settings=settings), catalog)
    moves = state.Moves()
    with transaction(store.sessions) as session:  # the process dies before running the probe
        run = runner.create_run(session, machine, moves, catalog.get("waiter"), started_by="U1",
                                now=NOW, channel=None, thread_ts=None, incident_id=None,
                                context={})  # fmt: skip
        run_id = run.id
    assert moves.probes  # the probe was due after the commit
    service = _service(store, settings, directory, RecordingNotifier())
    assert service.tick(NOW + timedelta(seconds=5)) == 0  # not stale yet: maybe still running
    assert service.tick(NOW + timedelta(seconds=31)) == 1
    step = service.detail(run_id).steps[0]
    assert step.step_id == "check" and step.error == "probes cannot run here (no probe runner " \
        "in this process)"  # fmt: skip
    assert [b.choice for b in step.buttons] == ["retry", "skip"]


def test_a_run_keeps_the_version_it_started_with(store: Store, settings: Settings,
                                                 tmp_path: Path) -> None:  # fmt: skip
    directory = _dir(tmp_path)
    service = _service(store, settings, directory, RecordingNotifier())
    run = service.start("waiter", user="U1", now=NOW)
    (directory / "waiter.yaml").write_text(
        WAITER.replace("    duration: 5m\n", "    duration: 1h\n").replace("Wait then", "Changed")
    )
    service.press(run.id, 1, "done", user="U2", now=NOW)
    assert service.tick(NOW + timedelta(minutes=6)) == 1  # still the 5 minute wait
    detail = service.detail(run.id)
    assert detail.run.state == "finished" and detail.run.version == run.version
    assert service.start("waiter", user="U1", now=NOW).version != run.version


def test_incident_link_and_timeline(store: Store, settings: Settings, tmp_path: Path) -> None:
    with transaction(store.sessions) as session:
        incident = open_incident(session=session, title="edge errors", opened_by="U1", now=NOW,
                                 channel="C9")  # fmt: skip
    service = _service(store, settings, _dir(tmp_path), RecordingNotifier())
    run = service.start("waiter", user="U1", now=NOW, channel="C9")
    assert run.incident_id == incident.id
    assert "(edge errors)" in service.detail(run.id).steps[0].text
    service.press(run.id, 1, "continue", user="U2", now=NOW)  # not this step's button
    service.press(run.id, 1, "done", user="U2", now=NOW)
    service.press(run.id, 2, "continue", user="U3", now=NOW)
    with store.sessions() as session:
        timeline = entries(session=session, incident_id=incident.id, include_unfiled=False,
                           kind_prefix="playbook.")  # fmt: skip
        row = session.scalars(select(PlaybookRun)).one()
    assert [e.kind for e in timeline] == [
        "playbook.started",
        "playbook.step_done",
        "playbook.step_done",
        "playbook.step_done",
        "playbook.step_done",
        "playbook.finished",
    ]
    assert [e.actor for e in timeline[1:5]] == ["U2", "U3", "tierbot", "tierbot"]
    assert row.state == "finished" and row.definition["name"] == "waiter"


class _Refusing(RecordingNotifier):
    def step_changed(self, run: RunView, step: StepView) -> str | None:
        raise TierbotError("I am not in this channel")


def test_a_refused_post_is_told_and_the_run_still_moves(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    service = _service(store, settings, _dir(tmp_path), _Refusing())
    with pytest.raises(TierbotError, match="not in this channel"):
        service.start("waiter", user="U1", now=NOW, channel="C1")
    (run,) = service.open_runs()
    assert run.current_step == "check"
    with pytest.raises(TierbotError):
        service.press(run.id, 1, "done", user="U1", now=NOW)
    assert service.detail(run.id).run.current_step == "pause"
