"""Report charts as PNG bytes: counts per week or month, one line per group (matplotlib, Agg).

Built on a bare Figure (no pyplot), so no global state and no display is needed, and with
mathtext off, so a "$" in a label is a dollar sign.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from alerts.render import one_line
from haidang.reports.report import Series
from haidang.reports.wording import CHART

__all__ = ["MAX_LINES", "volume_chart_png"]

MAX_LINES = 8            # more lines than this cannot be told apart; the rest are summed as "Khác"
_LABEL_CHARS = 40


def _short(label: str) -> str:
    text = one_line(label)
    return text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 1] + "…"


def volume_chart_png(series: list[Series], bucket_labels: list[str], title: str, *, dpi: int = 120) -> bytes:
    """A line chart of `series` (largest first) over the buckets; an empty chart says so."""
    shown = series[:MAX_LINES]
    rest = series[MAX_LINES:]
    if rest:
        summed = tuple(sum(s.counts[i] for s in rest) for i in range(len(bucket_labels)))
        shown = [*shown, Series("_other", CHART["other"], summed)]
    with matplotlib.rc_context({"text.parse_math": False, "font.family": "DejaVu Sans", "font.size": 9}):
        fig = Figure(figsize=(8, 3.6), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        x = list(range(len(bucket_labels)))
        for s in shown:
            ax.plot(x, list(s.counts), marker="o", markersize=3, linewidth=1.5, label=_short(s.label))
        ax.set_title(_short(title))
        ax.set_xticks(x)
        ax.set_xticklabels(bucket_labels, rotation=45 if len(x) > 8 else 0, ha="right" if len(x) > 8 else "center")
        ax.set_ylabel(CHART["ylabel"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        if shown:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        else:
            ax.text(0.5, 0.5, CHART["empty"], ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
