"""The task queue's routine lines stay out of the console; its failures do not."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def task_logger():
    logger = logging.getLogger("django_tasks")
    before = logger.level
    logger.setLevel(logging.INFO)  # what `careloop worker` (db_worker, verbosity 1) sets
    yield logger
    logger.setLevel(before)


def test_a_task_starting_and_ending_is_not_logged(task_logger, caplog):
    caplog.set_level(logging.INFO)
    task_logger.info("Task id=%s path=%s state=%s", "x", "careloop.tasks.noop", "SUCCESSFUL")
    assert [r for r in caplog.records if r.name == "django_tasks"] == []


def test_a_failed_task_is_logged(task_logger, caplog):
    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        task_logger.exception("Task id=%s path=%s state=%s", "x", "careloop.tasks.noop", "FAILED")
    (record,) = [r for r in caplog.records if r.name == "django_tasks"]
    assert record.levelno == logging.ERROR and record.exc_info
