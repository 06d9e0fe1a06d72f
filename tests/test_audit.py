"""The audit log page: who may read it, and what each reader sees."""

from typing import Any

from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.audit.services import record


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_nurses_cannot_read_the_audit_log(alice: Any) -> None:
    assert logged_in(alice).get("/audit/").status_code == 403


def test_a_supervisor_sees_their_organisations_events_only(
    alice: Any, bob: Any, dave: Any, patient_factory: Any
) -> None:
    mine = patient_factory(organisation=alice.organisation)
    theirs = patient_factory(organisation=dave.organisation)
    record(alice, "reveal", "patient", mine.pk, patient_id=mine.pk, summary="revealed phone")
    record(dave, "view", "patient", theirs.pk, patient_id=theirs.pk)
    page = logged_in(bob).get("/audit/").content.decode()
    assert "alice" in page and "查看完整手机号" in page  # "revealed phone", in the page's language
    assert "dave" not in page


def test_filters_by_action_user_and_card(alice: Any, bob: Any, patient_factory: Any) -> None:
    one = patient_factory(organisation=alice.organisation)
    two = patient_factory(organisation=alice.organisation)
    record(alice, "reveal", "patient", one.pk, patient_id=one.pk)
    record(alice, "view", "patient", two.pk, patient_id=two.pk)
    client = logged_in(bob)
    by_action = client.get("/audit/", {"action": "reveal"}).context["page"]
    assert [e.patient_id for e in by_action] == [one.pk]
    by_card = client.get("/audit/", {"card": two.formatted_card_number}).context["page"]
    assert [e.patient_id for e in by_card] == [two.pk]
    by_user = client.get("/audit/", {"user": "bob"}).context["page"]
    assert all(e.actor_label == "bob" for e in by_user)


def test_events_record_where_they_came_from(alice: Any, patient_factory: Any) -> None:
    patient = patient_factory(organisation=alice.organisation)
    Client(REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="TestBrowser/1.0")
    client = Client(HTTP_USER_AGENT="TestBrowser/1.0", REMOTE_ADDR="10.1.2.3")
    client.force_login(alice)
    client.get(f"/patients/{patient.pk}/")
    event = AuditEvent.objects.get(action="view")
    assert (event.ip, event.user_agent, event.via) == ("10.1.2.3", "TestBrowser/1.0", "web")
    assert event.organisation_id == alice.organisation_id


def test_the_source_column_is_named_apart_from_the_start_date(bob: Any) -> None:
    """ "From" of the date filter is 起始; the column saying where a request came from 来源."""
    record(bob, "view", "patient", 1, summary="viewed")
    page = logged_in(bob).get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    header = page.split('data-testid="audit-table"', 1)[1].split("</thead>", 1)[0]
    assert header.count("<th scope") == 7 and ">来源</th>" in header and "起始" not in header


def test_what_an_event_concerns_is_named_in_the_readers_language(
    alice: Any, bob: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=alice.organisation)
    record(alice, "view", "observation", 7, patient_id=patient.pk)
    record(alice, "view", "something_new", 8, patient_id=patient.pk)
    record(alice, "login", summary="wrong two-factor code")
    record(alice, "view", "patient", patient.pk, summary="trend 14749-6")
    page = logged_in(bob).get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "结果 #7" in page and "observation #7" not in page
    assert "something_new #8" in page  # a kind the page has no name for is shown as stored
    assert "两步验证码错误" in page and "wrong two-factor code" not in page
    assert "trend 14749-6" in page  # a summary with figures in it is shown as written
