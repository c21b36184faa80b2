"""The compatibility matrix as a heatmap PNG: device class x OS version, coloured by error
rate relative to the budget (white within, red past it), cells too thin to judge hatched.

matplotlib is imported on first use (Agg, no display), as for the which-tier chart.
"""

from __future__ import annotations

import io

from bot.buildhealth.matrix import OVER, POSSIBLY_OVER, Matrix
from bot.diagnosis.charts import PYPLOT_LOCK


def matrix_heatmap(matrix: Matrix) -> bytes:
    """A PNG of the matrix; each cell says its error rate and requests."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows, columns = matrix.device_classes, matrix.os_versions
    budget = matrix.budget_error_rate or 1.0
    nan = float("nan")
    values = [
        [
            nan
            if (cell := matrix.cell(r, c)) is None or cell.error_rate is None
            else min(cell.error_rate / budget, 10.0)
            for c in columns
        ]
        for r in rows
    ]
    with PYPLOT_LOCK:
        figure, axes = plt.subplots(
            figsize=(max(4.5, 1.6 * len(columns) + 2.5), max(2.5, 0.55 * len(rows) + 1.5)), dpi=100
        )
        try:
            cmap = plt.get_cmap("Reds").with_extremes(bad="#eeeeee")
            image = axes.imshow(
                values, cmap=cmap, vmin=0.0, vmax=max(2.0, *_finite(values)), aspect="auto"
            )
            axes.set_xticks(range(len(columns)), [c or "(unknown)" for c in columns])
            axes.set_yticks(range(len(rows)), [r or "(unknown)" for r in rows])
            for i, r in enumerate(rows):
                for j, c in enumerate(columns):
                    cell = matrix.cell(r, c)
                    if cell is None:
                        continue
                    if cell.error_rate is None:
                        label = f"n={cell.requests}\ntoo thin"
                    else:
                        mark = {OVER: " !", POSSIBLY_OVER: " ?"}.get(cell.status, "")
                        label = f"{cell.error_rate:.2%}{mark}\nn={cell.requests:,}"
                    dark = values[i][j] == values[i][j] and values[i][j] > 5.0
                    axes.text(
                        j, i, label, ha="center", va="center", fontsize="small",
                        color="white" if dark else "black",
                    )  # fmt: skip
            bar = figure.colorbar(image, ax=axes)
            bar.set_label("error rate / budget")
            axes.set_title(
                f"{matrix.model_id}: error rate per device class x OS "
                f"(budget {matrix.budget_error_rate:.1%})",
                fontsize="small",
            )
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(figure)
    return buffer.getvalue()


def _finite(values: list[list[float]]) -> list[float]:
    return [v for row in values for v in row if v == v] or [0.0]
