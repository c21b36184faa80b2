"""The whole bot through the sandbox: a store loaded with a bad int8 rollout, the Slack sandbox,
and tierbot's ASGI app (the one `tierbot serve` runs) on loopback ports.

Loading the scenario and starting servers is the expensive part, so the store, the sandbox and
the server are shared by the tests of a module, once per backend (SQLite, and PostgreSQL when
TIERBOT_TEST_DATABASE_URL is set). Tests therefore look only at what their own request caused:
`Expect` counts the calls before the request and waits for the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from slack_bolt import App

from bot.app import create_app
from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import SIGNING_SECRET, RecordedCall
from bot.settings import Settings
from bot.slack.app import build_slack_app, make_web_client
from bot.slack.deps import SlackDeps
from bot.slack.wiring import slack_deps
from bot.store import Store, open_store
from tests.conftest import BACKENDS, PG_URL, _reset_postgres
from tests.diagnosis.conftest import END, load_scenario

SCENARIO_SEED = 3
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A store holding the int8_oom_lowram scenario (window ending at END), per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'tierbot.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests need TIERBOT_TEST_DATABASE_URL (CI sets it; see README)")
        _reset_postgres(PG_URL)
        url = PG_URL
    store = open_store(Settings(database_url=url))
    load_scenario(store, "int8_oom_lowram", SCENARIO_SEED)
    yield store
    store.close()


@pytest.fixture(scope="module")
def no_proxy() -> Iterator[None]:
    """slack_sdk's Socket Mode client takes proxies from the environment, ignoring NO_PROXY."""
    with pytest.MonkeyPatch.context() as patch:
        for name in PROXY_VARIABLES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def slack(no_proxy: None) -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


def wired_settings(store: Store, slack: SlackSandbox) -> Settings:
    return Settings(
        database_url=str(store.engine.url.render_as_string(hide_password=False)),
        ingest_token=SecretStr("e2e-token"),
        slack_api_url=slack.api_url,
        slack_bot_token=SecretStr(slack.bot_token),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_app_token=SecretStr(slack.app_token),
    )


@dataclass
class Bot:
    settings: Settings
    deps: SlackDeps
    slack: SlackSandbox


def make_bot(store: Store, slack: SlackSandbox) -> tuple[Bot, App]:
    """The deps and the bolt app, as `create_server_app` wires them, with "now" pinned to END."""
    settings = wired_settings(store, slack)
    client = make_web_client(settings)
    deps = slack_deps(settings, store, client, clock=lambda: END)
    bolt = build_slack_app(settings, client, deps)
    return Bot(settings, deps, slack), bolt


@dataclass
class Expect:
    """Wait for the next call to `method` (matching `where`) after this point."""

    slack: SlackSandbox
    method: str
    where: Callable[[RecordedCall], bool]
    before: int

    @classmethod
    def next(
        cls,
        slack: SlackSandbox,
        method: str,
        where: Callable[[RecordedCall], bool] = lambda c: True,
    ) -> Expect:
        return cls(slack, method, where, len([c for c in slack.calls(method) if where(c)]))

    def wait(self, timeout: float = 20.0) -> RecordedCall:
        return self.slack.wait_for_call(
            self.method, where=self.where, count=self.before + 1, timeout=timeout
        )

    def arrived(self) -> int:
        return len([c for c in self.slack.calls(self.method) if self.where(c)]) - self.before


def ok(call: RecordedCall) -> bool:
    return call.ok


def serve_http(store: Store, slack: SlackSandbox) -> Iterator[tuple[Bot, str]]:
    """tierbot's ASGI app with Slack over HTTP; yields the bot and the server's base URL."""
    bot, bolt = make_bot(store, slack)
    asgi = create_app(
        bot.settings, store, run_scheduler=False, slack_app=bolt, metrics=bot.deps.metrics
    )
    with serve_in_thread(asgi) as base_url:
        yield bot, base_url
