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
    """A table of the page: ``frame`` is written as CSV at full precision; the page shows
    ``shown`` when given (a readable form of the same numbers), else ``frame``."""

    key: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    csv: str = ""
    shown: pd.DataFrame | None = None

    @property
    def page_frame(self) -> pd.DataFrame:
        return self.frame if self.shown is None else self.shown


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    path: Path


@dataclass(frozen=True)
class Section:
    """A part of the page, shown collapsed under its title and ``lead`` (one plain sentence)."""

    key: str
    title: str
    items: list[Table | Figure]
    lead: str = ""


def _cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else format_number(float(value))
    return "" if value is None else str(value)


#: Column headers of the page that are codes in the CSV files.
HEADERS = {"elpd_loo": "ELPD (LOO)", "se": "SE", "p_loo": "effective parameters (p_loo)", "n": "patients",
           "max pareto k": "max Pareto k", "n_patients": "patients", "efs_fraction_outside": "EFS: share outside band",
           "survival_fraction_outside": "survival: share outside band",
           "cif_relapse_fraction_outside": "relapse: share outside band",
           "cif_death_fraction_outside": "death without relapse: share outside band",
           "efs_p_value_horizon": "p-value, EFS at horizon", "efs_observed_horizon": "EFS observed at horizon",
           "posterior_median": "posterior median", "posterior_lower": "posterior 2.5%",
           "posterior_upper": "posterior 97.5%", "prior_median": "prior median", "prior_lower": "prior 2.5%",
           "prior_upper": "prior 97.5%"}


def header(name: object) -> str:
    """A column header in words (codes such as ``elpd_loo`` or ``n_patients`` are CSV names)."""
    return HEADERS.get(str(name), str(name).replace("_", " "))


def table_html(frame: pd.DataFrame) -> Markup:
    """An HTML table with numbers at three significant digits (the CSV keeps full precision)."""
    shown = frame.map(_cell) if len(frame) else frame
    shown = shown.rename(columns=header)
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
                  folder: Path, summary: list[str] | None = None) -> str:
    """The page's HTML: the summary at the top, then each section collapsed under its title and
    lead sentence; figures are read from disk and embedded."""
    template = _environment().get_template("report.html.j2")
    return template.render(title=title, sections=sections, verdict=verdict, prov=provenance, folder=folder,
                           summary=summary or [])
