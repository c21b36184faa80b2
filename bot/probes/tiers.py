"""Which tiers a probe round covers."""

from __future__ import annotations

from typing import Literal

TierChoice = Literal["edge", "cloud", "all"]
