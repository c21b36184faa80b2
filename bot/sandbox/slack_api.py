"""A Slack Web API stand-in on a loopback port, for the bot's WebClient in tests and demos.

`SlackSandbox` is the workspace state (`SlackState`: users, channels, messages, views, files,
the call log) plus the HTTP side that changes it:

- `/api/{method}`: the Web API, taking form, query or JSON arguments and a bearer token;
- `/upload/{file_id}`: where files.getUploadURLExternal sends the file bytes;
- `/hooks/{token}`: response_urls the driver hands out with commands and actions;
- `/link/`: the Socket Mode WebSocket that apps.connections.open points to.

Faults are injected per method: the next call(s) get a 429 with Retry-After, or `ok: false`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_blocks import check_blocks
from bot.sandbox.slack_methods import METHODS, ApiRequest, MethodError
from bot.sandbox.slack_models import (
    APP_TOKEN,
    BOT_TOKEN,
    RecordedCall,
    ResponseHook,
    SandboxMessage,
    SandboxResponse,
    UploadedFile,
)
from bot.sandbox.slack_state import SlackState
from bot.sandbox.socket_mode import SocketModeServer

JSON_ARGUMENTS = ("blocks", "attachments", "view", "files", "metadata")
UPLOAD = "upload_url"  # how the call log names the file-bytes POST
RESPONSE_URL = "response_url"  # and posts to response_urls


@dataclass(frozen=True)
class _Fault:
    status: int
    error: str
    retry_after: int | None = None


class SlackSandbox(SlackState):
    """Slack for one test or demo: start it with `running()`, point a WebClient at `api_url`."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode = SocketModeServer()
        self._faults: dict[str, deque[_Fault]] = {}
        self._base_url: str | None = None
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/hooks/{token}", self._response_url, methods=["POST"]),
                WebSocketRoute("/link/", self.socket_mode.endpoint),
            ]
        )

    @contextmanager
    def running(self) -> Iterator[SlackSandbox]:
        """Serve on an ephemeral loopback port until the block ends."""
        with serve_in_thread(self.app) as base_url:
            self._base_url = base_url
            try:
                yield self
            finally:
                self.socket_mode.close_all()
                self._base_url = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the Slack sandbox is not running; use `with sandbox.running():`")
        return self._base_url

    @property
    def api_url(self) -> str:
        """The WebClient `base_url` (settings.slack_api_url) that points at this sandbox."""
        return f"{self.base_url}/api/"

    def web_client(self, token: str | None = None, **kwargs: Any) -> WebClient:
        """A real WebClient aimed at the sandbox, with the bot token unless told otherwise."""
        return WebClient(token=token or self.bot_token, base_url=self.api_url, **kwargs)

    # --- faults and hooks ------------------------------------------------------------------
    def inject_rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` get HTTP 429 `ratelimited` with Retry-After."""
        self._add_fault(method, _Fault(429, "ratelimited", retry_after), times)

    def inject_error(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next `times` calls to `method` get `{"ok": false, "error": error}`."""
        self._add_fault(method, _Fault(200, error), times)

    def _add_fault(self, method: str, fault: _Fault, times: int) -> None:
        with self.locked():
            self._faults.setdefault(method, deque()).extend([fault] * times)

    def _take_fault(self, method: str) -> _Fault | None:
        with self.locked():
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def issue_response_url(self, *, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url for a command or action; replace_original edits `message_ts`."""
        token = secrets.token_urlsafe(12)
        self.add_hook(token, ResponseHook(channel=channel, user=user, message_ts=message_ts))
        return f"{self.base_url}/hooks/{token}"

    # --- HTTP endpoints ----------------------------------------------------------------------
    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        try:
            if body and request.headers.get("content-type", "").startswith("application/json"):
                decoded = json.loads(body)
                if not isinstance(decoded, dict):
                    raise ValueError("a JSON body must be an object")
                args.update(decoded)
            elif body:
                args.update(parse_qsl(body.decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError):
            return self._answer(method, args, None, 200, {"ok": False, "error": "invalid_json"})
        token = args.pop("token", None)
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        args = {k: _decode_json_argument(k, v) for k, v in args.items()}

        fault = self._take_fault(method)
        if fault is not None:
            answer = {"ok": False, "error": fault.error}
            return self._answer(method, args, token, fault.status, answer, fault.retry_after)
        error = self._auth_error(method, token)
        if error is None and method not in METHODS and method != "apps.connections.open":
            error = "unknown_method"
        if error is not None or token is None:
            return self._answer(method, args, token, 200, {"ok": False, "error": error})
        try:
            if method == "apps.connections.open":
                result = {"url": self.socket_mode.issue_url(self.base_url)}
            else:
                with self.locked():  # a method's changes land at once
                    result = METHODS[method](self, ApiRequest(args, token, self.base_url))
            answer = {"ok": True, **result}
        except MethodError as failure:
            answer = {"ok": False, "error": failure.error, **failure.extra}
        return self._answer(method, args, token, 200, answer)

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        if (method == "apps.connections.open") != (token == self.app_token):
            return "not_allowed_token_type"
        return None

    def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        status: int,
        answer: dict[str, Any],
        retry_after: int | None = None,
    ) -> Response:
        """Record the call, then answer it (JSON, with Retry-After on a rate limit)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        recorded_headers = {k.lower(): v for k, v in headers.items()}
        self.record(
            RecordedCall(method, args, token, time.time(), status, answer, recorded_headers)
        )
        return JSONResponse(answer, status_code=status, headers=headers)

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        content = await request.body()
        with self.locked():
            pending = next((f for f in self.files() if f.id == file_id), None)
            if pending is not None and pending.content is None:
                self.put_file(UploadedFile(pending.id, pending.filename, pending.title, content))
        status, text = (200, f"OK - {len(content)}") if pending else (404, "file_not_found")
        args = {"file_id": file_id, "length": len(content)}
        self.record(RecordedCall(UPLOAD, args, None, time.time(), status, {"ok": status == 200}))
        return PlainTextResponse(text, status_code=status)

    async def _response_url(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        args = {"url": str(request.url), **(body if isinstance(body, dict) else {})}
        fault = self._take_fault(RESPONSE_URL)
        if fault is not None:  # Slack answers a dead response_url with 404
            status = 404 if fault.status == 200 else fault.status
            answer = {"ok": False, "error": fault.error}
            return self._answer(RESPONSE_URL, args, None, status, answer, fault.retry_after)
        status, answer = self._post_response(request.path_params["token"], body)
        if status == 200 and isinstance(body, dict):
            self.add_response(SandboxResponse(url=args["url"], body=body, at=time.time()))
        return self._answer(RESPONSE_URL, args, None, status, answer)

    def _post_response(self, token: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Apply a response_url post as Slack does: a new message, an edit, or a deletion."""
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        hook, error = self.claim_hook(token)
        if hook is None:
            return 404, {"ok": False, "error": error}
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if body.get("delete_original"):
            if hook.message_ts:
                self.edit_message(hook.channel, hook.message_ts, deleted=True)
            return 200, {"ok": True}
        if not text and not blocks:
            return 400, {"ok": False, "error": "no_text"}
        errors = check_blocks(blocks) if blocks is not None else []
        if errors:
            return 400, {"ok": False, "error": "invalid_blocks", "errors": errors}
        if body.get("replace_original") and hook.message_ts:
            if (
                self.edit_message(hook.channel, hook.message_ts, text=text, blocks=blocks or [])
                is None
            ):
                return 404, {"ok": False, "error": "message_not_found"}
            return 200, {"ok": True}
        ephemeral_to = None if body.get("response_type") == "in_channel" else hook.user
        self.put_message(
            SandboxMessage(
                channel=hook.channel,
                ts=self.new_ts(),
                text=text,
                blocks=blocks or [],
                thread_ts=body.get("thread_ts"),
                ephemeral_to=ephemeral_to,
            )
        )
        return 200, {"ok": True}


def _decode_json_argument(name: str, value: Any) -> Any:
    """Form bodies carry blocks, views and file lists as JSON strings; record them decoded."""
    if name in JSON_ARGUMENTS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
