"""The audit log (审计日志): who did what to which record, when and from where."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

# What the log names by ``object_type``, as the audit page shows it (others shown as stored).
OBJECT_TYPES = {
    "alert": _("alert"),
    "api_token": _("API token"),
    "consent": _("consent"),
    "dashboard": _("dashboard"),
    "diagnosis": _("diagnosis"),
    "encounter": _("encounter"),
    "followup_record": _("follow-up record"),
    "health_plan": _("health plan"),
    "health_report": _("health report"),
    "import": _("import"),
    "inbound_message": _("inbound message"),
    "lifestyle": _("lifestyle"),
    "observation": _("result"),
    "pathway": _("pathway"),
    "patient": _("patient"),
    "plan": _("follow-up plan"),
    "portal_link": _("patient link"),
    "programme_enrolment": _("programme enrolment"),
    "quality_review": _("quality review"),
    "questionnaire": _("questionnaire"),
    "questionnaire_response": _("questionnaire answers"),
    "recording": _("call recording"),
    "redemption": _("points exchange"),
    "referral": _("referral"),
    "reply": _("patient reply"),
    "report": _("report"),
    "revisit": _("revisit"),
    "rule": _("rule"),
    "share": _("record sharing"),
    "stage_summary": _("stage summary"),
    "task": _("follow-up task"),
    "task_note": _("task note"),
    "user": _("staff member"),
}


# The summaries written as fixed words, shown in the reader's language (those with figures in
# them are shown as written).
FIXED_SUMMARIES = frozenset(
    (
        gettext_noop("FHIR conditional create: found"),
        gettext_noop("call recording played"),
        gettext_noop("changed patient details"),
        gettext_noop("consent history"),
        gettext_noop("enrolled patient, issued member card"),
        gettext_noop("error report downloaded"),
        gettext_noop("import started"),
        gettext_noop("lifestyle changed"),
        gettext_noop("message template previewed for the patient"),
        gettext_noop("password accepted"),
        gettext_noop("password changed"),
        gettext_noop("programme stopped"),
        gettext_noop("raised by hand"),
        gettext_noop("raw message shown"),
        gettext_noop("recently opened, on the home page"),
        gettext_noop("referral withdrawn"),
        gettext_noop("registered from an inbound message"),
        gettext_noop("reply entered from the outbox as the patient"),
        gettext_noop("reply marked handled"),
        gettext_noop("revisit booked"),
        gettext_noop("two-factor code accepted"),
        gettext_noop("two-factor login turned off"),
        gettext_noop("two-factor login turned on"),
        gettext_noop("updated from an inbound message"),
        gettext_noop("wrong two-factor code"),
        gettext_noop("wrong username or password"),
    )
)

# The summaries written with figures in a fixed pattern (in English, as all summaries), shown
# in the reader's language: the pattern's parts by name, the filters' words translated.
PATTERNED_SUMMARIES = (
    (
        re.compile(r"^alerts (?P<scope>\w+)/(?P<status>\w+) \((?P<n>\d+) shown\)$"),
        gettext_noop("alerts, %(scope)s, %(status)s (%(n)s shown)"),
    ),
    (
        re.compile(r"^worklist (?P<scope>\w+)/(?P<section>\w+) \((?P<n>\d+) shown\)$"),
        gettext_noop("worklist, %(scope)s, %(section)s (%(n)s shown)"),
    ),
    (
        re.compile(r"^trend chart of (?P<code>\S+)$"),
        gettext_noop("trend chart of %(code)s"),
    ),
    (
        re.compile(
            r"^list “(?P<list>[^”]+)” exported, (?P<first>\S+) to (?P<last>\S+)"
            r"(?P<more>(, \w+ \d+)*)$"
        ),
        gettext_noop("list “%(list)s” exported, %(first)s to %(last)s%(more)s"),
    ),
    (re.compile(r"^revealed (?P<field>\w+)$"), gettext_noop("revealed %(field)s")),
    (
        re.compile(r"^enrolled in (?P<pathway>\S+) v(?P<version>\d+) \((?P<n>\d+) tasks\)$"),
        gettext_noop("enrolled in %(pathway)s v%(version)s (%(n)s tasks)"),
    ),
    (
        re.compile(r"^patient link made \((?P<purpose>[^)]+)\)$"),
        gettext_noop("patient link made (%(purpose)s)"),
    ),
    (
        re.compile(r"^reading uploaded by the patient \((?P<kind>\w+)\)$"),
        gettext_noop("reading uploaded by the patient (%(kind)s)"),
    ),
    (
        re.compile(r"^(?P<search>list|search by [\w -]+) \(page (?P<page>\d+)\)$"),
        gettext_noop("%(search)s (page %(page)s)"),
    ),
    (
        re.compile(r"^revisit requested for (?P<day>\d{4}-\d{2}-\d{2})$"),
        gettext_noop("revisit requested for %(day)s"),
    ),
    (
        re.compile(r"^(?P<code>\S+) v(?P<version>\d+) answered \((?P<source>\w+)\)$"),
        gettext_noop("questionnaire %(code)s v%(version)s answered (%(source)s)"),
    ),
    (
        re.compile(r"^alert (?P<step>\w+): (?P<before>\w+)→(?P<after>\w+)$"),
        gettext_noop("alert %(step)s: %(before)s → %(after)s"),
    ),
    (
        re.compile(r"^health report printed \((?P<n>\d+) pages\)$"),
        gettext_noop("health report printed (%(n)s pages)"),
    ),
    (
        re.compile(
            r"^(?P<booking>revisit|consultation) requested by the patient for "
            r"(?P<day>\d{4}-\d{2}-\d{2})$"
        ),
        gettext_noop("%(booking)s requested by the patient for %(day)s"),
    ),
    (re.compile(r"^added tag (?P<tag>.+)$"), gettext_noop("added tag %(tag)s")),
    (re.compile(r"^removed tag (?P<tag>.+)$"), gettext_noop("removed tag %(tag)s")),
    # Follow-up work (followup.views, .outcomes, .supervision, .handoffs); people by their
    # staff number, as the log's records name them.
    (
        re.compile(r"^assigned (?P<n>\d+) tasks to (?P<who>\d+)$"),
        gettext_noop("assigned %(n)s tasks to staff member #%(who)s"),
    ),
    (
        re.compile(
            r"^handed over (?P<n>\d+) tasks and (?P<m>\d+) alerts "
            r"from (?P<source>\d+) to (?P<target>\d+)$"
        ),
        gettext_noop(
            "handed over %(n)s tasks and %(m)s alerts from staff member #%(source)s to "
            "staff member #%(target)s"
        ),
    ),
    (
        re.compile(r"^task (?P<task>\d+): (?P<outcome>\w+) \((?P<classification>[^)]+)\)$"),
        gettext_noop("task %(task)s: %(outcome)s (%(classification)s)"),
    ),
    (
        re.compile(r"^task (?P<task>\d+): (?P<outcome>\w+)$"),
        gettext_noop("task %(task)s: %(outcome)s"),
    ),
    (
        re.compile(r"^record (?P<record>\d+) scored (?P<score>\d+)$"),
        gettext_noop("follow-up record %(record)s scored %(score)s"),
    ),
    (
        re.compile(r"^referred to (?P<code>\S+) \(hand over\)$"),
        gettext_noop("referred to %(code)s, follow-up handed over"),
    ),
    (re.compile(r"^referred to (?P<code>\S+)$"), gettext_noop("referred to %(code)s")),
    (re.compile(r"^referral (?P<referral>\w+)$"), gettext_noop("referral %(referral)s")),
    (
        re.compile(r"^plan stopped: (?P<stop>\w+) \((?P<note>.*)\)$", re.S),
        gettext_noop("plan stopped: %(stop)s (%(note)s)"),
    ),
    (re.compile(r"^plan stopped: (?P<stop>\w+)$"), gettext_noop("plan stopped: %(stop)s")),
)
# The words inside those patterns (a field revealed, a kind of search), translated.
PART_WORDS = {
    "phone": pgettext_lazy("audit part", "phone"),
    "address": pgettext_lazy("audit part", "address"),
    "id_number": pgettext_lazy("audit part", "ID number"),
    "passport": pgettext_lazy("audit part", "passport number"),
    "record_numbers": pgettext_lazy("audit part", "record numbers"),
    "list": pgettext_lazy("audit part", "list"),
    "search by phone-like number": pgettext_lazy("audit part", "search by a phone number"),
    "search by ID-like number": pgettext_lazy("audit part", "search by an ID number"),
    "search by number": pgettext_lazy("audit part", "search by a number"),
    "search by name or text": pgettext_lazy("audit part", "search by name or text"),
}
# What a patient recorded (portal.readings.ReadingForm) and where a questionnaire was
# answered (questionnaires.models.QuestionnaireResponse.Source), as those pages name them.
ENTRY_WORDS = {
    "bp": _("blood pressure"),
    "glucose": _("blood glucose"),
    "weight": _("weight"),
    "steps": _("steps"),
    "staff": _("entered by staff"),
    "patient": _("patient page"),
    "voice": _("voice call"),
}
FILTER_WORDS = {
    "mine": pgettext_lazy("audit filter", "mine"),
    "team": pgettext_lazy("audit filter", "my team's"),
    "organisation": pgettext_lazy("audit filter", "the organisation's"),
    "all": pgettext_lazy("audit filter", "all"),
    "open": pgettext_lazy("audit filter", "open"),
    "resolved": pgettext_lazy("audit filter", "resolved"),
    "verified": pgettext_lazy("audit filter", "verified"),
    "due": pgettext_lazy("audit filter", "due"),
    "today": pgettext_lazy("audit filter", "today"),
    "overdue": pgettext_lazy("audit filter", "overdue"),
    "upcoming": pgettext_lazy("audit filter", "upcoming"),
}


# An alert's steps and statuses (followup.alert_flow.Action, followup.models.Alert.Status),
# as the alert page names them.
ALERT_STEP_WORDS = {
    "acknowledge": _("Acknowledge"),
    "start": _("Start handling"),
    "resolve": _("Resolve"),
    "verify": pgettext_lazy("alert", "Verify"),
    "reopen": _("Send back"),
    "assign": _("Reassign"),
    "note": _("Add a note"),
}
ALERT_STATUS_WORDS = {
    "open": pgettext_lazy("alert status", "open"),
    "acknowledged": pgettext_lazy("alert status", "acknowledged"),
    "in_progress": pgettext_lazy("alert status", "in progress"),
    "resolved": pgettext_lazy("alert status", "resolved"),
    "verified": pgettext_lazy("alert status", "verified"),
}
BOOKING_WORDS = {
    "revisit": pgettext_lazy("booking", "revisit"),
    "consultation": pgettext_lazy("booking", "consultation"),
}
# A follow-up try's outcome (followup.models.Outcome), a referral's status
# (followup.models.Referral.Status) and why a plan stopped, as their pages name them.
OUTCOME_WORDS = {
    "reached": _("reached"),
    "no_answer": _("no answer"),
    "busy": _("busy"),
    "wrong_number": _("wrong number"),
    "refused": _("refused"),
    "deceased": _("deceased"),
}
STOP_WORDS = {  # followup.models.Plan.StopReason
    "deceased": _("deceased"),
    "opted_out": _("opted out"),
    "goal_met": _("goal met"),
    "transferred": _("transferred"),
    "by_staff": _("stopped by staff"),
    "superseded": _("replaced by a more specific pathway"),
    "discharge_undone": _("discharge cancelled"),
    "admission_cancelled": _("admission cancelled"),
    "merged": _("patient records merged"),
}
REFERRAL_WORDS = {
    "pending": _("waiting for the receiving team"),
    "accepted": _("accepted"),
    "declined": _("declined"),
    "cancelled": _("withdrawn"),
}
# Who acted where no staff member did (written as the actor's label).
ACTOR_WORDS = {"patient page": _("patient page")}


SCOPE_WORDS = {
    "org": pgettext_lazy("audit scope", "organisation"),
    "team": pgettext_lazy("audit scope", "team"),
    "person": pgettext_lazy("audit scope", "staff member"),
}


def _summary_part(name: str, value: str) -> str:
    if name == "more":  # ", org 1, team 2": the scope's other parts
        return "".join(
            pgettext("audit scope", ", %(what)s %(id)s")
            % {"what": SCOPE_WORDS.get(what, what), "id": pk}
            for what, pk in re.findall(r", (\w+) (\d+)", value)
        )
    if name == "list":  # a list's English label, its channel first: each part translated
        return " · ".join(gettext(part) for part in value.split(" · "))
    if name in ("field", "search"):
        return str(PART_WORDS.get(value, value))
    if name == "step":
        return str(ALERT_STEP_WORDS.get(value, value))
    if name in ("before", "after"):
        return str(ALERT_STATUS_WORDS.get(value, value))
    if name == "booking":
        return str(BOOKING_WORDS.get(value, value))
    if name == "outcome":
        return str(OUTCOME_WORDS.get(value, value))
    if name == "referral":
        return str(REFERRAL_WORDS.get(value, value))
    if name == "stop":
        return str(STOP_WORDS.get(value, value))
    if name == "classification":  # stored in Chinese, shown in the reader's language
        from careloop.followup.models.plans import classification_label

        return classification_label(value)
    if name in ("kind", "source"):
        return str(ENTRY_WORDS.get(value, value))
    return str(FILTER_WORDS.get(value, value)) if name in ("scope", "status", "section") else value


def summary_label(summary: str) -> str:
    """``summary`` in the reader's language when written as fixed words or in a known
    pattern; as written otherwise."""
    if summary in FIXED_SUMMARIES:
        return gettext(summary)
    for pattern, text in PATTERNED_SUMMARIES:
        found = pattern.match(summary)
        if found:
            parts = {k: _summary_part(k, v) for k, v in found.groupdict().items()}
            return gettext(text) % parts
    return summary


class AuditEvent(models.Model):
    """One access to or change of personal data, or a security event.

    ``patient_id`` is a plain column rather than a foreign key: the log outlives what it
    describes and must not depend on the patients app.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("view")
        LIST = "list", _("list")
        SEARCH = "search", _("search")
        CREATE = "create", _("create")
        UPDATE = "update", _("update")
        DELETE = "delete", _("delete")
        REVEAL = "reveal", _("reveal")
        EXPORT = "export", _("export")
        PRINT = "print", _("print")
        LOGIN = "login", _("log in")
        LOGOUT = "logout", _("log out")
        LOGIN_FAILED = "login_failed", _("failed log-in")

    class Via(models.TextChoices):
        WEB = "web", _("web")
        API = "api", _("API")
        FHIR = "fhir", _("FHIR")
        CLI = "cli", _("command line")
        SYSTEM = "system", _("system")

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("user name"), max_length=150, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    object_type = models.CharField(_("record type"), max_length=50, blank=True)
    object_id = models.CharField(_("record id"), max_length=64, blank=True)
    patient_id = models.BigIntegerField(_("patient"), null=True, blank=True, db_index=True)
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    via = models.CharField(_("channel"), max_length=10, choices=Via.choices, default=Via.WEB)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"], name="audit_actor_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"

    @property
    def object_type_label(self) -> str:
        return str(OBJECT_TYPES.get(self.object_type, self.object_type))

    @property
    def summary_label(self) -> str:
        return summary_label(self.summary)

    @property
    def actor_display(self) -> str:
        """The actor's label, in the reader's language where it is a word of ours."""
        return str(ACTOR_WORDS.get(self.actor_label, self.actor_label))
