"""What every message shares: the fallback text plus blocks, and number formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

STATUS_EMOJI = {
    "failing": ":red_circle:",
    "degraded": ":large_yellow_circle:",
    "healthy": ":large_green_circle:",
    "no_data": ":white_circle:",
}
MAX_SECTION_TEXT = 3000


@dataclass(frozen=True)
class Message:
    """A message as chat.postMessage or a response_url takes it: `text` is the notification."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Text and blocks as Slack takes them; `to_dict()` runs slack_sdk's validation."""
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def status_label(status: str) -> str:
    return f"{STATUS_EMOJI.get(status, '')} {status.replace('_', ' ')}".strip()


def pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def clip(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    """Keep a text within a Block Kit limit, saying that it was cut."""
    return text if len(text) <= limit else text[: limit - 2] + " …"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text))])


def ephemeral(text: str) -> Message:
    """A short answer only the asker sees (usage, not enabled, errors)."""
    return Message(text=text, blocks=[section(text)])
