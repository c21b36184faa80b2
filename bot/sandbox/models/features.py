"""The demo router's input: hashed text features (what a device computes before the model runs).

Feature hashing needs no vocabulary file on the device, and crc32 is stable across processes and
platforms (unlike Python's salted `hash`), so the golden set can be rebuilt bit for bit.
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np

FEATURE_DIM = 256
INTENTS: tuple[str, ...] = (
    "set_timer",
    "play_music",
    "device_control",
    "smalltalk",
    "weather",
    "translate",
    "compose_message",
    "general_question",
)
ROUTE_OF_INTENT: dict[str, str] = {
    "set_timer": "edge",
    "play_music": "edge",
    "device_control": "edge",
    "smalltalk": "edge",
    "weather": "cloud",
    "translate": "cloud",
    "compose_message": "cloud",
    "general_question": "cloud",
}
_TOKEN = re.compile(r"[a-z0-9']+")


def featurize(text: str) -> np.ndarray:
    """Unigrams and bigrams hashed into FEATURE_DIM buckets, L2-normalised, float32."""
    tokens = _TOKEN.findall(text.lower())
    grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    vector = np.zeros(FEATURE_DIM, dtype=np.float32)
    for gram in grams:
        digest = zlib.crc32(gram.encode())
        sign = 1.0 if digest & 0x8000_0000 else -1.0
        vector[digest % FEATURE_DIM] += sign
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
