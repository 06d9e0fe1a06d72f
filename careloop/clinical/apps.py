from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _load_reference_data(
    sender: AppConfig, using: str = "default", plan: Any = None, **kwargs: object
) -> None:
    # Reference data is (re)loaded after every migrate and test flush; it is idempotent. Not
    # after a migrate back to an earlier schema: today's catalogue columns may not be there.
    from careloop.clinical.reference_data import load_reference_data
    from careloop.migration_ops import schema_behind

    if not schema_behind(using, plan):
        load_reference_data()


class ClinicalConfig(AppConfig):
    name = "careloop.clinical"
    label = "clinical"
    verbose_name = _("Clinical data")

    def ready(self) -> None:
        from careloop.clinical import timeline  # noqa: F401 - registers the timeline source

        post_migrate.connect(
            _load_reference_data, sender=self, dispatch_uid="careloop.clinical.reference_data"
        )
