"""`/tier matrix BUILD` and `/tier crashes BUILD`: the worst cells first, then the grid."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from bot.buildhealth.crashes import CrashReport, Fingerprint
from bot.buildhealth.matrix import OVER, POSSIBLY_OVER, THIN, Cell, Matrix
from bot.buildhealth.staleness import CohortStaleness
from bot.slack.views.common import Message, clip, context, ms, pct, section

MAX_WORST = 8
MAX_FINGERPRINTS = 10
CELL_EMOJI = {
    OVER: ":red_circle:",
    POSSIBLY_OVER: ":large_yellow_circle:",
    THIN: ":white_circle:",
}
STATUS_WORDS = {
    OVER: "over budget",
    POSSIBLY_OVER: "possibly over budget (not statistically clear)",
    "under": "within budget",
    THIN: "too little traffic to judge",
}


def span_label(matrix: Matrix) -> str:
    hours = (matrix.window_end - matrix.window_start).total_seconds() / 3600
    return f"{hours:g}h" if hours >= 1 else f"{hours * 60:.0f}m"


def cell_line(cell: Cell) -> str:
    """`lowram-4gb x android-15: 32.7% errors of 104 requests, over budget; p95 …; OOM x33`."""
    emoji = CELL_EMOJI.get(cell.status, ":large_green_circle:")
    if cell.error_rate is None:
        rate = f"{cell.requests:,} requests: {STATUS_WORDS[THIN]}"
    else:
        rate = (
            f"{pct(cell.error_rate)} errors of {cell.requests:,} requests "
            f"(99% bounds {pct(cell.error_rate_lower)} to {pct(cell.error_rate_upper)}), "
            f"{STATUS_WORDS[cell.status]}"
        )
    codes = ", ".join(f"`{code}` x{n:,}" for code, n in cell.top_error_codes)
    return f"{emoji} *{cell.label}*: {rate}; p95 {ms(cell.p95_latency_ms)}" + (
        f"; {codes}" if codes else ""
    )


def grid_text(matrix: Matrix, min_requests: int) -> str:
    """The matrix as a monospace grid: error rate per cell, `!` over budget, `?` possibly."""
    columns = matrix.os_versions
    rows = matrix.device_classes
    width = max([len(c or "-") for c in columns] + [8])
    label = max([len(r or "-") for r in rows] + [12])
    lines = [" " * label + "  " + "  ".join(f"{c or '-':>{width}}" for c in columns)]
    for row in rows:
        cells = []
        for column in columns:
            cell = matrix.cell(row, column)
            if cell is None:
                text = "."
            elif cell.error_rate is None:
                text = f"n={cell.requests}"
            else:
                mark = {OVER: "!", POSSIBLY_OVER: "?"}.get(cell.status, " ")
                text = f"{cell.error_rate:.2%}{mark}"
            cells.append(f"{text:>{width}}")
        lines.append(f"{row or '-':<{label}}  " + "  ".join(cells))
    return "\n".join(lines)


def matrix_message(matrix: Matrix) -> Message:
    over = [c for c in matrix.cells if c.status == OVER]
    thin = [c for c in matrix.cells if c.status == THIN]
    summary = (
        f"{matrix.tier} build, budget {pct(matrix.budget_error_rate, 1)} errors and p95 "
        f"{ms(matrix.budget_p95_latency_ms)}; {len(matrix.cells)} device class x OS cells in the "
        f"last {span_label(matrix)} (to {matrix.window_end:%Y-%m-%d %H:%M} UTC): "
        f"*{len(over)} over budget*, {len(thin)} with too little traffic "
        f"(< {matrix.min_requests:,} requests)"
    )
    worst = [c for c in matrix.cells if c.status != THIN][:MAX_WORST]
    title = clip(f"Compatibility matrix: {matrix.model_id}", 150)
    grid = grid_text(matrix, matrix.min_requests)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title)),
        section(summary),
        section("*Worst cells first*\n" + "\n".join(cell_line(c) for c in worst))
        if worst
        else section("No cell has enough traffic to judge."),
        section(
            "*Error rate per cell* (`!` over budget, `?` possibly, `n=` too little traffic)\n"
            + "```"
            + clip(grid, 2700)
            + "```"
        ),
        context(f"heatmap in the thread · `tierbot matrix {matrix.model_id} --json`"),
    ]
    headline = ", ".join(c.label for c in over[:3]) or "no cell over budget"
    return Message(text=f"matrix {matrix.model_id}: {headline}", blocks=blocks)


def fingerprint_line(f: Fingerprint) -> str:
    tag = ":new: " if f.new else ""
    classes = ", ".join(f"{k} {v:,}" for k, v in f.device_classes.most_common(4))
    versions = ", ".join(f"{k} {v:,}" for k, v in f.os_versions.most_common(4))
    return (
        f"{tag}`{f.fingerprint}`: {f.events:,} events, first {f.first_seen:%m-%d %H:%M}, "
        f"last {f.last_seen:%m-%d %H:%M} UTC\n      OS: {versions} · devices: {classes}"
    )


def crashes_message(report: CrashReport) -> Message:
    if report.predecessors:
        compared = "new: never seen on " + ", ".join(report.predecessors)
    else:
        compared = "no earlier build to compare with, so none is called new"
    new = report.new
    summary = (
        f"{report.total_fingerprints:,} fingerprints, {report.total_events:,} crash events up to "
        f"{report.end:%Y-%m-%d %H:%M} UTC; *{len(new)} new with this build* ({compared})"
    )
    shown = report.fingerprints[:MAX_FINGERPRINTS]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Crash fingerprints: {report.model_id}", 150))),
        section(summary),
        section("\n".join(fingerprint_line(f) for f in shown))
        if shown
        else section("No crash fingerprints reported for this build."),
        context(f"`tierbot crashes {report.model_id} --json`"),
    ]
    text = f"crashes {report.model_id}: {report.total_fingerprints} fingerprints, {len(new)} new"
    return Message(text=text, blocks=blocks)


def staleness_detail(item: CohortStaleness) -> str:
    """`54.5% of 980 requests on a stale config since …; canonical edge `cfg-d41b``."""
    canonical = ", ".join(f"{tier} `{h or '-'}`" for tier, h in item.canonical.items())
    return f"{item.summary()}; canonical {canonical or '-'}"


def staleness_line(item: CohortStaleness) -> str:
    """A cohort's config staleness in one line, for the status answer."""
    emoji = ":warning: " if item.over else ""
    return f"{emoji}*{item.cohort}*: {staleness_detail(item)}"
