"""Quality review (质控) of completed follow-ups by a supervisor."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What a review scores and out of how much (the total is out of 100).
CRITERIA = {
    "script": (_("Script followed (opening, identity check, questions, closing)"), 40),
    "content": (_("Content complete and correct (form, advice, next revisit)"), 40),
    "feedback": (_("Patient feedback and attitude"), 20),
}


class QualityReview(models.Model):
    """A supervisor's review of one follow-up record: a score per criterion and comments."""

    record = models.OneToOneField(
        "followup.FollowUpRecord", on_delete=models.CASCADE, related_name="review"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="quality_reviews",
        help_text=_("Who did the follow-up."),
    )
    script = models.PositiveSmallIntegerField(
        _("script followed"), validators=[MinValueValidator(0), MaxValueValidator(40)]
    )
    content = models.PositiveSmallIntegerField(
        _("content"), validators=[MinValueValidator(0), MaxValueValidator(40)]
    )
    feedback = models.PositiveSmallIntegerField(
        _("patient feedback"), validators=[MinValueValidator(0), MaxValueValidator(20)]
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comments = models.TextField(_("comments"), blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("quality review")
        verbose_name_plural = _("quality reviews")
        ordering = ["-reviewed_at", "-id"]
        indexes = [models.Index(fields=["staff", "reviewed_at"], name="review_staff_at")]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.score}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.score = self.script + self.content + self.feedback
        super().save(*args, **kwargs)  # type: ignore[arg-type]
