"""The dashboard's permission. Its figures are read from the other apps' tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    """No table: it only carries the permission to see the dashboard (数据看板)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", _("Can see the dashboard and export its lists"))]

    def __str__(self) -> str:
        return str(_("Dashboard"))
