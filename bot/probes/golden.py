"""Golden sets: fixed model inputs with the reference build's outputs, the yardstick of a build.

Stored as `.npz` (arrays `inputs` and `reference_outputs`; `texts` and `labels` for people),
loaded without pickle. Loads are cached per file version so a probe does not pay for parsing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.errors import TierbotError


class GoldenSetError(TierbotError):
    """A golden set that cannot be used."""


@dataclass(frozen=True)
class GoldenSet:
    """Inputs as one batch-of-1 row per run; the reference's top-1 and energy precomputed."""

    path: str
    inputs: np.ndarray
    reference_outputs: np.ndarray
    reference_top1: np.ndarray
    reference_energy: float

    def __len__(self) -> int:
        return len(self.inputs)


def load_golden_set(path: str | Path) -> GoldenSet:
    """Load (or reuse) the golden set at `path`; a changed file is read again."""
    try:
        stat = os.stat(path)  # no resolve(): registered paths are absolute, and this runs per probe
    except OSError as exc:
        raise GoldenSetError(f"golden set {path} cannot be read: {exc.strerror}") from None
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load(path: str, _mtime_ns: int, _size: int) -> GoldenSet:
    try:
        with np.load(path, allow_pickle=False) as data:
            inputs = np.ascontiguousarray(data["inputs"], dtype=np.float32)
            outputs = np.asarray(data["reference_outputs"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise GoldenSetError(f"golden set {path} is not a usable .npz: {exc}") from None
    if inputs.ndim < 2 or outputs.ndim != 2 or len(inputs) != len(outputs) or len(inputs) == 0:
        raise GoldenSetError(
            f"golden set {path}: inputs {inputs.shape} and reference_outputs {outputs.shape} "
            "must be non-empty with one output row per input"
        )
    return golden_set_of(inputs, outputs, path=str(Path(path).resolve()))


def golden_set_of(inputs: np.ndarray, outputs: np.ndarray, *, path: str = "") -> GoldenSet:
    """Prepare arrays for probing: one batch-of-1 row per run, made once rather than per probe."""
    rows = np.stack([inputs[i : i + 1] for i in range(len(inputs))])
    return GoldenSet(
        path=path,
        inputs=rows,
        reference_outputs=outputs,
        reference_top1=outputs.argmax(axis=1),
        reference_energy=float(np.sum(outputs.astype(np.float64) ** 2)),
    )
