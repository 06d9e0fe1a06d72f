"""Keep routine steps of the task queue out of the console.

django-tasks logs the start and the end of every task at INFO: thousands of lines a minute
on a busy site (1,800 while `make run` loads its demo), burying what matters. Its worker
sets that logger's level itself from its verbosity, so a level in ``LOGGING`` is undone;
this filter, attached to the logger, drops the routine lines and lets warnings and failures
(logged at ERROR with their traceback) through. ``CARELOOP_LOG_LEVEL=DEBUG`` keeps them all.
"""

from __future__ import annotations

import logging


class TaskSteps(logging.Filter):
    def __init__(self, keep: str = "WARNING") -> None:
        super().__init__()
        self.keep = logging.getLevelName(keep)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.keep
