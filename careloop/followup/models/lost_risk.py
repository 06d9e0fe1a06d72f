"""The lost-to-follow-up model (失访风险, F6 "later"): each training's model, kept whether
it may be used or not (and why), and each patient's current score from the model in use."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LostRiskModel(models.Model):
    """One training of the model on the system's own closed follow-ups: coefficients on
    standardised features, the means and scales that standardise them, and how it did on
    the held-out latest 20%. ``used`` false: refused (too few tasks, AUC too low), ``why``."""

    version = models.CharField(_("model version"), max_length=40)
    trained_at = models.DateTimeField(_("trained at"), default=timezone.now)
    n_train = models.PositiveIntegerField(_("training tasks"), default=0)
    n_test = models.PositiveIntegerField(_("held-out tasks"), default=0)
    base_rate = models.FloatField(_("share not reached"), null=True, blank=True)
    auc = models.FloatField(_("AUC (held out)"), null=True, blank=True)
    features = models.JSONField(default=list)
    intercept = models.FloatField(default=0.0)
    coefficients = models.JSONField(default=list)
    means = models.JSONField(default=list)
    scales = models.JSONField(default=list)
    calibration = models.JSONField(default=list)
    used = models.BooleanField(_("in use"), default=False)
    why = models.CharField(_("why"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("lost-to-follow-up model")
        verbose_name_plural = _("lost-to-follow-up models")
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} ({self.trained_at:%Y-%m-%d})"


class LostRiskScore(models.Model):
    """A patient's current chance of not being reached on their open follow-ups, with the
    factors that raise it most (Chinese, as stored; shown as written)."""

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, related_name="lost_risk"
    )
    model = models.ForeignKey(LostRiskModel, on_delete=models.CASCADE, related_name="scores")
    probability = models.FloatField(_("chance of not being reached"))
    factors = models.JSONField(_("main factors"), default=list)
    scored_at = models.DateTimeField(_("scored at"), default=timezone.now)

    class Meta:
        verbose_name = _("lost-to-follow-up score")
        verbose_name_plural = _("lost-to-follow-up scores")

    def __str__(self) -> str:
        return f"{self.probability:.2f} ({self.patient_id})"

    @property
    def percent(self) -> int:
        return round(self.probability * 100)

    @property
    def is_high(self) -> bool:
        return self.probability >= HIGH

    @property
    def factors_shown(self) -> list[str]:
        """The main factors in the reader's language."""
        from careloop.followup.lost_risk import factor_text

        return [factor_text(str(code), float(value)) for code, value in self.factors]

    @property
    def factors_line(self) -> str:
        from careloop.followup.lost_risk import factors_shown

        return factors_shown(self.factors)


HIGH = 0.5  # the badge turns red from here
