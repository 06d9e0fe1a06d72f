from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "careloop.followup"
    label = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from careloop.followup.models import Pathway
        from careloop.followup.triggers import forget_abnormal_pathways

        for signal in (post_save, post_delete):
            signal.connect(forget_abnormal_pathways, sender=Pathway, dispatch_uid=signal)
