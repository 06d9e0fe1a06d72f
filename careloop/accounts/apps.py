from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


def _sync_roles(
    sender: AppConfig, using: str = "default", plan: Any = None, **kwargs: object
) -> None:
    # post_migrate is sent once per app, and each app's permissions are created by its own
    # sending: sync once, after the last app with models, when every permission exists.
    from django.apps import apps

    from careloop.accounts.roles import sync_roles
    from careloop.migration_ops import schema_behind

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender.label == with_models[-1].label and not schema_behind(using, plan):
        sync_roles()


class AccountsConfig(AppConfig):
    name = "careloop.accounts"
    label = "accounts"
    verbose_name = _("Organisations and staff")

    def ready(self) -> None:
        from django.contrib.auth.models import Group

        from careloop.accounts.models import ApiToken, Organisation, User
        from careloop.accounts.tokens import forget_tokens

        post_migrate.connect(_sync_roles, dispatch_uid="careloop.sync_roles")
        # A token's cached user and permissions go stale with any of these changes.
        for model in (ApiToken, User, Group, Organisation):
            post_save.connect(forget_tokens, sender=model, dispatch_uid=f"tokens.{model}")
            post_delete.connect(forget_tokens, sender=model, dispatch_uid=f"tokens-d.{model}")
        for through in (
            User.groups.through,
            User.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(forget_tokens, sender=through, dispatch_uid=f"tokens.{through}")
