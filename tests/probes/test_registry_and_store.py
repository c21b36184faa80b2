"""The model registry (paths and URLs, hashes checked) and the probe-result queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.db import transaction
from bot.probes.onnx_tier import SessionCache, probe_build
from bot.probes.registry import RegistryError, probed_builds, register_build
from bot.probes.results import Check, ProbeResult
from bot.probes.settings import EdgeProbeSettings
from bot.probes.store import failing_results, latest_results, prune_results, save_result
from bot.rollouts.models import ModelBuild
from bot.sandbox.models import GOLDEN_SET, MODELS_DIR
from bot.sandbox.server import serve_in_thread
from bot.store import Store
from bot.timeutil import utcnow

MODEL_BYTES = (MODELS_DIR / "router-int8.onnx").read_bytes()


@pytest.fixture
def model_server() -> Iterator[str]:
    async def model(_: Request) -> Response:
        return Response(MODEL_BYTES, media_type="application/octet-stream")

    async def missing(_: Request) -> Response:
        return Response(status_code=404)

    app = Starlette(routes=[Route("/router-int8.onnx", model), Route("/missing.onnx", missing)])
    with serve_in_thread(app) as url:
        yield url


def _register(store: Store, location: str, tmp_path: Path, **kw: object) -> object:
    values: dict[str, object] = {
        "model_id": "router-int8",
        "tier": "edge",
        "quantization": "int8",
        "reference_model_id": "router-fp32",
        "golden_set": str(GOLDEN_SET),
        "expected_sha256": None,
        "now": utcnow(),
        "cache_dir": tmp_path / "cache",
    }
    with transaction(store.sessions) as session:
        return register_build(session=session, location=location, **(values | kw))  # type: ignore[arg-type]


def test_a_build_registered_by_url_is_downloaded_hashed_and_probed(
    store: Store, model_server: str, tmp_path: Path
) -> None:
    import hashlib

    url = f"{model_server}/router-int8.onnx"
    _register(store, url, tmp_path, expected_sha256=hashlib.sha256(MODEL_BYTES).hexdigest())
    with store.sessions() as session:
        [build] = probed_builds(session=session)
    assert build.file_path == url
    for cached in (tmp_path / "cache").iterdir():
        cached.unlink()  # another replica's empty cache: the probe downloads again
    result = probe_build(
        build,
        settings=EdgeProbeSettings(),
        sessions=SessionCache(),
        cache_dir=tmp_path / "cache",
        now=utcnow(),
    )
    assert result.ok, result.summary()


def test_a_url_that_does_not_serve_the_model_is_refused(
    store: Store, model_server: str, tmp_path: Path
) -> None:
    with pytest.raises(RegistryError, match="HTTP 404"):
        _register(store, f"{model_server}/missing.onnx", tmp_path)


def test_a_file_onnxruntime_cannot_load_is_refused(store: Store, tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00junk")
    with pytest.raises(RegistryError, match="not a model onnxruntime can load"):
        _register(store, str(junk), tmp_path)
    with pytest.raises(RegistryError, match="does not exist"):
        _register(store, str(tmp_path / "absent.onnx"), tmp_path)


def test_a_build_known_from_an_assignment_gains_its_file(store: Store, tmp_path: Path) -> None:
    with transaction(store.sessions) as session:
        session.add(ModelBuild(model_id="router-int8", tier="edge", first_seen_at=utcnow()))
    with store.sessions() as session:
        assert probed_builds(session=session) == []
    _register(store, str(MODELS_DIR / "router-int8.onnx"), tmp_path)
    with store.sessions() as session:
        [build] = probed_builds(session=session)
        assert build.quantization == "int8" and len(build.sha256) == 64
        assert session.scalars(select(ModelBuild)).one().model_id == "router-int8"
    with pytest.raises(RegistryError, match="already registered on the edge tier"):
        _register(store, str(MODELS_DIR / "router-int8.onnx"), tmp_path, tier="cloud")


def _result(target: str, ok: bool, minutes_ago: float) -> ProbeResult:
    return ProbeResult(
        target=target,
        tier=target.split("/")[0],
        started_at=utcnow() - timedelta(minutes=minutes_ago),
        duration_ms=3.0,
        checks={"live": Check(ok=ok, value=200.0 if ok else 503.0, detail="HTTP")},
    )


def test_latest_failing_and_pruned_results(store: Store) -> None:
    with transaction(store.sessions) as session:
        for result in (
            _result("cloud/eu/a", False, 60 * 24 * 30),
            _result("cloud/eu/a", False, 10),
            _result("cloud/eu/a", True, 5),
            _result("edge/router-int8", False, 4),
        ):
            save_result(session=session, result=result, runner="test")
    with store.sessions() as session:
        latest = latest_results(session=session)
        assert [(r.target, r.ok) for r in latest] == [
            ("cloud/eu/a", True),
            ("edge/router-int8", False),
        ]
        assert latest[0].checks["live"].value == 200.0
        assert [r.target for r in latest_results(session=session, tier="edge")] == [
            "edge/router-int8"
        ]
        failing = failing_results(session=session, since=utcnow() - timedelta(hours=1))
        assert [r.target for r in failing] == ["cloud/eu/a", "edge/router-int8"]
    with transaction(store.sessions) as session:
        assert prune_results(session=session, older_than=utcnow() - timedelta(days=14)) == 1
