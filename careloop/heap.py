"""The garbage collector in long-running processes (listener, processors, workers).

Such a process holds a large heap made once and kept: Django's models and settings, the
catalogue, compiled rules, about 670,000 objects in a processor. CPython's full
collections walk all of it each time the heap grows by a quarter, which in the HL7
processor cost ~90 µs of CPU per message. Once the process has done its first piece of work,
``settle`` collects what is garbage and moves the rest out of the collector's sight
(``gc.freeze``); what is made later is collected as usual.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    global _settled
    gc.collect()
    gc.freeze()
    _settled = True


def settle_once() -> None:
    """``settle`` the first time only: for loops that call it after each piece of work."""
    if not _settled:
        settle()
