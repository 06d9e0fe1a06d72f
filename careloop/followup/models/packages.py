"""体检套餐: the health-exam packages an organisation offers (its exam-package catalogue,
体检商城), which patients book on their pages (F20)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExamPackage(models.Model):
    """A package: what it checks, for whom (sex, ages), its price, and the results that make
    it worth recommending (a patient whose latest result of one of ``recommend_for`` is out
    of range sees it recommended, with why)."""

    class Sex(models.TextChoices):
        ANY = "", _("everyone")
        MALE = "male", _("men")
        FEMALE = "female", _("women")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: offered by every organisation."),
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    items = models.JSONField(_("items checked"), default=list)  # ["血常规", "肝功能", …]
    sex = models.CharField(
        _("who it is for"), max_length=6, choices=Sex.choices, default=Sex.ANY, blank=True
    )
    min_age = models.PositiveSmallIntegerField(_("from age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("up to age"), null=True, blank=True)
    price = models.DecimalField(_("price (yuan)"), max_digits=8, decimal_places=2)
    points = models.PositiveIntegerField(
        _("points to exchange"),
        null=True,
        blank=True,
        help_text=_("Patients may exchange this many points for the package; empty: not."),
    )
    recommend_for = models.JSONField(
        _("recommended after abnormal results of (LOINC)"), default=list, blank=True
    )
    is_active = models.BooleanField(_("offered"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("exam package")
        verbose_name_plural = _("exam packages")
        ordering = ["order", "price", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="exam_package_code")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from careloop.clinical import catalogue

        errors: dict[str, object] = {}
        items = self.items
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, str) and i.strip() for i in items)
        ):
            errors["items"] = _('A list of what it checks, such as ["血常规", "肝功能"].')
        codes = self.recommend_for
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            errors["recommend_for"] = _('A list of LOINC codes, such as ["2089-1"], or [].')
        else:
            unknown = [c for c in codes if catalogue.current().item(c) is None]
            if unknown:
                errors["recommend_for"] = _("Not in the catalogue of exam items: %(codes)s") % {
                    "codes": ", ".join(unknown)
                }
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            errors["max_age"] = _("The upper age is below the lower one.")
        if self.price is not None and self.price < 0:
            errors["price"] = _("The price cannot be negative.")
        if errors:
            raise ValidationError(errors)
