"""The command line's progress bar (rich), on stderr, gone when done."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn


def progress_bar(*, disable: bool = False) -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=disable,
        # Rich's default console is stdout, where the commands print their JSON: the bar
        # (or, off a terminal, the blank line it ends with) would be mixed into it.
        console=Console(stderr=True),
    )
