"""The third-party apps under names an administrator reads in their own language (the
administration's index lists apps by these names; the apps themselves give none, or an
English one). Same app names and labels, so nothing else about them changes."""

from __future__ import annotations

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig
from django_tasks_db.apps import TasksAppConfig

# Strings of the third-party apps and of Django's administration that CareLoop translates
# itself (their catalogues have no Chinese for them): named here so that `make messages`,
# which reads only CareLoop's files, keeps them in CareLoop's catalogue.
THEIR_TEXTS = (
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Task Result"),
    gettext_noop("Task Results"),
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
)


class Axes(AxesAppConfig):
    verbose_name = _("Login lockout")


class Totp(TotpAppConfig):
    verbose_name = _("Two-factor login devices")

    def ready(self) -> None:
        super().ready()
        # django-otp names its model in plain English ("TOTP device"), untranslatable
        meta = self.get_model("TOTPDevice")._meta
        meta.verbose_name = _("authenticator app")
        meta.verbose_name_plural = _("authenticator apps")


class TaskQueue(TasksAppConfig):
    verbose_name = _("Background job queue")  # type: ignore[assignment]  # lazy, as Django takes it
