"""Render a report as one self-contained HTML page (Jinja2; figures embedded as data URIs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from relapse_model.common.tables import format_number


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    csv: str = ""


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    path: Path


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: list[Table | Figure]


def _cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else format_number(float(value))
    return "" if value is None else str(value)


def table_html(frame: pd.DataFrame) -> Markup:
    """An HTML table with numbers at three significant digits (the CSV keeps full precision)."""
    shown = frame.map(_cell) if len(frame) else frame
    return Markup(shown.to_html(index=False, escape=True, border=0, classes="data", na_rep=""))


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("relapse_model.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["table_html"] = table_html
    env.filters["data_uri"] = data_uri
    env.tests["table"] = lambda item: isinstance(item, Table)
    return env


def render_report(title: str, sections: list[Section], verdict: dict[str, Any], provenance: dict[str, Any],
                  folder: Path) -> str:
    """The page's HTML; figures are read from disk and embedded."""
    template = _environment().get_template("report.html.j2")
    return template.render(title=title, sections=sections, verdict=verdict, prov=provenance, folder=folder)
