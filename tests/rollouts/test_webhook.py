"""The webhook backend against a real loopback receiver: signed, retried with one key, once."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from pydantic import SecretStr

from bot.activity.service import entries
from bot.rollouts.backends import BackendError
from bot.rollouts.backends.webhook import WebhookBackend
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.notify import LogRollbackNotifier
from bot.settings import Settings
from bot.store import Store
from tests.rollouts.conftest import COHORT, DRI, GOOD, NOW, REQUESTER

SECRET = "webhook-secret"


@dataclass
class Receiver:
    """A rollout system: answers the queued statuses (then 200), applies each key once."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    applied: dict[str, dict[str, object]] = field(default_factory=dict)
    url: str = ""

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        expected = (
            "v1="
            + hmac.new(
                SECRET.encode(),
                f"v1:{headers['x-tierbot-timestamp']}:".encode() + body,
                hashlib.sha256,
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, headers["x-tierbot-signature"]):
            return 401
        if status == 200:
            self.applied.setdefault(headers["idempotency-key"], orjson.loads(body))
        return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/rollouts"
    yield state
    server.shutdown()
    server.server_close()


def _flow(store: Store, settings: Settings, receiver: Receiver) -> RollbackFlow:
    rollouts = settings.rollouts.model_copy(
        update={
            "backend": "webhook",
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_backoff_seconds": 0.01,
        }
    )
    wired = settings.model_copy(update={"rollouts": rollouts})
    return RollbackFlow(
        store, wired, LogRollbackNotifier(), clock=lambda: NOW + timedelta(minutes=1)
    )


def test_a_500_then_200_makes_one_change_with_one_idempotency_key(
    seeded: Store, rb_settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    flow = _flow(seeded, rb_settings, receiver)
    assert isinstance(flow.backend, WebhookBackend)
    request = flow.request(
        cohort=COHORT, target=None, percent=None, reason="crashes", requester=REQUESTER
    )

    view = flow.approve(request.id, DRI)

    assert view.state == "executed"
    keys = {headers["idempotency-key"] for headers, _ in receiver.requests}
    assert len(receiver.requests) == 2 and keys == {view.idempotency_key}
    [change] = receiver.applied.values()
    assert (change["cohort"], change["model_id"], change["rollout_percent"]) == (COHORT, GOOD, 100)
    assert change["approved_by"] == DRI and change["requested_by"] == REQUESTER
    with seeded.sessions() as session:
        [executed] = entries(session=session, kinds=["rollback.executed"])
    assert (
        executed.data["backend"] == "webhook" and "after 2 attempt(s)" in executed.data["reference"]
    )


def test_a_4xx_fails_the_rollback_at_once(
    seeded: Store, rb_settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [409]
    flow = _flow(seeded, rb_settings, receiver)
    request = flow.request(
        cohort=COHORT, target=None, percent=None, reason="crashes", requester=REQUESTER
    )

    view = flow.approve(request.id, DRI)

    assert view.state == "failed" and "HTTP 409" in (view.failure or "")
    assert len(receiver.requests) == 1 and not receiver.applied
    with seeded.sessions() as session:
        [failed] = entries(session=session, kinds=["rollback.failed"])
    assert "refused the change" in failed.data["failure"]


def test_connect_errors_are_retried_then_reported() -> None:
    backend = WebhookBackend("http://127.0.0.1:9/", b"k", attempts=3, backoff=0, timeout=1)
    from tests.rollouts.test_execution import _change_for_tests

    with pytest.raises(BackendError, match="failed 3 times") as failed:
        backend.apply(_change_for_tests())
    assert failed.value.transient
