"""User-facing input errors: one line per problem, naming file, row and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: How many problems one error message lists before summarising the rest.
MAX_REPORTED_ISSUES = 50


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in one input file.

    Parameters
    ----------
    source : str
        File name (or another label for the input).
    row : int or None
        Row as the user sees it: for CSV/TSV the line the record starts on, as a text editor
        shows it (the header is usually row 1 and the first patient row 2; blank lines count);
        for Parquet the first record is row 1. ``None`` for problems of the whole file or of a
        whole column.
    column : str or None
        Column (or key) the problem is in, ``None`` for whole-file problems.
    message : str
        What is wrong, in words a clinician can act on.
    """

    source: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}"


class ExtrapolationWarning(UserWarning):
    """Legal input the fit cannot vouch for: a study or cytogenetic class it never saw, or a score
    far outside the fitted cohort's range. The prediction is made; the warning says on what."""


class ThinDataWarning(UserWarning):
    """A legal cohort that cannot inform part of the model (no events of a kind, one class, one
    study, very few patients): those parts of the posterior are the prior."""


class InputError(ValueError):
    """Bad input: carries every problem found, each printable as one line.

    The command line prints ``str(error)`` and exits with status 2.
    """

    def __init__(self, issues: Iterable[Issue]):
        self.issues: list[Issue] = sorted(
            issues, key=lambda i: (i.source, i.row if i.row is not None else -1, i.column or "")
        )
        if not self.issues:
            raise ValueError("InputError needs at least one issue")
        super().__init__(self._render())

    @classmethod
    def single(cls, source: str, message: str, *, row: int | None = None,
               column: str | None = None) -> InputError:
        """Build an error holding one issue."""
        return cls([Issue(str(source), row, column, message)])

    @classmethod
    def from_validation(cls, source: str, exc: Any) -> InputError:
        """One issue per error of a pydantic ``ValidationError``, naming the dotted key."""
        issues = []
        for e in exc.errors():
            key = ".".join(str(p) for p in e["loc"])
            prefix = f"key '{key}': " if key else ""      # a whole-spec check names its keys itself
            issues.append(Issue(str(source), None, None, prefix + e["msg"].removeprefix("Value error, ")))
        return cls(issues)

    def _render(self) -> str:
        shown = [str(i) for i in self.issues[:MAX_REPORTED_ISSUES]]
        hidden = len(self.issues) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more problem(s) not shown")
        return "\n".join(shown)
