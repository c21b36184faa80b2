"""`/tier matrix BUILD [window]` and `/tier crashes BUILD`: build health in Slack.

The matrix answer posts the table (worst cells first) and then its heatmap in the thread, as
`/tier failed` does with its chart; the crashes answer is one message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App

from bot.buildhealth import service
from bot.errors import TierbotError
from bot.slack.arguments import MAX_NAME, parse_window
from bot.slack.build_health_chart import matrix_heatmap
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError
from bot.slack.subcommands import Invocation, Subcommand
from bot.slack.views.build_health import crashes_message, matrix_message, span_label

MATRIX_USAGE = (
    "`/tier matrix BUILD [window]`: a build per device class x OS version against the budget, "
    "e.g. `/tier matrix router-3.2-int8 6h` (default 24h)"
)
CRASHES_USAGE = "`/tier crashes BUILD`: a build's top crash fingerprints, and which are new with it"
DEFAULT_MATRIX_WINDOW = timedelta(hours=24)
HEATMAP_FILENAME = "matrix.png"


@dataclass(frozen=True)
class MatrixArgs:
    model_id: str
    window: timedelta


def _parse_matrix(args: Sequence[str]) -> MatrixArgs:
    usage = f"Usage: {MATRIX_USAGE}"
    if not args:
        raise UsageError("`matrix` needs a build name.", usage)
    if len(args) > 2:
        raise UsageError(f"`matrix` takes a build and a window (got `{' '.join(args)}`).", usage)
    window = parse_window(args[1], usage) if len(args) == 2 else DEFAULT_MATRIX_WINDOW
    return MatrixArgs(args[0][:MAX_NAME], window)


def _parse_crashes(args: Sequence[str]) -> str:
    usage = f"Usage: {CRASHES_USAGE}"
    if len(args) != 1:
        problem = (
            "`crashes` needs a build name."
            if not args
            else f"`crashes` takes one build (got `{' '.join(args)}`)."
        )
        raise UsageError(problem, usage)
    return args[0][:MAX_NAME]


def _matrix(deps: SlackDeps, asked: Invocation, args: MatrixArgs) -> None:
    with deps.store.sessions() as session:
        matrix = service.matrix(
            session=session,
            model_id=args.model_id,
            end=deps.clock(),
            window=args.window,
            settings=deps.settings,
        )
    if not matrix.cells:
        raise TierbotError(
            f"build {args.model_id!r} had no traffic in the last {span_label(matrix)}; "
            "try a longer window, e.g. `/tier matrix BUILD 7d`."
        )
    response = asked.client.chat_postMessage(
        channel=asked.channel, **matrix_message(matrix).to_dict()
    )
    asked.client.files_upload_v2(
        channel=asked.channel,
        thread_ts=str(response["ts"]),
        file=matrix_heatmap(matrix),
        filename=HEATMAP_FILENAME,
        title=f"{matrix.model_id}: error rate per device class x OS, last {span_label(matrix)}",
    )


def _crashes(deps: SlackDeps, asked: Invocation, model_id: str) -> None:
    with deps.store.sessions() as session:
        report = service.crashes(
            session=session, model_id=model_id, end=deps.clock(), settings=deps.settings
        )
    asked.client.chat_postMessage(channel=asked.channel, **crashes_message(report).to_dict())


SUBCOMMANDS = (
    Subcommand(
        "matrix", (MATRIX_USAGE,), _parse_matrix, _matrix, done_when="files.completeUploadExternal"
    ),
    Subcommand("crashes", (CRASHES_USAGE,), _parse_crashes, _crashes),
)


def register(app: App, deps: SlackDeps) -> None:
    """No buttons or events: the subcommands are all there is."""
