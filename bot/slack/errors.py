"""The one place Slack turns errors into words.

Our own errors (`TierbotError`, a bad `/tier` argument) become a clear ephemeral message; a
Slack API refusal the user can fix (the bot is not in the channel) says how; anything else gets
a short error id that is also in the log with its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App, BoltResponse
from slack_sdk.errors import SlackApiError

from bot.errors import TierbotError, error_id_for

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., None])

_SLACK_ERRORS = {
    "not_in_channel": "I am not in this channel yet: invite me with `/invite @tierbot`, "
    "then try again.",
    "channel_not_found": "I cannot see this channel: invite me with `/invite @tierbot`, "
    "or ask in a public channel.",
    "is_archived": "This channel is archived; ask in another one.",
}


class UsageError(TierbotError):
    """A `/tier` command that could not be understood; the message says what was wrong."""

    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(f"{problem}\n{usage}")
        self.problem = problem
        self.usage = usage


def explain(exc: BaseException) -> str:
    """What to tell the person whose request failed (logging unexpected failures)."""
    if isinstance(exc, TierbotError):
        return str(exc)
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", ""))
        if error in _SLACK_ERRORS:
            return _SLACK_ERRORS[error]
    error_id = error_id_for(exc)
    return f"Something went wrong on my side (error id `{error_id}`); the details are in my log."


def tell(respond: Callable[..., Any], exc: BaseException) -> None:
    """Send the explanation ephemerally; a failure to do so is only logged."""
    try:
        respond(text=explain(exc), response_type="ephemeral", replace_original=False)
    except Exception:  # the response_url expired or Slack is down: nothing more we can say
        log.warning("could not tell the user about a failed request", exc_info=True)


def guarded(func: F) -> F:
    """Wrap a lazy listener so its failures reach the user (bolt only logs them).

    Bolt injects arguments by the wrapped function's names, so the listener must ask for
    `respond`.
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> None:
        try:
            func(**kwargs)
        except Exception as exc:
            tell(kwargs["respond"], exc)

    return wrapper  # type: ignore[return-value]


def register(app: App) -> None:
    """Errors raised while acking (before any lazy work) are explained the same way."""

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any) -> BoltResponse | None:
        if respond is not None and body.get("response_url"):
            tell(respond, error)
        else:
            explain(error)  # no one to tell (an event): logs the error id
        return None
