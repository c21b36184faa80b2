"""The edge probe on the shipped models with real onnxruntime: good passes, bad, tampered fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.db import transaction
from bot.probes.golden import golden_set_of, load_golden_set
from bot.probes.onnx_tier import SessionCache, output_checks, probe_build
from bot.probes.registry import RegisteredBuild, RegistryError, register_build
from bot.probes.results import ProbeResult
from bot.probes.settings import EdgeProbeSettings
from bot.sandbox.models import BAD_INT8_BUILD, GOLDEN_SET, GOOD_INT8_BUILD, MODELS_DIR
from bot.store import Store
from bot.timeutil import utcnow

SETTINGS = EdgeProbeSettings()


def _probe(
    build: RegisteredBuild, tmp_path: Path, sessions: SessionCache | None = None
) -> ProbeResult:
    return probe_build(
        build,
        settings=SETTINGS,
        sessions=sessions or SessionCache.for_settings(SETTINGS),
        cache_dir=tmp_path,
        now=utcnow(),
    )


def _by_id(builds: list[RegisteredBuild], model_id: str) -> RegisteredBuild:
    return next(b for b in builds if b.model_id == model_id)


def test_good_int8_build_passes_every_check(
    demo_builds: list[RegisteredBuild], tmp_path: Path
) -> None:
    result = _probe(_by_id(demo_builds, GOOD_INT8_BUILD), tmp_path)
    assert result.ok, result.summary()
    assert set(result.checks) == {
        "sha256",
        "top1_agreement",
        "sqnr_db",
        "max_abs_diff",
        "p95_latency_ms",
    }
    assert result.checks["top1_agreement"].value == 1.0
    sqnr = result.checks["sqnr_db"].value
    assert sqnr is not None and 25 < sqnr < 100  # quantized: close to the reference, not identical
    assert result.checks["p95_latency_ms"].value is not None


def test_bad_int8_build_fails_agreement_with_the_numbers(
    demo_builds: list[RegisteredBuild], tmp_path: Path
) -> None:
    result = _probe(_by_id(demo_builds, BAD_INT8_BUILD), tmp_path)
    assert not result.ok
    assert result.checks["sha256"].ok  # the file is what was registered; the build itself is bad
    agreement = result.checks["top1_agreement"]
    assert not agreement.ok and agreement.value is not None and agreement.value < 0.9
    assert agreement.limit == SETTINGS.min_top1_agreement
    assert f"top1_agreement {agreement.value:.4g} (limit 0.98)" in result.summary()
    assert not result.checks["sqnr_db"].ok


def test_reference_build_matches_its_own_golden_outputs(
    demo_builds: list[RegisteredBuild], tmp_path: Path
) -> None:
    result = _probe(_by_id(demo_builds, "router-fp32"), tmp_path)
    assert result.ok
    assert result.checks["max_abs_diff"].value == 0.0


def test_tampered_file_fails_its_hash(store: Store, tmp_path: Path) -> None:
    model = tmp_path / "router-int8.onnx"
    shutil.copy(MODELS_DIR / "router-int8.onnx", model)
    with transaction(store.sessions) as session:
        build = register_build(
            session=session,
            model_id="router-int8-copy",
            tier="edge",
            location=str(model),
            quantization="int8",
            reference_model_id="router-fp32",
            golden_set=str(GOLDEN_SET),
            expected_sha256=None,
            now=utcnow(),
            cache_dir=tmp_path,
        )
    assert _probe(build, tmp_path).ok
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x5A  # one byte inside the weights: still loads, no longer the build
    model.write_bytes(bytes(data))
    result = _probe(build, tmp_path)
    assert not result.ok
    assert not result.checks["sha256"].ok
    assert "registry says" in result.checks["sha256"].detail


def test_a_file_onnxruntime_cannot_load_is_an_error_result_keeping_the_hash_check(
    demo_builds: list[RegisteredBuild], tmp_path: Path
) -> None:
    model = tmp_path / "broken.onnx"
    shutil.copy(MODELS_DIR / "router-int8.onnx", model)
    build = _by_id(demo_builds, GOOD_INT8_BUILD)
    build = RegisteredBuild(**{**build.__dict__, "file_path": str(model)})
    model.write_bytes(b"not a model at all")
    result = _probe(build, tmp_path)
    assert result.error is not None and "onnxruntime failed" in result.error
    assert not result.checks["sha256"].ok


def test_sessions_are_cached_per_file_hash(
    demo_builds: list[RegisteredBuild], tmp_path: Path
) -> None:
    sessions = SessionCache(warmup_runs=1)
    golden = load_golden_set(GOLDEN_SET)
    path = MODELS_DIR / "router-int8.onnx"
    build = _by_id(demo_builds, GOOD_INT8_BUILD)
    first = sessions.get(path, build.sha256, golden.inputs[0])
    assert sessions.get(path, build.sha256, golden.inputs[0]) is first
    assert sessions.get(path, "another-hash", golden.inputs[0]) is not first


def test_output_checks_judge_shape_agreement_and_noise() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    golden = golden_set_of(np.zeros((2, 3), np.float32), reference)
    assert output_checks(reference, golden, SETTINGS)["sqnr_db"].value == 200.0
    swapped = output_checks(reference[::-1].copy(), golden, SETTINGS)
    assert swapped["top1_agreement"].value == 0.0 and not swapped["top1_agreement"].ok
    assert swapped["sqnr_db"].value == pytest.approx(-3.0103, abs=1e-3)  # noise twice the signal
    wrong_shape = output_checks(reference[:, :1], golden, SETTINGS)
    assert not wrong_shape["top1_agreement"].ok and "shape" in wrong_shape["top1_agreement"].detail
    strict = EdgeProbeSettings(max_abs_diff=0.01)
    assert not output_checks(reference + 0.1, golden, strict)["max_abs_diff"].ok


def test_golden_set_must_have_one_output_per_input(tmp_path: Path) -> None:
    bad = tmp_path / "golden.npz"
    np.savez(
        bad, inputs=np.zeros((3, 4), np.float32), reference_outputs=np.zeros((2, 8), np.float32)
    )
    with pytest.raises(Exception, match="one output row per input"):
        load_golden_set(bad)


def test_registering_with_the_wrong_expected_hash_is_refused(store: Store, tmp_path: Path) -> None:
    with (
        transaction(store.sessions) as session,
        pytest.raises(RegistryError, match="expected 0000"),
    ):
        register_build(
            session=session,
            model_id="router-int8",
            tier="edge",
            location=str(MODELS_DIR / "router-int8.onnx"),
            quantization="int8",
            reference_model_id=None,
            golden_set=None,
            expected_sha256="0" * 64,
            now=utcnow(),
            cache_dir=tmp_path,
        )
