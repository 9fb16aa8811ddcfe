"""Tables that print readably: a DataFrame whose ``print`` shows a formatted table within 100
columns (numbers rounded, blanks blank, codes as labels) while the data keep full precision."""

from __future__ import annotations

import io
from collections.abc import Callable

import pandas as pd

#: Printed tables fit this many columns (terminals, notebooks, the README's comments).
WIDTH = 100


def cell_text(value: object) -> str:
    """A cell as printed: missing or suppressed values blank, floats at 3 significant digits
    (thousands separated from 1,000), booleans as yes / no."""
    from relapse_model.common.tables import format_number

    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_number(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def render_table(frame: pd.DataFrame, title: str | None = None, width: int = WIDTH) -> str:
    """``frame`` as a text table (rich's layout) at most ``width`` columns wide."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col])
        table.add_column(escape(str(col)), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(cell_text(v)) for v in row))
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None, soft_wrap=False,
            force_jupyter=False, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


class ReadableFrame(pd.DataFrame):
    """A DataFrame that prints as ``text(frame)``: a readable table, not pandas' raw floats and
    ``...``. Everything else is the DataFrame (full precision; derived frames are plain
    DataFrames); notebooks show pandas' HTML table with every column."""

    _metadata = ["_text"]

    @property
    def _constructor(self):
        return pd.DataFrame

    def __repr__(self) -> str:
        return self._text(pd.DataFrame(self))

    def __str__(self) -> str:
        return self.__repr__()


def readable(frame: pd.DataFrame, text: Callable[[pd.DataFrame], str] | None = None,
             title: str | None = None) -> ReadableFrame:
    """``frame`` printing as ``text(frame)`` (default: every column formatted by :func:`render_table`)."""
    shown = ReadableFrame(frame)
    shown._text = text or (lambda f: render_table(f, title))
    return shown
