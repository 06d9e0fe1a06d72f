"""Questionnaires (F10), every saved version kept (an answer keeps the version it answered),
and the answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Questionnaire(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("in use")
        RETIRED = "retired", _("retired")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    version = models.PositiveIntegerField(_("version"), default=0)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: every organisation."),
    )
    # A Questionnaire imported over FHIR keeps the canonical URL its author gave it (answers
    # refer to it); empty for ours, whose URL is urn:careloop:questionnaire:<code>.
    url = models.CharField(
        _("canonical URL"),
        max_length=255,
        blank=True,
        help_text=_("The FHIR canonical URL it was imported with; empty: one of ours."),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["url"], condition=~Q(url=""), name="questionnaire_url_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def canonical(self) -> str:
        """Its FHIR canonical URL: the one it was imported with, else ours."""
        from careloop.questionnaires.fhir import CANONICAL

        return self.url or f"{CANONICAL}{self.code}"

    def latest(self) -> QuestionnaireVersion:
        """The newest saved version (a questionnaire is saved with its first)."""
        version = self.versions.order_by("-version").first()
        assert version is not None
        return version


class QuestionnaireVersion(models.Model):
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField(_("version"))
    # The FHIR Questionnaire.version its author gave this version (an import); empty: ours,
    # served as the version number.
    label = models.CharField(_("FHIR version"), max_length=64, blank=True)
    definition = models.JSONField(_("definition"))
    saved_at = models.DateTimeField(_("saved"), default=timezone.now)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("questionnaire version")
        verbose_name_plural = _("questionnaire versions")
        ordering = ["questionnaire", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "version"], name="questionnaire_version_once"
            ),
            models.UniqueConstraint(
                fields=["questionnaire", "label"],
                condition=~Q(label=""),
                name="questionnaire_label_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire.code} v{self.version}"

    @property
    def fhir_version(self) -> str:
        """Questionnaire.version as served: the author's, else the version number."""
        return self.label or str(self.version)


class QuestionnaireResponse(models.Model):
    class Source(models.TextChoices):
        STAFF = "staff", _("entered by staff")
        PATIENT = "patient", _("patient page")
        VOICE = "voice", _("voice call")
        FHIR = "fhir", _("FHIR")

    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="responses"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="questionnaire_responses"
    )
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answers = models.JSONField(_("answers"))
    total = models.FloatField(_("score"), null=True, blank=True)
    band = models.CharField(_("result"), max_length=40, blank=True)
    nps = models.CharField(_("NPS group"), max_length=10, blank=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alert = models.ForeignKey(
        "followup.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("questionnaire answer")
        verbose_name_plural = _("questionnaire answers")
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["patient", "-submitted_at"], name="response_patient")]

    def __str__(self) -> str:
        return f"{self.version} {self.submitted_at:%Y-%m-%d}"
