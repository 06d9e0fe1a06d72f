from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "careloop.analytics"
    label = "analytics"
    verbose_name = _("Dashboard")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_keep_triggers, sender=self)


def _keep_triggers(using: str = "default", **kwargs: object) -> None:
    """SQLite rebuilds a table for most schema changes, dropping its triggers: after every
    migrate, make the task-change triggers again if a later migration of the task table
    removed them (``IF NOT EXISTS``: nothing happens when they are there)."""
    from importlib import import_module

    from django.db import connections

    from careloop.migration_ops import schema_behind

    connection = connections[using]
    if connection.vendor != "sqlite" or schema_behind(using, kwargs.get("plan")):
        return
    made = import_module("careloop.analytics.migrations.0003_task_change_triggers")
    tables = connection.introspection.table_names()
    if "followup_task" not in tables or "analytics_taskchange" not in tables:
        return
    with connection.cursor() as cursor:
        for statement in made.SQLITE:
            cursor.execute(statement)
