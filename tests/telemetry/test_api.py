"""The push API over a real socket: tokens, NDJSON, JSON arrays, gzip, partial rejections."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import orjson
import pytest

from bot.app import create_app
from bot.sandbox.server import serve_in_thread
from bot.settings import Settings
from bot.store import Store
from tests.factories import assignment, event, ndjson

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def base_url(settings: Settings, store: Store) -> Iterator[str]:
    with serve_in_thread(create_app(settings, store, run_scheduler=False)) as url:
        yield url


def test_events_are_stored_and_summarised(base_url: str) -> None:
    body = ndjson(event(n) for n in range(10))
    response = httpx.post(f"{base_url}/api/v1/router-events", content=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json() | {"errors": []} == {
        "kind": "router_events",
        "source": "http:127.0.0.1",
        "stored": 10,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
        "errors_omitted": 0,
    }
    again = httpx.post(f"{base_url}/api/v1/router-events", content=body, headers=AUTH)
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 10)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dGVzdC10b2tlbg=="}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_a_missing_or_wrong_token_gets_401_and_stores_nothing(
    base_url: str, store: Store, headers: dict[str, str]
) -> None:
    response = httpx.post(
        f"{base_url}/api/v1/router-events", content=ndjson([event(1)]), headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    ok = httpx.post(f"{base_url}/api/v1/router-events", content=ndjson([event(1)]), headers=AUTH)
    assert ok.json()["stored"] == 1


def test_gzip_and_json_arrays_are_accepted(base_url: str) -> None:
    body = gzip.compress(orjson.dumps([assignment(), assignment("b")]))
    response = httpx.post(
        f"{base_url}/api/v1/cohort-assignments",
        content=body,
        headers={**AUTH, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200 and response.json()["stored"] == 2


def test_bad_lines_get_422_with_line_and_field_while_good_ones_are_stored(base_url: str) -> None:
    body = ndjson([event(1), event(2, ts="2026-11-27T14:00:00"), event(3)])
    response = httpx.post(f"{base_url}/api/v1/router-events", content=body, headers=AUTH)
    assert response.status_code == 422
    summary = response.json()
    assert (summary["stored"], summary["rejected"]) == (2, 1)
    assert summary["errors"][0]["line"] == 2 and summary["errors"][0]["field"] == "ts"


def test_an_unreadable_body_is_a_400(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/api/v1/router-events", content=b"\x1f\x8bnot gzip", headers=AUTH
    )
    assert response.status_code == 400 and "gzip" in response.json()["error"]


def test_an_oversized_body_is_a_413(database_url: str) -> None:
    settings = Settings(database_url=database_url, ingest_token="t", ingest_max_body_bytes=1024)
    from bot.store import open_store

    store = open_store(settings)
    try:
        with serve_in_thread(create_app(settings, store, run_scheduler=False)) as url:
            response = httpx.post(
                f"{url}/api/v1/router-events",
                content=b"x" * 5000,
                headers={"Authorization": "Bearer t"},
            )
        assert response.status_code == 413
    finally:
        store.close()


def test_ingest_is_refused_when_no_token_is_configured(database_url: str) -> None:
    from bot.store import open_store

    settings = Settings(database_url=database_url)
    store = open_store(settings)
    try:
        with serve_in_thread(create_app(settings, store, run_scheduler=False)) as url:
            response = httpx.post(f"{url}/api/v1/router-events", content=b"{}", headers=AUTH)
        assert response.status_code == 503 and "TIERBOT_INGEST_TOKEN" in response.json()["error"]
    finally:
        store.close()


def test_health_and_readiness(base_url: str) -> None:
    assert httpx.get(f"{base_url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{base_url}/readyz").status_code == 200


def test_not_ready_until_the_schema_is_migrated(database_url: str) -> None:
    """A replica never migrates on start: /readyz says what to run until someone has."""
    from bot.app import create_app
    from bot.migrate import upgrade
    from bot.sandbox.server import serve_in_thread
    from bot.settings import Settings
    from bot.store import open_store

    settings = Settings(database_url=database_url)
    store = open_store(settings, migrate=False)
    try:
        with serve_in_thread(create_app(settings, store, run_scheduler=False)) as url:
            before = httpx.get(f"{url}/readyz")
            upgrade(store.engine)
            after = httpx.get(f"{url}/readyz")
    finally:
        store.close()
    assert before.status_code == 503 and "tierbot db upgrade" in before.json()["error"]
    assert after.status_code == 200
