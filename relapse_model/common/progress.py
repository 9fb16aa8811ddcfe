"""The package's own progress bars (on stderr), for long steps of the API and the command line:
sampling, prediction for many patients, report stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: ``progress(done, total)``: what long steps call as they go.
Progress = Callable[[int, int], None]


@contextmanager
def progress_bar(description: str, total: int | None = None, *, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """A bar on stderr (rich): yields ``update(done, total=None, description=None)``.

    Disabled, it draws nothing and ``update`` does nothing.
    """
    if not enabled:
        yield lambda done, total=None, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task(description, total=total)

    def update(done: int, total: int | None = None, description: str | None = None) -> None:
        changes = {"completed": done}
        if total is not None:
            changes["total"] = total
        if description is not None:
            changes["description"] = description
        bar.update(task, **changes)

    with bar:
        yield update
