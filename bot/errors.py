"""Errors tierbot explains to people, and the one place unexpected ones become an error id."""

from __future__ import annotations

import logging
import secrets

log = logging.getLogger("tierbot")


class TierbotError(Exception):
    """An error whose message is meant for the user as it stands."""


def error_id_for(exc: BaseException) -> str:
    """Log an unexpected exception with a short id the user can quote."""
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=exc)
    return error_id
