"""Block Kit as plain text for a terminal: what a person would read in Slack, in reading order.

Buttons come out as numbered choices (`[1] Cohort eu-android-stable`) so the console can offer
them; `choices()` returns the same list with what clicking each one needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_EMOJI = {
    ":red_circle:": "●",
    ":large_yellow_circle:": "●",
    ":large_green_circle:": "●",
    ":white_circle:": "○",
    ":white_check_mark:": "✓",
    ":x:": "✗",
}
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


@dataclass(frozen=True)
class Choice:
    label: str
    action_id: str
    value: str | None


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn, readable: emoji to symbols, links to labels, no emphasis marks or fences."""
    for name, symbol in _EMOJI.items():
        text = text.replace(name, symbol)
    text = _LINK.sub(r"\2", text).replace("```", "")
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    return mrkdwn(str(obj.get("text", ""))) if isinstance(obj, dict) else ""


def _buttons(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        elements = [block.get("accessory"), *block.get("elements", [])]
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                yield element


def choices(blocks: list[dict[str, Any]]) -> list[Choice]:
    """Every button in the blocks, in reading order."""
    return [
        Choice(_text(b.get("text")), str(b["action_id"]), b.get("value")) for b in _buttons(blocks)
    ]


def blocks_to_text(
    blocks: list[dict[str, Any]], *, fallback: str = "", first_choice: int = 1
) -> str:
    """The blocks as lines of text; buttons numbered from `first_choice`."""
    if not blocks:
        return mrkdwn(fallback)
    lines: list[str] = []
    number = first_choice
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(_text(block.get("text")).upper())
        elif kind == "section":
            if "text" in block:
                lines.append(_text(block["text"]))
            fields = [_text(f) for f in block.get("fields", [])]
            lines.extend(f"  {line}" for field in fields for line in field.splitlines())
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                lines.append(f"  [{number}] {_text(accessory.get('text'))}")
                number += 1
        elif kind == "context":
            lines.append("  " + " · ".join(_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    labels.append(f"[{number}] {_text(element.get('text'))}")
                    number += 1
            lines.append("  ".join(labels))
        elif kind == "image":
            lines.append(f"(image: {block.get('alt_text', '')})")
    return "\n".join(lines)
