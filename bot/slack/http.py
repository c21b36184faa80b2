"""`POST /slack/events` for Starlette, and the Socket Mode handler: the two ways Slack reaches us.

Bolt's Starlette adapter calls `app.dispatch` on the event loop; here it runs on a worker
thread, so one slow ack or a busy store never stalls the health checks or another request.
"""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import TierbotError
from bot.settings import Settings

EVENTS_PATH = "/slack/events"


def slack_routes(app: App) -> list[Route]:
    """The one Slack endpoint: commands, interactivity and events all arrive here."""

    async def events(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    return [Route(EVENTS_PATH, events, methods=["POST"])]


def socket_mode_handler(app: App, settings: Settings) -> SocketModeHandler:
    """A Socket Mode connection with the app token; apps.connections.open goes to slack_api_url."""
    if settings.slack_app_token is None:
        raise TierbotError("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token")
    return SocketModeHandler(
        app, settings.slack_app_token.get_secret_value(), web_client=app.client
    )
