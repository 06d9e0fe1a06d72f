from django.apps import AppConfig


class CareloopConfig(AppConfig):
    name = "careloop"
    verbose_name = "CareLoop"

    def ready(self) -> None:
        from careloop import sql_lists  # noqa: F401 (registers the ``__any_of`` lookup)
