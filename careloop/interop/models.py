"""Interfaces: sending systems, their code mappings, and every inbound message, raw."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.clinical.loinc import check_digit, looks_like_loinc


class SourceSystem(models.Model):
    """A system that sends us data (LIS, HIS, exam system), keyed by HL7 MSH-4 (sending
    facility). Unknown senders are registered on their first message, attached to the
    default organisation, so a new LIS works at once and an administrator can adjust it."""

    class Encoding(models.TextChoices):
        UTF8 = "utf-8", "UTF-8"
        GB18030 = "gb18030", "GB18030 (GBK, GB2312)"

    facility = models.CharField(_("sending facility (MSH-4)"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="source_systems",
        help_text=_("new patients and their results belong to this organisation"),
    )
    default_encoding = models.CharField(
        _("default character set"),
        max_length=10,
        choices=Encoding.choices,
        default=Encoding.UTF8,
        help_text=_("used when a message does not name one in MSH-18"),
    )
    exam_identifier_types = models.CharField(
        _("identifier types that are exam numbers"),
        max_length=100,
        blank=True,
        default="PE,TJ",
        help_text=_("PID-3 identifier type codes meaning 体检号, comma-separated"),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("sending system")
        verbose_name_plural = _("sending systems")
        ordering = ["facility"]

    def __str__(self) -> str:
        return self.name or self.facility


class CodeMapping(models.Model):
    """A sender's local item code and the LOINC code it means (本地项目编码 → LOINC)."""

    source = models.ForeignKey(
        SourceSystem,
        verbose_name=_("sending system"),
        on_delete=models.CASCADE,
        related_name="code_mappings",
    )
    local_code = models.CharField(_("local code"), max_length=50)
    local_name = models.CharField(_("local name"), max_length=100, blank=True)
    loinc = models.CharField(_("LOINC code"), max_length=20)

    class Meta:
        verbose_name = _("code mapping")
        verbose_name_plural = _("code mappings")
        ordering = ["source", "local_code"]
        constraints = [
            models.UniqueConstraint(fields=["source", "local_code"], name="code_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.local_code} → {self.loinc}"

    def clean(self) -> None:
        """A mapping to something that is not a LOINC code (a typo, a name) would store every
        result of the local code under it, where nothing grades or charts it."""
        self.loinc = (self.loinc or "").strip()
        if not self.loinc:
            return
        if not looks_like_loinc(self.loinc):
            raise ValidationError(
                {
                    "loinc": _(
                        "%(code)s is not a LOINC code: digits, a hyphen and a check digit, "
                        "as 2345-7."
                    )
                    % {"code": self.loinc}
                }
            )
        number, digit = self.loinc.split("-")
        if int(digit) != check_digit(number):
            raise ValidationError(
                {
                    "loinc": _("%(code)s is not a LOINC code: its check digit would be %(digit)s.")
                    % {"code": self.loinc, "digit": check_digit(number)}
                }
            )


class InboundMessage(models.Model):
    """A message as received, stored before anything else happens to it.

    ``accepted`` is fixed when the message is stored: accepted messages are unique per
    sending facility and control id (a resent message is not imported twice); rejected
    ones are kept for inspection and may be reprocessed after a fix.
    """

    class Transport(models.TextChoices):
        MLLP = "mllp", _("HL7 over MLLP")
        FHIR = "fhir", _("FHIR")
        FILE = "file", _("file import")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received, waiting")
        PROCESSING = "processing", _("being processed")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected")

    # Every index here is paid twice per message (stored, then marked processed): only
    # those that queries use. Listings go by id, which follows the time received.
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    transport = models.CharField(
        _("transport"), max_length=10, choices=Transport.choices, default=Transport.MLLP
    )
    peer = models.CharField(_("from"), max_length=100, blank=True)
    raw = models.BinaryField(_("raw message"))
    encoding = models.CharField(_("character set"), max_length=20, blank=True)
    source = models.ForeignKey(
        SourceSystem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    sending_application = models.CharField(max_length=100, blank=True)
    sending_facility = models.CharField(max_length=100, blank=True)
    message_type = models.CharField(_("type"), max_length=20, blank=True)
    control_id = models.CharField(_("control id"), max_length=64, blank=True)
    version = models.CharField(max_length=10, blank=True)
    accepted = models.BooleanField(default=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED
    )
    ack_code = models.CharField(_("acknowledgement"), max_length=2, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which processor imports it when several run: a hash of the patient's identifier, so
    # the messages naming one patient by the same identifier are imported by the same
    # processor, in order (interop.ingest.shard_of).
    shard = models.PositiveSmallIntegerField(default=0)
    # Carries a critical value (interop.urgency): imported before the messages waiting ahead
    # of it, with those of its shard.
    urgent = models.BooleanField(default=False)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="inbound_status_id"),
            models.Index(
                fields=["shard"],
                condition=models.Q(status="received", urgent=True),
                name="inbound_urgent_waiting",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_facility", "control_id"],
                condition=models.Q(accepted=True) & ~models.Q(control_id=""),
                name="inbound_once_per_control_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message_type} {self.control_id} {self.status}"


class ImportMapping(models.Model):
    """How a source's spreadsheet columns map to CareLoop fields, remembered for next time."""

    source = models.OneToOneField(
        SourceSystem, on_delete=models.CASCADE, related_name="import_mapping"
    )
    columns = models.JSONField(_("columns"), default=dict, help_text=_("column header → field"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("import column mapping")
        verbose_name_plural = _("import column mappings")

    def __str__(self) -> str:
        return str(self.source)


class ImportJob(models.Model):
    """One uploaded spreadsheet of exam/lab results (Excel or CSV), kept as uploaded."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all", _("import nothing if any row is wrong")
        SKIP_BAD_ROWS = "skip", _("import the good rows, skip the wrong ones")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        QUEUED = "queued", _("waiting to run")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("not imported")

    source = models.ForeignKey(
        SourceSystem, verbose_name=_("source"), on_delete=models.PROTECT, related_name="imports"
    )
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    checksum = models.CharField(_("SHA-256"), max_length=64, blank=True, db_index=True)
    mode = models.CharField(
        _("when a row is wrong"), max_length=5, choices=Mode.choices, default=Mode.SKIP_BAD_ROWS
    )
    columns = models.JSONField(_("columns"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.UPLOADED
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows read"), default=0)
    imported_rows = models.PositiveIntegerField(_("rows imported"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    patients_created = models.PositiveIntegerField(_("patients enrolled"), default=0)
    alerts_raised = models.PositiveIntegerField(_("alerts raised"), default=0)
    already_stored_rows = models.PositiveIntegerField(
        _("rows stored before"),
        default=0,
        help_text=_(
            "Rows whose results were stored already (another file, HL7): not stored twice."
        ),
    )
    error_report = models.FileField(
        _("error report"), upload_to="imports/errors/%Y/%m/", blank=True
    )
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def file_type(self) -> str:
        """What kind of spreadsheet the file is, as the reader reads it: CSV or Excel."""
        from careloop.interop.importer.reader import ReadError, _kind

        try:
            return "Excel" if _kind(self.filename) == "xlsx" else "CSV"
        except ReadError:
            return ""

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


from careloop.interop.webhook_models import WebhookDelivery, WebhookEndpoint  # noqa: E402

__all__ = [
    "CodeMapping",
    "ImportJob",
    "ImportMapping",
    "InboundMessage",
    "SourceSystem",
    "WebhookDelivery",
    "WebhookEndpoint",
]
