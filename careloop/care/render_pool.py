"""Rendering many reports at once in worker processes (WeasyPrint is CPU-bound and holds the
GIL). Children are spawned (no inherited database connections), set Django up themselves,
render a report's PDF from its patient id and hand back the bytes; the parent archives them.
A fresh pool serves each ``RECYCLE`` reports, which bounds the children's memory (Python
3.11's ``max_tasks_per_child`` can hang the pool, so it is not used)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

RECYCLE = 200


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.settings")
    import django

    django.setup()


def _render(patient_id: int) -> tuple[int, bytes, int]:
    from careloop.care.report import render_pdf
    from careloop.patients.models import Patient

    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return patient_id, b"", 0
    rendered = render_pdf(patient)
    return patient_id, rendered.pdf, rendered.pages


def render_many(patient_ids: list[int], processes: int) -> Iterator[tuple[int, bytes, int]]:
    """(patient id, PDF, pages) for each id, in order; an unknown patient gives no PDF."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("spawn")
    for start in range(0, len(patient_ids), RECYCLE):
        chunk = patient_ids[start : start + RECYCLE]
        with ProcessPoolExecutor(
            max_workers=processes, mp_context=context, initializer=_setup
        ) as pool:
            yield from pool.map(_render, chunk, chunksize=2)
