"""The shipped demo models are what the build script makes, and small."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.probes.registry import file_sha256
from bot.sandbox.models import MANIFEST, MODELS_DIR


def test_shipped_files_are_small_and_match_the_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text())
    for entry in manifest["builds"]:
        path = MODELS_DIR / entry["file"]
        assert path.stat().st_size < 100_000
        assert file_sha256(path) == entry["sha256"]
    assert file_sha256(MODELS_DIR / manifest["golden_set"]) == manifest["golden_set_sha256"]


def test_the_build_script_reproduces_the_shipped_files(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the build script needs the onnx dev extra")
    from bot.sandbox.models.build import build

    rebuilt = build(tmp_path)
    shipped = json.loads(MANIFEST.read_text())
    assert rebuilt == shipped, (
        "the demo models no longer rebuild bit for bit (a new onnx/onnxruntime?): "
        "run `python -m bot.sandbox.models.build` and commit the files"
    )
