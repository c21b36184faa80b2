"""A cloud-tier stand-in on loopback: OpenAI-compatible and Open Inference Protocol v2 routes.

Several named endpoints can share one server: `/{name}/v1/...` has the faults of `name`
(the bare `/v1/...` is the endpoint named ""). Faults are set in-process through `faults(name)`
or over HTTP (`PUT /_faults/{name}` with a JSON body, `DELETE /_faults`) by a demo in another
process: an HTTP status, a delay, a wrong reply, a wrong model id. `refused_url()` gives a
loopback URL nothing listens on, for "connection refused".
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.server import serve_in_thread


@dataclass
class CloudFaults:
    status: int | None = None  # answer every probe route with this status (e.g. 503)
    delay_seconds: float = 0.0  # sleep before answering
    wrong_content: bool = False  # the canary reply leaves out the expected word
    wrong_model_id: bool = False  # list and serve another model than the configured one


class CloudStandIn:
    """The stand-in: the model it serves, its API key, faults per endpoint, a request log."""

    def __init__(
        self,
        *,
        model: str = "assistant-large-2026-11",
        api_key: str | None = None,
        reply: str = "pong",
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.reply = reply
        self._faults: dict[str, CloudFaults] = {}
        self.requests: list[tuple[str, str]] = []

    def faults(self, endpoint: str = "") -> CloudFaults:
        return self._faults.setdefault(endpoint, CloudFaults())

    def clear_faults(self) -> None:
        self._faults.clear()

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on an ephemeral loopback port; yields the base URL."""
        with serve_in_thread(self.app()) as url:
            yield url

    def app(self) -> Starlette:
        routes = []
        for prefix in ("", "/{endpoint:path}"):
            routes += [
                Route(prefix + "/v1/models", self._models, methods=["GET"]),
                Route(prefix + "/v1/chat/completions", self._chat, methods=["POST"]),
                Route(prefix + "/v2/health/live", self._health, methods=["GET"]),
                Route(prefix + "/v2/health/ready", self._health, methods=["GET"]),
                Route(prefix + "/v2/models/{model:str}/ready", self._model_ready, methods=["GET"]),
            ]
        routes += [
            Route("/_faults/{endpoint:str}", self._set_faults, methods=["PUT"]),
            Route("/_faults", self._clear_faults, methods=["DELETE"]),
        ]
        return Starlette(routes=routes)

    def _served_model(self, faults: CloudFaults) -> str:
        return f"{self.model}-wrong" if faults.wrong_model_id else self.model

    async def _gate(self, request: Request) -> tuple[CloudFaults, Response | None]:
        """Log the call, apply delay and status faults, check the key; a response ends the call."""
        endpoint = request.path_params.get("endpoint", "")
        self.requests.append((request.method, request.url.path))
        faults = self.faults(endpoint)
        if faults.delay_seconds:
            await asyncio.sleep(faults.delay_seconds)
        if faults.status is not None:
            return faults, JSONResponse({"error": "injected fault"}, faults.status)
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return faults, JSONResponse({"error": {"message": "invalid api key"}}, 401)
        return faults, None

    async def _models(self, request: Request) -> Response:
        faults, early = await self._gate(request)
        if early is not None:
            return early
        model = {"id": self._served_model(faults), "object": "model", "owned_by": "sandbox"}
        return JSONResponse({"object": "list", "data": [model]})

    async def _chat(self, request: Request) -> Response:
        faults, early = await self._gate(request)
        if early is not None:
            return early
        body: dict[str, Any] = await request.json()
        if body.get("model") != self._served_model(faults):
            message = f"model {body.get('model')!r} not found"
            return JSONResponse({"error": {"message": message}}, 404)
        content = "I cannot help with that." if faults.wrong_content else self.reply
        return JSONResponse(
            {
                "id": "chatcmpl-sandbox",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    async def _health(self, request: Request) -> Response:
        _, early = await self._gate(request)
        return early or JSONResponse({})

    async def _model_ready(self, request: Request) -> Response:
        faults, early = await self._gate(request)
        if early is not None:
            return early
        if request.path_params["model"] != self._served_model(faults):
            return JSONResponse({"error": "model not found"}, 404)
        return JSONResponse({})

    async def _set_faults(self, request: Request) -> Response:
        given: dict[str, Any] = await request.json()
        known = {f.name for f in fields(CloudFaults)}
        if not isinstance(given, dict) or not set(given) <= known:
            return JSONResponse({"error": f"fields must be among {sorted(known)}"}, 400)
        faults = CloudFaults(**given)
        self._faults[request.path_params["endpoint"]] = faults
        return JSONResponse(asdict(faults))

    async def _clear_faults(self, _: Request) -> Response:
        self.clear_faults()
        return JSONResponse({})


def refused_url() -> str:
    """A loopback URL with nothing listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
