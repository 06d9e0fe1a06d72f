"""Inviting patients to a health lecture: one message each on a channel they agreed to health
education on (an opt-out, no consent, a landline for SMS or the week's cap keep them out),
at most once per lecture, after their quiet hours, with a link to their pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.care import lecture_invites, lectures
from careloop.care.models import Lecture
from careloop.outreach.followthrough import opt_out
from careloop.outreach.models import Message
from careloop.patients.models import ConsentRecord, PatientTag, Tag

pytestmark = pytest.mark.django_db


def agreed(patient: Any, channel: str = "sms") -> None:
    ConsentRecord.objects.create(
        patient=patient, purpose="education", channel=channel, granted=True, method="written"
    )


def planned(organisation: Any) -> Lecture:
    return Lecture.objects.create(
        organisation=organisation,
        title="高血压的自我管理",
        place="门诊楼三楼会议室",
        starts_at=timezone.now() + timedelta(days=10),
    )


def test_patients_who_agreed_are_invited_once_and_the_others_are_counted_by_why(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    talk = planned(hospital)
    yes = patient_factory(organisation=hospital, name="张秀英", sex="female")
    agreed(yes)
    patient_factory(organisation=hospital)  # never asked
    withdrew = patient_factory(organisation=hospital)
    agreed(withdrew)
    opt_out(withdrew.pk, "sms", "T")
    landline = patient_factory(organisation=hospital, phone="010-62345678")
    agreed(landline)
    seated = patient_factory(organisation=hospital)
    agreed(seated)
    lectures.sign_up(talk, seated)
    chosen = list(lecture_invites.candidates(talk, bob))
    assert seated not in chosen and len(chosen) == 4
    done = lecture_invites.invite(talk, chosen, bob)
    assert done.queued == 1
    assert dict(done.skipped) == {"no_consent": 2, "no_address": 1}
    message = Message.objects.get(patient=yes)
    assert (message.channel, message.purpose, message.to) == ("sms", "lecture_invite", yes.phone)
    assert "高血压的自我管理" in message.body and "门诊楼三楼会议室" in message.body
    assert message.link and message.link in message.body and message.body.endswith("回T退订")
    assert message.body.count("/p/") == 1
    again = lecture_invites.invite(talk, chosen, bob)
    assert again.queued == 0 and again.skipped["invited"] == 1
    assert Message.objects.count() == 1


def test_an_invitation_in_quiet_hours_waits_for_their_end(
    bob: Any, hospital: Any, patient_factory: Any
) -> None:
    now = timezone.localtime()
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    patient = patient_factory(organisation=hospital, quiet_hours_start=start, quiet_hours_end=end)
    agreed(patient)
    lecture_invites.invite(planned(hospital), [patient], bob)
    assert Message.objects.get().next_try_at > timezone.now() + timedelta(minutes=30)


def test_a_supervisor_invites_the_patients_of_a_tag_and_a_nurse_may_not(
    bob: Any, alice: Any, hospital: Any, patient_factory: Any
) -> None:
    talk = planned(hospital)
    tagged, other = patient_factory(organisation=hospital), patient_factory(organisation=hospital)
    for patient in (tagged, other):
        agreed(patient)
    PatientTag.objects.create(patient=tagged, tag=Tag.objects.create(name="高血压"))
    client = Client()
    client.force_login(bob)
    page = client.get(f"/care/lectures/{talk.pk}/", {"invite_tag": "高血压"}).content.decode()
    assert 'data-testid="invite-count"' in page and "1 位" in page
    sent = client.post(f"/care/lectures/{talk.pk}/invite/", {"tag": "高血压"}, follow=True)
    assert "已发出邀请 1 条" in sent.content.decode()
    assert list(Message.objects.values_list("patient_id", flat=True)) == [tagged.pk]
    nurse = Client()
    nurse.force_login(alice)
    assert nurse.post(f"/care/lectures/{talk.pk}/invite/", {"tag": ""}).status_code == 403
