"""DOMAIN F5's 术后 from procedures: an operation recorded (the patient page here; HL7 PR1
in test_hl7_procedures, FHIR Procedure in test_fhir_procedures) tags the patient for 30
days; the ``procedure`` rule condition is checked and explains itself."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.clinical.models import Procedure
from careloop.rules.conditions import Facts, RuleError, compile_condition
from careloop.rules.engine import sweep
from careloop.rules.pack import load_pack
from tests.factories import PatientFactory
from tests.test_patients_web import logged_in


@pytest.fixture
def pack(db: None) -> None:
    load_pack()


def _tags(patient: Any) -> set[str]:
    return set(patient.tags.values_list("tag__name", flat=True))


def _add(user: Any, patient: Any, **fields: str) -> Any:
    data = {
        "code_system": "ICD-9-CM-3",
        "code": "81.5400",
        "name": "",
        "performed_at": timezone.localtime(timezone.now() - timedelta(days=2)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        "status": "completed",
        "note": "",
        **fields,
    }
    return logged_in(user).post(f"/patients/{patient.pk}/record/procedure/add/", data)


def test_an_operation_entered_on_the_patient_page_tags_for_thirty_days(
    pack: None, carol: Any, cardiology: Any
) -> None:
    patient = PatientFactory(organisation=cardiology)
    page = _add(carol, patient, name="全膝关节置换术")
    assert page.status_code == 302, page.content.decode()[:2000]
    knee = Procedure.objects.get(patient=patient)
    assert (knee.code_system, knee.is_surgery, knee.source) == ("ICD-9-CM-3", True, "manual")
    assert knee.organisation_id == cardiology.pk and knee.recorded_by == carol
    assert "术后" in _tags(patient)
    shown = logged_in(carol).get(f"/patients/{patient.pk}/").content.decode()
    assert "81.5400" in shown and "全膝关节置换术" in shown
    assert sweep(now=timezone.now() + timedelta(days=20)) == 0
    assert sweep(now=timezone.now() + timedelta(days=29)) == 1
    assert "术后" not in _tags(patient)


def test_a_procedure_that_is_no_operation_or_is_old_does_not_tag(
    pack: None, carol: Any, cardiology: Any
) -> None:
    patient = PatientFactory(organisation=cardiology)
    assert _add(carol, patient, code="87.44", name="胸部X线检查").status_code == 302
    old = timezone.localtime(timezone.now() - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M")
    assert _add(carol, patient, code="36.0601", name="支架", performed_at=old).status_code == 302
    assert [p.is_surgery for p in Procedure.objects.filter(patient=patient)] == [False, True]
    assert "术后" not in _tags(patient)


def test_the_form_refuses_a_bad_code_and_a_date_to_come(carol: Any, cardiology: Any) -> None:
    patient = PatientFactory(organisation=cardiology)
    soon = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert _add(carol, patient, code="ABC").status_code == 200
    assert _add(carol, patient, performed_at=soon).status_code == 200
    assert not Procedure.objects.exists()


def test_the_procedure_condition_is_checked_and_explains_itself() -> None:
    for bad, where in (
        ({"kind": "procedure"}, "condition.days"),
        ({"kind": "procedure", "days": 30, "surgery": "yes"}, "condition.surgery"),
        ({"kind": "procedure", "days": 30, "prefix": [""]}, "condition.prefix"),
    ):
        with pytest.raises(RuleError) as error:
            compile_condition(bad)
        assert error.value.path == where
    now = timezone.now()
    facts = Facts(
        now=now,
        procedures=(
            (now - timedelta(days=3), "87.44", False),
            (now - timedelta(days=5), "36.06", True),
        ),
    )
    operated = compile_condition({"kind": "procedure", "days": 30}).evaluate(facts)
    assert operated.matched
    assert "36.06" in " ".join(operated.reasons)
    assert not compile_condition({"kind": "procedure", "days": 4}).evaluate(facts).matched
    anything = {"kind": "procedure", "days": 4, "surgery": False}
    assert compile_condition(anything).evaluate(facts).matched
    under = {"kind": "procedure", "days": 30, "prefix": ["81"]}
    assert not compile_condition(under).evaluate(facts).matched


def test_a_dry_run_of_the_post_operative_rule_finds_an_operation(
    pack: None, cardiology: Any
) -> None:
    """A diagnosis rule is replayed at each procedure too, as at each diagnosis."""
    from careloop.rules.engine import compile_rule, dry_run
    from careloop.rules.models import Rule

    patient = PatientFactory(organisation=cardiology)
    Procedure.objects.create(
        patient=patient,
        code="51.2300",
        name="腹腔镜下胆囊切除术",
        is_surgery=True,
        performed_at=timezone.now() - timedelta(days=3),
    )
    rule = compile_rule(Rule.objects.get(code="post-operative-tag"))
    [match] = dry_run(rule, days=10)
    assert match.patient_id == patient.pk
    assert not dry_run(rule, days=2)  # the operation was before the period


def test_save_sent_twice_records_the_procedure_once(carol: Any, cardiology: Any) -> None:
    patient = PatientFactory(organisation=cardiology)
    first = _add(carol, patient, code="36.0601", name="支架")
    again = _add(carol, patient, code="36.0601", name="支架")  # Save tapped twice
    assert first.status_code == again.status_code == 302
    assert Procedure.objects.filter(patient=patient).count() == 1
    later = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert _add(carol, patient, code="36.0601", performed_at=later).status_code == 302
    assert Procedure.objects.filter(patient=patient).count() == 2
