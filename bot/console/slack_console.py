"""`tierbot console`: type `/tier` commands, read the answers, press buttons by number.

Everything goes through the real bolt app over signed HTTP to the sandbox Slack, exactly as
from a workspace; this module only prints what the bot posted and reads what the person types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from bot.console.blocks_text import blocks_to_text, choices
from bot.console.slack_session import Exchange, SlackSession
from bot.sandbox.slack_models import SandboxMessage

QUIT = {"quit", "exit", "q", ":q"}
PROMPT = "/tier "


@dataclass(frozen=True)
class Button:
    """A button the person can press by its number."""

    number: int
    label: str
    action_id: str
    message: SandboxMessage


def where(names: dict[str, str], message: SandboxMessage) -> str:
    """`in #tierbot-alerts, in the thread of 1795….123`: where a message landed."""
    if message.channel.startswith("D"):
        place = "in a direct message"
    else:
        place = f"in #{names.get(message.channel, message.channel)}"
    if message.thread_ts and message.thread_ts != message.ts:
        return f"{place}, in the thread of {message.thread_ts}"
    return f"{place}, ts {message.ts}"


def print_messages(
    console: Console, names: dict[str, str], messages: list[SandboxMessage]
) -> list[Button]:
    """Print messages the bot posted as text; return their buttons, numbered from 1."""
    buttons: list[Button] = []
    for message in messages:
        first = len(buttons) + 1
        console.print(f"[bold]tierbot[/bold] [dim]{where(names, message)}[/dim]")
        console.print(
            escape(blocks_to_text(message.blocks, fallback=message.text, first_choice=first)),
            highlight=False,
        )
        for offset, choice in enumerate(choices(message.blocks)):
            buttons.append(Button(first + offset, choice.label, choice.action_id, message))
    return buttons


def render_messages(
    console: Console, session: SlackSession, messages: list[SandboxMessage]
) -> list[Button]:
    """What the bot posted on its own (an alert, a background step), as text."""
    names = {c: str(v.get("name", c)) for c, v in session.slack.channels.items()}
    return print_messages(console, names, messages)


def render_exchange(console: Console, exchange: Exchange) -> list[Button]:
    """Print the ack and what the bot posted; return the buttons, numbered from 1."""
    console.print(
        f"[dim]ack {exchange.ack.status} in {exchange.ack_ms:.0f} ms[/dim]", highlight=False
    )
    for body in exchange.ephemeral:
        text = blocks_to_text(list(body.get("blocks") or []), fallback=str(body.get("text", "")))
        console.print("[dim](only you can see this)[/dim]")
        console.print(escape(text), highlight=False)
    buttons = print_messages(console, exchange.channel_names, exchange.messages)
    for file in exchange.files:
        size = len(file.content or b"")
        place = "in the thread" if file.thread_ts else "in the channel"
        console.print(f"[dim]uploaded {file.filename} ({size / 1024:.0f} KB) {place}[/dim]")
    return buttons


def run_console(
    console: Console,
    session: SlackSession,
    *,
    read: Callable[[str], str] = input,
) -> None:
    """The loop: a line is a `/tier` command, a number presses a button, `quit` leaves."""
    console.print(
        "Type a /tier command (e.g. [bold]failed 15m[/bold], [bold]cohort NAME[/bold], "
        "[bold]help[/bold]); a number presses a button; [bold]quit[/bold] leaves."
    )
    buttons: list[Button] = []
    while True:
        try:
            line = read(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if line.lower() in QUIT:
            return
        line = line.removeprefix("/tier").strip()
        if line.isdigit() and buttons:
            pressed = next((b for b in buttons if b.number == int(line)), None)
            if pressed is None:
                console.print(f"no button {line}; choose 1 to {len(buttons)}")
                continue
            exchange = session.click(pressed.message, pressed.action_id, pressed.label)
        else:
            exchange = session.command(line)
        found = render_exchange(console, exchange)
        buttons = found or buttons
