"""Plain Markdown tables (no extra dependency) for data cards, the README and reports."""

from __future__ import annotations

import pandas as pd


def format_number(value: float) -> str:
    """A number as tables show it: thousands separated above 1,000, else 3 significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def markdown_table(frame: pd.DataFrame, *, index: bool = False, floatfmt: str = ".3g") -> str:
    """A GitHub-flavoured Markdown table of ``frame``."""
    if index:
        frame = frame.reset_index()
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"

    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
