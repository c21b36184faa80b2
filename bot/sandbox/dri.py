"""The routing DRI's hand in the sandbox: find a rollback's approval message, press Approve.

Used by the demo and the tests: it drives the real bolt app through the sandbox driver and
waits on the store, so it lives with the sandbox, not in the Slack front end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.rollouts.flow import RollbackFlow
from bot.rollouts.requests import RollbackView
from bot.rollouts.verification import probes_recorded
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import SlackDriver
from bot.sandbox.slack_models import SandboxMessage
from bot.slack.views import rollbacks as views


def approval_message_in(
    slack: SlackSandbox, request_id: int, channel: str | None = None
) -> SandboxMessage:
    """The approval message of `request_id` as the sandbox holds it (in `channel`, or any)."""
    block_id = views.message_block_id(request_id)
    for message in slack.messages(channel) if channel else slack.messages():
        if any(block.get("block_id") == block_id for block in message.blocks):
            return message
    raise LookupError(f"no approval message for rollback #{request_id}")


def executed_and_probed(flow: RollbackFlow, request_id: int) -> RollbackView | None:
    """The request once it ended, and (when executed with probes) once they are recorded."""
    view = flow.get(request_id)
    if view.state not in ("executed", "failed", "rejected", "expired"):
        return None
    if view.state != "executed" or flow.probe_runner is None:
        return view
    with flow.store.sessions() as session:
        return view if probes_recorded(session=session, request=view) else None


def approve_in_slack(
    *,
    slack: SlackSandbox,
    driver: SlackDriver,
    flow: RollbackFlow,
    request_id: int,
    approver: str,
    channel: str | None = None,
    timeout: float = 60.0,
    verify_at: Callable[[], datetime] | None = None,
) -> RollbackView:
    """Click Approve as `approver` through the real bolt app, wait for the execution (and the
    probes), then verify: what the demo calls for "the DRI approves".

    The verification judges the traffic since the rollback as of `verify_at()` (default: the
    flow's clock), so a demo with pinned time passes a clock some minutes after the approval.
    """
    message = approval_message_in(slack, request_id, channel)
    driver.click(message, views.APPROVE_ACTION, user=approver)
    view = slack.wait_for(
        lambda: executed_and_probed(flow, request_id),
        timeout=timeout,
        what=f"rollback #{request_id} to execute",
    )
    if view.state == "executed":
        if verify_at is not None:
            flow.clock = verify_at
        view = flow.verify_now(request_id, probe=False)
    return view
