"""The knowledge base of common patient questions (F18): a question as patients ask it, its
other wordings and the answer a patient gets automatically when their reply asks it clearly
enough (careloop.outreach.faq); otherwise the reply waits in the staff inbox with the closest
answers beside it."""

from __future__ import annotations

from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ANSWER_LIMIT = 300  # a few SMS parts at most


class FaqEntry(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="faq_entries",
        help_text=_(
            "answers its patients and those of the organisations below it; empty: every one"
        ),
    )
    question = models.CharField(_("question"), max_length=200)
    variants = models.TextField(
        _("other wordings"),
        blank=True,
        help_text=_("other ways patients ask it, one per line (e.g. 复查前能吃早饭吗)"),
    )
    answer = models.TextField(
        _("answer"),
        validators=[MaxLengthValidator(ANSWER_LIMIT)],
        help_text=_("sent to the patient as it is written: plain words, at most 300 characters"),
    )
    active = models.BooleanField(_("active"), default=True)
    times_used = models.PositiveIntegerField(_("answered automatically"), default=0, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("common question")
        verbose_name_plural = _("common questions (knowledge base)")
        ordering = ["question", "id"]

    def __str__(self) -> str:
        return self.question

    @property
    def wordings(self) -> list[str]:
        """The question and each other wording."""
        lines = (line.strip() for line in self.variants.splitlines())
        return [self.question, *(line for line in lines if line)]
