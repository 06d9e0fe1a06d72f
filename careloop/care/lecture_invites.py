"""Inviting patients to a health lecture (健康宣教): one message each, on a channel they agreed
to health education on, with a link to their pages where they sign up.

Who: the patients the user may change, of the organisation holding the lecture and those
below it, with a tag if one is chosen, not signed up already, alive. Each is invited at most
once per lecture (the message's idempotency key). Before each: consent for health
education on the channel (an opt-out withdraws it), an address on it (SMS: a mobile, never a
landline), the week's message cap, an approved template where the provider sends only
those; quiet hours move the send to their end. The dispatch job sends the messages."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from careloop.audit.services import record
from careloop.care.models import Lecture
from careloop.outreach.compose import TemplateError, compose, context_for, template_for
from careloop.outreach.config import channel_config
from careloop.outreach.models import ChannelAddress, Message
from careloop.outreach.models.channels import LECTURE_INVITE
from careloop.outreach.policy import after_quiet_hours, consents, sent_this_week
from careloop.outreach.queueing import hospital_name
from careloop.patients.access import patients_for
from careloop.patients.models import ConsentRecord, Patient
from careloop.portal.links import MAX_DAYS, link_path, make_token

# The channels a written invitation goes on, in the order tried after the patient's own.
CHANNELS = ("wechat", "sms", "app", "wecom", "email")
MOST = 5000  # patients invited at once


@dataclass
class Invited:
    queued: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def candidates(lecture: Lecture, user: Any, tag: str = "") -> QuerySet[Patient]:
    rows = patients_for(user, write=True).filter(
        organisation__path__startswith=lecture.organisation.path, deceased_on__isnull=True
    )
    if tag:
        rows = rows.filter(tags__tag__name=tag)
    seated = lecture.seats.filter(cancelled_at__isnull=True).values("patient_id")
    return rows.exclude(pk__in=seated).order_by("pk")


def _agreed(patient_ids: list[int]) -> set[tuple[int, str]]:
    """(patient, channel) where the patient's latest answer on health education is yes."""
    education = ConsentRecord.Purpose.EDUCATION
    return {
        (patient_id, channel)
        for channel in CHANNELS
        for patient_id, granted in consents(patient_ids, channel, education).items()
        if granted
    }


def _addresses(patients: list[Patient]) -> dict[tuple[int, str], str]:
    found = {(p.pk, "sms"): p.phone for p in patients if p.phone and p.phone_kind == "mobile"}
    rows = ChannelAddress.objects.filter(patient_id__any_of=[p.pk for p in patients])
    for row in rows:
        if row.address:
            found[(row.patient_id, row.channel)] = row.address
    return found


def invite(lecture: Lecture, patients: list[Patient], by: Any) -> Invited:
    done = Invited()
    now = timezone.now()
    local = timezone.localtime(now)
    ids = [p.pk for p in patients]
    agreed, addresses = _agreed(ids), _addresses(patients)
    counts = {c: sent_this_week(ids, c, now) for c in CHANNELS}
    hospitals: dict[int, str] = {}
    configs: dict[tuple[int, str], Any] = {}
    templates: dict[tuple[int, str], Any] = {}
    # The link opens the patient's pages until the day after the lecture.
    days = max(1, min(MAX_DAYS, (lecture.starts_at - now).days + 2))
    lecture_vars = {
        "lecture_title": lecture.title,
        "lecture_time": f"{timezone.localtime(lecture.starts_at):%m月%d日 %H:%M}",
        "lecture_place": lecture.place,
    }
    for patient in patients:
        order = [patient.preferred_channel, *CHANNELS]
        usable = [c for c in dict.fromkeys(order) if c in CHANNELS and (patient.pk, c) in addresses]
        if not usable:
            done.skipped["no_address"] += 1
            continue
        channel = next((c for c in usable if (patient.pk, c) in agreed), "")
        if not channel:
            done.skipped["no_consent"] += 1
            continue
        where = (patient.organisation_id, channel)
        if where not in configs:
            configs[where] = channel_config(patient.organisation_id, channel)
            templates[where] = template_for(patient.organisation, LECTURE_INVITE, channel)
        config = configs[where]
        if counts[channel].get(patient.pk, (0, None))[0] >= config.weekly_cap:
            done.skipped["cap"] += 1
            continue
        link = settings.CARELOOP_PUBLIC_URL + link_path(make_token(patient.pk, "home", days=days))
        hospital = hospital_name(patient.organisation_id, hospitals)
        context = context_for(patient, None, hospital, link, local) | lecture_vars
        try:
            words = compose(templates[where], LECTURE_INVITE, channel, context)
        except TemplateError:
            done.skipped["template"] += 1
            continue
        if not words.sendable_by(config.provider):
            done.skipped["template"] += 1
            continue
        _message, created = Message.objects.get_or_create(
            key=f"lecture:{lecture.pk}:{patient.pk}",
            defaults={
                "organisation_id": patient.organisation_id,
                "patient": patient,
                "channel": channel,
                "provider": config.provider,
                "purpose": LECTURE_INVITE,
                "to": addresses[(patient.pk, channel)],
                "subject": words.subject,
                "body": words.text,
                "template_code": words.template_code,
                "params": words.params,
                "keys": words.keys,
                "link": link,
                "next_try_at": after_quiet_hours(patient, now, local) or now,
            },
        )
        if created:
            done.queued += 1
        else:
            done.skipped["invited"] += 1
    record(
        by,
        "create",
        "lecture",
        lecture.pk,
        summary=f"lecture invitations: {done.queued} queued, {sum(done.skipped.values())} not",
    )
    return done
