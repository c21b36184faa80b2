"""TLS is verified: a self-signed endpoint fails until its CA is given as `probes.ca_bundle`."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.probes.cloud_tier import probe_endpoints
from bot.sandbox.cloud import CloudStandIn
from bot.timeutil import utcnow
from tests.probes.conftest import MODEL, endpoint


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    app = CloudStandIn(model=MODEL).app()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning",
        ssl_certfile=str(cert), ssl_keyfile=str(key),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "TLS server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_untrusted_certificate_fails_and_a_given_ca_passes(
    tls_url: str, certificate: tuple[Path, Path]
) -> None:
    target = endpoint(tls_url, protocol="oip", api_key=None)
    [untrusted] = asyncio.run(probe_endpoints([target], now=utcnow()))
    assert not untrusted.ok
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.checks["live"].detail
    [trusted] = asyncio.run(probe_endpoints([target], now=utcnow(), ca_bundle=certificate[0]))
    assert trusted.ok, trusted.summary()
