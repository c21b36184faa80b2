"""Demo router builds and their golden set, rebuilt by `python -m bot.sandbox.models.build`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.probes.registry import RegisteredBuild, register_build

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.json"
GOLDEN_SET = MODELS_DIR / "golden.npz"
REFERENCE_BUILD, GOOD_INT8_BUILD, BAD_INT8_BUILD = (
    "router-fp32",
    "router-int8",
    "router-int8-badscale",
)


def register_demo_builds(
    *,
    session: Session,
    now: datetime,
    cache_dir: Path,
    include_bad: bool = True,
    names: Mapping[str, str] | None = None,
) -> list[RegisteredBuild]:
    """Register the shipped builds, each checked against the sha256 in the manifest.

    `names` registers a file under another model id (the demo names them after the builds in
    its simulated traffic, so the probe and the router data talk about the same build).
    """
    rename = dict(names or {})
    manifest = json.loads(MANIFEST.read_text())
    registered = []
    for entry in manifest["builds"]:
        if entry["model_id"] == BAD_INT8_BUILD and not include_bad:
            continue
        registered.append(
            register_build(
                session=session,
                model_id=rename.get(entry["model_id"], entry["model_id"]),
                tier=entry["tier"],
                location=str(MODELS_DIR / entry["file"]),
                quantization=entry["quantization"],
                reference_model_id=rename.get(
                    entry["reference_model_id"], entry["reference_model_id"]
                ),
                golden_set=str(MODELS_DIR / manifest["golden_set"]),
                expected_sha256=entry["sha256"],
                now=now,
                cache_dir=cache_dir,
            )
        )
    return registered
