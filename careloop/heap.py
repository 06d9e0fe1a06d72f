"""The garbage collector in long-running processes (listener, processors, workers).

Such a process holds a large heap made once and kept: Django's models and settings, the
catalogue, compiled rules, about 670,000 objects in a processor. CPython's full
collections walk all of it each time the heap grows by a quarter, which in the HL7
processor cost ~90 µs of CPU per message. Once the process has done its first piece of work,
``settle`` collects what is garbage and moves the rest out of the collector's sight
(``gc.freeze``); what is made later is collected as usual.

Only the commands that run for long say so (``long_running``): code they share with tests
and web requests calls ``settle_once``, which does nothing elsewhere.
"""

from __future__ import annotations

import gc

_state = {"long_running": False, "settled": False}


def long_running() -> None:
    """This process is a listener, processor or worker: let ``settle_once`` act."""
    _state["long_running"] = True


def settle() -> None:
    gc.collect()
    gc.freeze()
    _state["settled"] = True


def settle_once() -> None:
    """``settle``, the first time only and only in a long-running process: for loops that
    call it after each piece of work."""
    if _state["long_running"] and not _state["settled"]:
        settle()
