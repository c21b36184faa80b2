"""The model registry: which builds the edge probe checks, each pinned to its file's sha256.

A build's file is a local path or an http(s) URL; a URL is downloaded (TLS verified) into the
model cache and the cached copy is what gets hashed and loaded.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import TierbotError
from bot.probes.golden import load_golden_set
from bot.rollouts.models import ModelBuild

_CHUNK = 1 << 20


class RegistryError(TierbotError):
    """A build that cannot be registered, or whose file cannot be found."""


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def cached_path(url: str, cache_dir: Path) -> Path:
    """Where a downloaded model file lives: one file per URL."""
    name = hashlib.sha256(url.encode()).hexdigest()[:24]
    return cache_dir / f"{name}.onnx"


def fetch(
    url: str, cache_dir: Path, *, timeout: float, verify: ssl.SSLContext | bool = True
) -> Path:
    """Download `url` into the cache (replacing any older copy atomically)."""
    target = cached_path(url, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        with (
            httpx.stream("GET", url, timeout=timeout, verify=verify) as response,
            partial.open("wb") as handle,
        ):
            if response.status_code != 200:
                raise RegistryError(f"downloading {url} gave HTTP {response.status_code}")
            for chunk in response.iter_bytes(_CHUNK):
                handle.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise RegistryError(f"downloading {url} failed: {type(exc).__name__}: {exc}") from None
    partial.replace(target)
    return target


def local_file(location: str, cache_dir: Path) -> Path:
    """The file on disk for a build's location (a URL is served from the cache)."""
    return cached_path(location, cache_dir) if is_url(location) else Path(location)


@dataclass(frozen=True)
class RegisteredBuild:
    model_id: str
    tier: str
    quantization: str | None
    file_path: str
    sha256: str
    reference_model_id: str | None
    golden_set: str | None


def register_build(
    *,
    session: Session,
    model_id: str,
    tier: str,
    location: str,
    quantization: str | None,
    reference_model_id: str | None,
    golden_set: str | None,
    expected_sha256: str | None,
    now: datetime,
    cache_dir: Path,
    timeout: float = 30.0,
    verify: ssl.SSLContext | bool = True,
) -> RegisteredBuild:
    """Record a build for probing: hash its file, refuse it when the hash is not the expected one.

    A build already known (e.g. from a cohort assignment) gains its file, hash and golden set.
    """
    if tier not in ("edge", "cloud"):
        raise RegistryError(f"tier must be edge or cloud, not {tier!r}")
    if is_url(location):
        path = fetch(location, cache_dir, timeout=timeout, verify=verify)
    else:
        path = Path(location).expanduser().resolve()
        location = str(path)
        if not path.is_file():
            raise RegistryError(f"model file {path} does not exist")
    actual = file_sha256(path)
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise RegistryError(
            f"{model_id}: file sha256 is {actual}, expected {expected_sha256.lower()}; "
            "not registered"
        )
    if tier == "edge":
        _check_loadable(path)
    if golden_set is not None:
        golden_set = load_golden_set(golden_set).path
    build = session.get(ModelBuild, model_id)
    if build is None:
        build = ModelBuild(model_id=model_id, tier=tier, first_seen_at=now)
        session.add(build)
    elif build.tier != tier:
        raise RegistryError(
            f"{model_id} is already registered on the {build.tier} tier, not {tier}"
        )
    build.quantization = quantization or build.quantization
    build.file_path = location
    build.sha256 = actual
    build.reference_model_id = reference_model_id
    build.golden_set = golden_set
    session.flush()
    return _view(build)


def _check_loadable(path: Path) -> None:
    """Refuse a file onnxruntime cannot load: better at registration than at 3 a.m."""
    import onnxruntime as ort  # here, not at the top: every CLI command would pay for it

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise RegistryError(f"{path} is not a model onnxruntime can load: {exc}") from None


def probed_builds(*, session: Session, tier: str = "edge") -> list[RegisteredBuild]:
    """Builds registered with a file, hash and golden set: the ones the probe checks."""
    rows = session.scalars(
        select(ModelBuild)
        .where(
            ModelBuild.tier == tier,
            ModelBuild.file_path.is_not(None),
            ModelBuild.sha256.is_not(None),
        )
        .order_by(ModelBuild.model_id)
    )
    return [_view(build) for build in rows]


def _view(build: ModelBuild) -> RegisteredBuild:
    assert build.file_path is not None and build.sha256 is not None
    return RegisteredBuild(
        model_id=build.model_id,
        tier=build.tier,
        quantization=build.quantization,
        file_path=build.file_path,
        sha256=build.sha256,
        reference_model_id=build.reference_model_id,
        golden_set=build.golden_set,
    )
