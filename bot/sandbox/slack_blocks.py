"""Slack's limits on messages, Block Kit and modals, so a mistake fails in the sandbox as in Slack.

Each error names its place as Slack does (`[json-pointer:/blocks/3/text]`). The checks cover what
Slack rejects most often: too many blocks, duplicate action_ids, missing or overlong text, unknown
block and element types. They are not Slack's full schema.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_ID = 255

BLOCK_TYPES = {
    "section", "divider", "actions", "context", "header", "image", "input",
    "rich_text", "markdown", "file", "video",
}  # fmt: skip
ELEMENT_TYPES = {
    "button", "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes",
    "radio_buttons", "plain_text_input", "number_input", "email_text_input", "url_text_input",
    "rich_text_input", "file_input", "image",
    "static_select", "external_select", "users_select", "conversations_select", "channels_select",
    "multi_static_select", "multi_external_select", "multi_users_select",
    "multi_conversations_select", "multi_channels_select",
}  # fmt: skip
TEXT_TYPES = {"plain_text", "mrkdwn"}


class _Checker:
    """Walks blocks collecting errors; action_ids and block_ids must be unique per surface."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.action_ids: set[str] = set()
        self.block_ids: set[str] = set()

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def text(self, value: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(value, dict):
            self.error("must provide an object", pointer)
            return
        kind = value.get("type")
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if kind not in allowed:
            self.error(f"must be one of {sorted(allowed)}", f"{pointer}/type")
        text = value.get("text")
        if not isinstance(text, str) or not text:
            self.error("must be more than 0 characters", f"{pointer}/text")
        elif len(text) > max_len:
            self.error(f"must be less than {max_len + 1} characters", f"{pointer}/text")

    def unique_id(self, value: Any, seen: set[str], name: str, pointer: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or len(value) > MAX_ID:
            self.error(f"{name} must be a string of 1 to {MAX_ID} characters", pointer)
        elif value in seen:
            self.error(f"duplicate {name} {value!r}", pointer)
        else:
            seen.add(value)

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict):
            self.error("must provide an object", pointer)
            return
        kind = element.get("type")
        if kind not in ELEMENT_TYPES:
            self.error(f"unsupported element type {kind!r}", f"{pointer}/type")
            return
        self.unique_id(
            element.get("action_id"), self.action_ids, "action_id", f"{pointer}/action_id"
        )
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", max_len=75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                self.error("must be less than 2001 characters", f"{pointer}/value")
            if element.get("style") not in (None, "primary", "danger"):
                self.error("must be one of ['danger', 'primary']", f"{pointer}/style")
        elif kind == "image":
            if not element.get("image_url") and not element.get("slack_file"):
                self.error("must provide image_url or slack_file", pointer)
            self.plain_string(element.get("alt_text"), f"{pointer}/alt_text", max_len=2000)
        options = element.get("options")
        if options is not None:
            self.options(options, f"{pointer}/options", max_items=5 if kind == "overflow" else 100)

    def options(self, options: Any, pointer: str, *, max_items: int) -> None:
        if not isinstance(options, list) or not options:
            self.error("must provide a non-empty array", pointer)
            return
        if len(options) > max_items:
            self.error(f"no more than {max_items} items allowed", pointer)
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                self.error("must provide an object", f"{pointer}/{i}")
                continue
            self.text(option.get("text"), f"{pointer}/{i}/text", max_len=75)
            self.plain_string(option.get("value"), f"{pointer}/{i}/value", max_len=150)

    def plain_string(self, value: Any, pointer: str, *, max_len: int) -> None:
        if not isinstance(value, str) or not value:
            self.error("must be more than 0 characters", pointer)
        elif len(value) > max_len:
            self.error(f"must be less than {max_len + 1} characters", pointer)

    def elements(self, elements: Any, pointer: str, *, max_items: int, context: bool) -> None:
        if not isinstance(elements, list) or not elements:
            self.error("must provide a non-empty array", pointer)
            return
        if len(elements) > max_items:
            self.error(f"no more than {max_items} items allowed", pointer)
        for i, element in enumerate(elements):
            if context and isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                self.text(element, f"{pointer}/{i}", max_len=3000)
            else:
                self.element(element, f"{pointer}/{i}")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.error("must provide an object", pointer)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.error(f"unsupported block type {kind!r}", f"{pointer}/type")
            return
        self.unique_id(block.get("block_id"), self.block_ids, "block_id", f"{pointer}/block_id")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.error("must provide text or fields", pointer)
            if "text" in block:
                self.text(block["text"], f"{pointer}/text", max_len=3000)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.error("must provide an array of at most 10 items", f"{pointer}/fields")
                else:
                    for i, text in enumerate(fields):
                        self.text(text, f"{pointer}/fields/{i}", max_len=2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{pointer}/accessory")
        elif kind == "header":
            self.text(block.get("text"), f"{pointer}/text", max_len=150, plain_only=True)
        elif kind == "actions":
            self.elements(block.get("elements"), f"{pointer}/elements", max_items=25, context=False)
        elif kind == "context":
            self.elements(block.get("elements"), f"{pointer}/elements", max_items=10, context=True)
        elif kind == "image":
            self.element({**block, "type": "image"}, pointer)
        elif kind == "input":
            self.text(block.get("label"), f"{pointer}/label", max_len=2000, plain_only=True)
            self.element(block.get("element"), f"{pointer}/element")
        elif kind == "markdown":
            self.plain_string(block.get("text"), f"{pointer}/text", max_len=12_000)

    def blocks(self, blocks: Any, pointer: str, *, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.error("must provide an array", pointer)
            return
        if len(blocks) > max_blocks:
            self.error(f"no more than {max_blocks} items allowed", pointer)
        for i, block in enumerate(blocks):
            self.block(block, f"{pointer}/{i}")


def check_blocks(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Errors in a message's blocks, in Slack's words; empty when Slack would take them."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", max_blocks=max_blocks)
    return checker.errors


def check_view(view: Any) -> list[str]:
    """Errors in a modal or home tab view (views.open, views.update, views.push)."""
    checker = _Checker()
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.error("must be one of ['home', 'modal']", "/view/type")
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", max_len=24, plain_only=True)
        for button in ("submit", "close"):
            if button in view:
                checker.text(view[button], f"/view/{button}", max_len=24, plain_only=True)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks", [])
        )
        if has_input and "submit" not in view:
            checker.error("must provide submit when the view has input blocks", "/view/submit")
    if len(str(view.get("callback_id", ""))) > MAX_ID:
        checker.error(f"must be less than {MAX_ID + 1} characters", "/view/callback_id")
    if len(str(view.get("private_metadata", ""))) > 3000:
        checker.error("must be less than 3001 characters", "/view/private_metadata")
    checker.blocks(view.get("blocks"), "/view/blocks", max_blocks=MAX_VIEW_BLOCKS)
    return checker.errors
