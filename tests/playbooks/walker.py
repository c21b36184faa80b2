"""Press through a run the way a responder would, forcing chosen answers once each."""

from __future__ import annotations

from datetime import datetime

from bot.playbooks.service import Playbooks, RunDetail


def drive(
    playbooks: Playbooks,
    run_id: int,
    now: datetime,
    forced: dict[str, str] | None = None,
    *,
    user: str = "U0ONCALL",
    max_presses: int = 80,
) -> RunDetail:
    """Follow handovers; decisions take `forced[step]` the first time, else their first answer;
    manual steps are done, failed actions skipped, waits continued. Returns the last run."""
    forced = dict(forced or {})
    current = run_id
    for _ in range(max_presses):
        child = playbooks.handed_to(current)
        while child is not None:
            current, child = child, playbooks.handed_to(child)
        detail = playbooks.detail(current)
        if not detail.run.is_open:
            return detail
        step = next(s for s in detail.steps if s.seq == detail.run.current_seq)
        choices = [b.choice for b in step.buttons]
        assert choices, f"step {step.step_id} of {detail.run.playbook} offers no button"
        if step.kind == "decision":
            wanted = forced.pop(step.step_id, None)
            choice = f"a:{wanted}" if wanted else choices[0]
        elif "continue" in choices:
            choice = "continue"
        elif "done" in choices:
            choice = "done"
        else:
            choice = "skip"
        pressed = playbooks.press(current, step.seq, choice, user=user, now=now)
        assert pressed.changed, pressed.message
    raise AssertionError("the run did not end")
