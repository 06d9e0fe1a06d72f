from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    # post_migrate is sent once per app, and each app's permissions are created by its own
    # sending: sync once, after the last app with models, when every permission exists.
    from django.apps import apps

    from careloop.accounts.roles import sync_roles

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender.label == with_models[-1].label:
        sync_roles()


class AccountsConfig(AppConfig):
    name = "careloop.accounts"
    label = "accounts"
    verbose_name = _("Organisations and staff")

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, dispatch_uid="careloop.sync_roles")
