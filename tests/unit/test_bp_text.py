"""A blood pressure sent as one text value under 85354-9 read as its two pressures."""

from datetime import datetime

from django.utils import timezone

from careloop.clinical.assessment import ResultInput
from careloop.clinical.panels import pressures, with_pressures

AT = timezone.make_aware(datetime(2026, 11, 23, 9, 30))


def bp(text: str, **more: str) -> ResultInput:
    return ResultInput("血压", AT, loinc="85354-9", text=text, **more)


def test_a_pair_is_read_as_systolic_and_diastolic() -> None:
    systolic, diastolic = pressures(bp("138/88", local_code="BP", local_system="TJ"))
    assert (systolic.loinc, systolic.value, systolic.unit, systolic.name) == (
        "8480-6",
        138,
        "mmHg",
        "收缩压",
    )
    assert (diastolic.loinc, diastolic.value, diastolic.local_code) == ("8462-4", 88, "")
    assert systolic.observed_at == AT and systolic.text == ""


def test_chinese_writing_and_units_are_read() -> None:
    assert [p.value for p in pressures(bp(" 165／102 mmHg"))] == [165, 102]
    assert [p.value for p in pressures(bp("120/80mm[Hg]"))] == [120, 80]


def test_what_is_not_a_pair_of_pressures_is_left_as_sent() -> None:
    for text in ("88/138", "138/88/70", "正常", "138", "1380/88", ""):
        assert pressures(bp(text)) == [], text
    other = ResultInput("收缩压", AT, loinc="8480-6", text="138/88")
    assert pressures(other) == []
    glucose = ResultInput("血糖", AT, loinc="14749-6", value=5.1)
    assert with_pressures([glucose]) == [glucose]


def test_each_pair_follows_its_panel() -> None:
    glucose = ResultInput("血糖", AT, loinc="14749-6", value=5.1)
    panel = bp("150/95")
    codes = [r.loinc for r in with_pressures([panel, glucose])]
    assert codes == ["85354-9", "8480-6", "8462-4", "14749-6"]


def test_a_pressure_also_sent_alone_is_read_once() -> None:
    """An exam system sending 血压 138/88 and 收缩压 138 and 舒张压 88 at once: each pressure
    is stored once (a second would be a second reading to the rules' 'consecutive')."""
    panel = bp("138/88")
    systolic = ResultInput("收缩压", AT, loinc="8480-6", value=138, unit="mmHg")
    diastolic = ResultInput("舒张压", AT, loinc="8462-4", value=88, unit="mmHg")
    codes = [r.loinc for r in with_pressures([panel, systolic, diastolic])]
    assert sorted(codes) == ["8462-4", "8480-6", "85354-9"]
    # Alone, its diastolic only: the systolic is read from the panel.
    codes = [r.loinc for r in with_pressures([panel, diastolic])]
    assert sorted(codes) == ["8462-4", "8480-6", "85354-9"]
    # Sent alone at another time: a reading of its own, the panel's read too.
    later = ResultInput("收缩压", AT.replace(hour=11), loinc="8480-6", value=150, unit="mmHg")
    assert [r.loinc for r in with_pressures([panel, later])].count("8480-6") == 2


def test_a_pair_sent_in_another_unit_keeps_it() -> None:
    """18.6/11.2 in kPa (some hospitals' unit): its pressures in kPa, not 18.6 mmHg (which
    would be graded low and read by the rules and trends as mmHg)."""
    systolic, diastolic = pressures(bp("18.6/11.2", unit="kPa"))
    assert (systolic.value, systolic.unit, diastolic.unit) == (18.6, "kPa", "kPa")
    assert [p.unit for p in pressures(bp("138/88"))] == ["mmHg", "mmHg"]
