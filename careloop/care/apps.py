from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "careloop.care"
    label = "care"
    verbose_name = _("Health plans and reports")

    def ready(self) -> None:
        from careloop.care import timeline  # noqa: F401 - registers the timeline source
