"""Grading, reference intervals, critical bounds, unit conversion and assessment."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from careloop.clinical.assessment import Assessment, ResultInput, assess
from careloop.clinical.catalogue import Catalogue, Item, RangeRow
from careloop.clinical.grading import (
    CriticalBounds,
    Interval,
    grade,
    parse_critical,
    parse_interval,
    parse_sender_range,
    reads_positive,
)
from careloop.clinical.reference_data import rows
from careloop.clinical.units import UnitError, canonical_unit, convert

WHEN = datetime(2026, 11, 23, 23, 40, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.9-6.1", Interval(3.9, 6.1)),
        ("3.9~6.1", Interval(3.9, 6.1)),
        ("3.9--6.1", Interval(3.9, 6.1)),
        ("-3.0--1.0", Interval(-3.0, -1.0)),  # was -3.0 to 1.0
        ("-3~3", Interval(-3.0, 3.0)),
        ("-3-+3", Interval(-3.0, 3.0)),
        ("<5.2", Interval(high=5.2, high_inclusive=False)),
        ("≤5.2", Interval(high=5.2)),
        (">1.0", Interval(low=1.0, low_inclusive=False)),
        (">= 1.0", Interval(low=1.0)),
        ("[3.9, 7.8)", Interval(3.9, 7.8, high_inclusive=False)),  # our own notation
        ("[, )", None),
        ("阴性", None),
        ("6.1-3.9", None),
        ("", None),
    ],
)
def test_sender_ranges(text: str, expected: Interval | None) -> None:
    assert parse_sender_range(text) == expected


def test_our_interval_notation() -> None:
    assert parse_interval("[3.9, 6.1)") == Interval(3.9, 6.1, True, False)
    assert parse_interval("(, 85)") == Interval(None, 85, False, False)
    assert parse_interval("[90, )") == Interval(90, None, True, False)
    with pytest.raises(ValueError, match="interval"):
        parse_interval("3.9-6.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.8, "L"),
        (3.9, "N"),
        (6.0, "N"),
        (6.1, "H"),
        (2.8, "LL"),
        (2.81, "L"),
        (22.2, "HH"),
        (22.19, "H"),
    ],
)
def test_fasting_glucose_boundaries(value: float, expected: str) -> None:
    # Normal FPG is [3.9, 6.1) (REFERENCE §4.2); critical at <= 2.8 and >= 22.2 (§4.5).
    result = grade(value, parse_interval("[3.9, 6.1)"), parse_critical("<= 2.8", ">= 22.2"))
    assert result.interpretation == expected


def test_strict_critical_bounds() -> None:
    inr = parse_critical("", "> 3.5")
    assert not inr.is_high(3.5) and inr.is_high(3.51)
    assert grade(3.5, None, inr).interpretation == "N"
    assert grade(3.6, None, inr).threshold == ">3.5"


# Every LOINC code of the REFERENCE.md §4 tables (4.1 vitals, 4.2 glucose, 4.3 lipids, 4.4
# other chemistry), the ones it says are "also seen" included.
REFERENCE_CODES = """
8480-6 8462-4 85354-9 8867-4 8302-2 29463-7 39156-5 8280-0
14771-0 1558-6 2345-7 14749-6 2339-0 15074-8 41653-7 4548-4 17856-6 59261-8
2093-3 14647-2 2089-1 13457-7 18262-6 22748-8 2085-9 14646-4 2571-8 14927-8 43396-1
3084-1 14933-6 1742-6 1920-8 2160-0 14682-9 98979-8 62238-1 48642-3 48643-1 33914-3
3016-3 11580-8 1834-1 2039-6 2823-3 2951-2 718-7 777-3 6690-2 10839-9 89579-7 6598-7
67151-1 6301-6
"""


def test_the_catalogue_has_every_code_of_the_reference() -> None:
    shipped = {code for code, *_ in rows("observation_catalogue.tsv")}
    assert sorted(set(REFERENCE_CODES.split()) - shipped) == []


def test_every_shipped_range_and_critical_value_parses() -> None:
    for _code, _sex, _age_from, _age_to, interval, *_ in rows("reference_ranges.tsv"):
        parse_interval(interval)
    for code, low, high, *flags in rows("critical_values.tsv"):
        # a culture's rule has no bounds: a positive result is critical
        assert parse_critical(low, high) != CriticalBounds() or flags == ["positive"], code


@pytest.mark.parametrize(
    ("code", "value", "unit", "target", "expected"),
    [
        ("2345-7", 90.0, "mg/dL", "mmol/L", 5.0),
        ("2093-3", 200.0, "mg/dL", "mmol/L", 5.18),
        ("2571-8", 150.0, "mg/dL", "mmol/L", 1.695),
        ("2160-0", 1.0, "mg/dL", "µmol/L", 88.4),
        ("3084-1", 7.0, "mg/dl", "umol/L", 416.36),
        ("14682-9", 88.4, "μmol/L", "mg/dL", 1.0),
        ("14749-6", 5.5, "mmol/l", "mmol/L", 5.5),
        ("2823-3", 6.5, "mEq/L", "mmol/L", 6.5),  # one charge: mEq is mmol
        ("2951-2", 140.0, "meq/l", "mmol/L", 140.0),
        ("718-7", 5.5, "g/dL", "g/L", 55.0),  # 1 g/dL is 10 g/L
        # the FHIR vital-signs profile's other units of weight and height, and 斤 and 米
        ("29463-7", 70500.0, "g", "kg", 70.5),
        ("29463-7", 150.0, "[lb_av]", "kg", 68.04),
        ("29463-7", 130.0, "斤", "kg", 65.0),
        ("29463-7", 65.0, "公斤", "kg", 65.0),
        ("8302-2", 1.72, "m", "cm", 172.0),
        ("8302-2", 1.72, "米", "cm", 172.0),
        ("8302-2", 68.0, "[in_i]", "cm", 172.72),
        ("8280-0", 850.0, "mm", "cm", 85.0),
    ],
)
def test_unit_conversion(code: str, value: float, unit: str, target: str, expected: float) -> None:
    assert convert(code, value, unit, target) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("unit", "catalogue_unit"),
    [
        # As laboratory systems print them: superscripts, the micro sign (U+00B5) as well as
        # the Greek mu (U+03BC), × or x before the power of ten.
        ("×10⁹/L", "10*9/L"),
        ("10⁹/L", "10*9/L"),
        ("x10⁹/L", "10*9/L"),
        ("µIU/mL", "mIU/L"),
        ("μIU/mL", "mIU/L"),
        ("mL/min/1.73m²", "mL/min/1.73m2"),
        ("ml/min/1.73m^2", "mL/min/1.73m2"),
        ("mL/min/{1.73_m2}", "mL/min/1.73m2"),  # UCUM
        ("kg/m²", "kg/m2"),
    ],
)
def test_common_spellings_of_a_unit_are_the_catalogues_unit(unit: str, catalogue_unit: str) -> None:
    assert canonical_unit(unit) == canonical_unit(catalogue_unit)


def test_a_white_count_in_superscript_units_is_graded_by_the_critical_values() -> None:
    cat = Catalogue()
    cat.items["6690-2"] = Item("6690-2", "白细胞", "10*9/L", "haematology")
    cat.critical[None] = {("6690-2", ""): parse_critical("<= 2.0", ">= 30")}
    outcome = assess(
        ResultInput(name="白细胞", observed_at=WHEN, loinc="6690-2", value=1.5, unit="×10⁹/L"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=cat,
    )
    assert outcome.fields["interpretation"] == "LL" and outcome.critical


@pytest.mark.parametrize(
    ("value", "comparator", "expected"),
    [
        (3.5, "<", "L"),  # may be 3.4: not every value it allows is critical
        (2.8, "<", "LL"),
        (2.8, "<=", "LL"),
        (2.9, "<=", "L"),
        (25.0, ">", "HH"),
        (22.2, ">=", "HH"),
        (22.0, ">", "H"),  # may be 22.1
        (30.0, "<", ""),  # may be 2 or 20: straddles the interval, not graded
        (1.0, ">", ""),
        (3.9, "<", "L"),  # every value below the interval's low end [3.9
        (6.1, ">=", "H"),  # every value at or above its high end 6.1)
    ],
)
def test_a_censored_value_is_critical_only_when_all_it_allows_is(
    value: float, comparator: str, expected: str
) -> None:
    outcome = assess(
        result(loinc="14749-6", value=value, comparator=comparator, unit="mmol/L"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert outcome.fields["interpretation"] == expected
    assert outcome.critical == (expected in ("LL", "HH"))


@pytest.mark.parametrize(
    ("value", "comparator", "flags", "expected"),
    [
        (5.0, "<", "", "N"),  # HbA1c against the laboratory's "<6.5": all below 5.0 normal
        (6.5, "<", "", "N"),
        (6.5, "<=", "", ""),  # 6.5 itself is high
        (7.0, ">", "", "H"),
        (6.5, ">=", "", "H"),
        (6.0, ">", "", ""),  # 6.1 or 9
        (6.0, ">", "H", "H"),  # the laboratory's flag stands where the value cannot say
    ],
)
def test_a_censored_value_is_graded_by_every_value_it_allows(
    value: float, comparator: str, flags: str, expected: str
) -> None:
    outcome = assess(
        result(
            loinc="4548-4",
            value=value,
            comparator=comparator,
            unit="%",
            flags=flags,
            reference="<6.5",
        ),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert outcome.fields["interpretation"] == expected
    assert (outcome.grade is None) == (expected == "")


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        (0.5, "0-5", "N"),  # below a detection limit, a range from 0: normal (CRP)
        (0.01, "0-0.04", "N"),  # troponin
        (6.0, "0-5", ""),  # may be 3 or 5.5
        (0.5, "", ""),  # no range: nothing says it is normal
        (-1.0, "-3-3", ""),  # a range below 0 (base excess) bounds below: may be -4
    ],
)
def test_below_a_detection_limit_against_a_range_from_zero(
    value: float, reference: str, expected: str
) -> None:
    outcome = assess(
        result(local_code="CRP", value=value, comparator="<", unit="mg/L", reference=reference),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert outcome.fields["interpretation"] == expected


def test_an_unknown_conversion_is_refused() -> None:
    with pytest.raises(UnitError):
        convert("2823-3", 4.0, "mg/dL", "mmol/L")


def catalogue() -> Catalogue:
    cat = Catalogue()
    cat.items["14749-6"] = Item("14749-6", "葡萄糖", "mmol/L", "glucose")
    cat.items["2345-7"] = Item("2345-7", "葡萄糖", "mmol/L", "glucose")
    cat.items["14682-9"] = Item("14682-9", "肌酐", "umol/L", "chemistry")
    cat.ranges["14749-6"] = [RangeRow("any", 0, None, parse_interval("[3.9, 6.1)"))]
    cat.ranges["2345-7"] = cat.ranges["14749-6"]
    cat.ranges["14682-9"] = [
        RangeRow("male", 60, None, parse_interval("[57, 111]")),
        RangeRow("male", 20, 60, parse_interval("[57, 97]")),
    ]
    cat.critical[None] = {
        ("14749-6", ""): parse_critical("<= 2.8", ">= 22.2"),
        ("2345-7", ""): parse_critical("<= 2.8", ">= 22.2"),
    }
    # organisation 7's own list
    cat.critical[7] = {("14749-6", ""): parse_critical("<= 3.0", "")}
    return cat


def result(**fields: object) -> ResultInput:
    return ResultInput(name="葡萄糖", observed_at=WHEN, **fields)  # type: ignore[arg-type]


def test_catalogue_range_applies_when_the_sender_sends_none() -> None:
    outcome = assess(
        result(loinc="14749-6", value=6.4, unit="mmol/L"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert outcome.fields["interpretation"] == "H"
    assert outcome.fields["ref_text"] == "≥3.9 且 <6.1"


def test_the_senders_range_wins_and_is_converted() -> None:
    outcome = assess(
        result(loinc="2345-7", value=126.0, unit="mg/dL", reference="70-110"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    fields = outcome.fields
    assert fields["value_normalised"] == pytest.approx(7.0)
    assert fields["ref_high"] == pytest.approx(110 / 18)
    assert fields["ref_text"] == "70-110" and fields["interpretation"] == "H"


def test_age_and_sex_choose_the_range() -> None:
    cat = catalogue()
    old = assess(
        result(loinc="14682-9", value=105.0, unit="umol/L"),
        sex="male",
        age=65,
        organisation_path="/1/",
        catalogue=cat,
    )
    young = assess(
        result(loinc="14682-9", value=105.0, unit="umol/L"),
        sex="male",
        age=40,
        organisation_path="/1/",
        catalogue=cat,
    )
    assert (old.fields["interpretation"], young.fields["interpretation"]) == ("N", "H")


def test_an_organisations_own_critical_value_replaces_the_default() -> None:
    cat = catalogue()
    mine = assess(
        result(loinc="14749-6", value=2.9, unit="mmol/L"),
        sex="female",
        age=70,
        organisation_path="/7/12/",
        catalogue=cat,
    )
    default = assess(
        result(loinc="14749-6", value=2.9, unit="mmol/L"),
        sex="female",
        age=70,
        organisation_path="/3/",
        catalogue=cat,
    )
    assert mine.critical and mine.grade and mine.grade.threshold == "≤3"
    assert not default.critical and default.fields["interpretation"] == "L"


def test_a_senders_critical_flag_is_kept() -> None:
    outcome = assess(
        result(local_code="K", value=6.0, unit="mmol/L", reference="3.5-5.3", flags="HH"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert outcome.critical and outcome.fields["interpretation"] == "HH"


def test_censored_and_text_values() -> None:
    below = assess(
        result(loinc="14749-6", value=2.0, comparator="<", unit="mmol/L"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    # Every value below 2.0 is at or below the critical 2.8.
    assert below.fields["interpretation"] == "LL" and below.critical
    assert below.grade is not None and below.grade.threshold == "≤2.8"
    text = assess(
        result(local_code="HBSAG", text="阳性", flags="A"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert text.fields["value_type"] == "text" and text.fields["interpretation"] == "A"
    plain = assess(
        result(local_code="X", text="见附件"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=catalogue(),
    )
    assert plain.fields["interpretation"] == "" and plain.grade is None


def test_a_laboratorys_own_range_text_is_kept_and_ours_is_read_out() -> None:
    def shown(reference: str, unit: str, value: float) -> str:
        outcome = assess(
            result(loinc="14749-6", value=value, unit=unit, reference=reference),
            sex="male",
            age=50,
            organisation_path="/1/",
            catalogue=catalogue(),
        )
        return str(outcome.fields["ref_text"])

    assert shown("(70-110)", "mg/dL", 100) == "(70-110)"  # theirs, as sent
    assert shown("[70,140)", "mg/dL", 100) == "[70,140)"  # theirs, in their unit
    assert shown("[3.9, 7.8)", "mmol/L", 7.5) == "≥3.9 且 <7.8"  # ours, read out


@pytest.mark.parametrize(
    ("text", "positive"),
    [
        ("阳性", True),
        ("+", True),
        ("大肠埃希菌", True),
        ("Staphylococcus aureus", True),
        ("革兰阴性杆菌", True),  # Gram-negative rods: something grew
        ("革兰阳性球菌，待鉴定", True),
        ("检出肺炎克雷伯菌", True),
        ("凝固酶阴性葡萄球菌", True),  # the commonest blood-culture isolate
        ("Coagulase-negative Staphylococcus", True),
        ("阳性，待鉴定", True),
        ("大肠埃希菌，药敏待报", True),
        ("Escherichia coli, susceptibility to follow", True),
        ("需氧瓶阳性，厌氧瓶阴性", True),
        ("肺炎克雷伯菌（ESBL阴性）", True),
        ("大肠埃希菌，未检出其他致病菌", True),
        ("Staphylococcus aureus; no other organisms isolated", True),
        ("Staphylococcus aureus isolated. Susceptibility to follow.", True),
        ("Aerobic bottle flagged positive at 18h. Anaerobic bottle no growth.", True),
        ("Yeast seen - identification pending", True),
        ("Growth of E. coli. No anaerobes isolated.", True),
        ("大肠埃希菌 药敏结果待出", True),
        ("需氧瓶报阳 厌氧瓶未生长", True),
        ("需氧瓶报阳待鉴定", True),
        ("大肠埃希菌ESBL阴性", True),
        ("Staphylococcus aureus MRSA negative", True),
        ("木糖氧化无色杆菌生长", True),
        ("无乳链球菌生长", True),
        ("考虑污染", True),
        ("墨汁染色找到新型隐球菌", True),
        ("培养5天，无细菌生长", False),
        ("No growth (5 days)", False),
        ("阴性（需氧+厌氧）", False),
        ("需氧瓶(-)、厌氧瓶(-)", False),
        ("未检出需氧菌、厌氧菌及真菌", False),
        ("没有细菌生长", False),
        ("抗酸染色未找到抗酸杆菌", False),
        ("48小时无细菌生长，继续培养", False),
        ("Incubating", False),
        ("标本不合格，请重新送检", False),
        ("未见革兰阴性杆菌", False),
        ("Gram stain: no organisms seen", False),
        ("Sterile after 5 days of incubation", False),
        ("无", False),
        ("阴性", False),
        ("无细菌生长", False),
        ("培养5天无细菌生长", False),
        ("未见细菌生长", False),
        ("No growth at 48 hours", False),
        ("Negative", False),
        ("-", False),
        ("（-）", False),
        ("未检出", False),
        ("待报告", False),
        ("培养中", False),
        ("pending", False),
        ("", False),
        ("无致病菌生长", False),
        ("无需氧菌及厌氧菌生长", False),
        ("未分离出病原菌", False),
        ("No organisms isolated", False),
        ("正常", False),
        ("报告未出", False),
    ],
)
def test_reading_a_qualitative_result(text: str, positive: bool) -> None:
    assert reads_positive(text) is positive


def groups_catalogue() -> Catalogue:
    cat = Catalogue()
    cat.items["14631-6"] = Item("14631-6", "总胆红素", "umol/L", "chemistry")
    cat.items["1742-6"] = Item("1742-6", "丙氨酸氨基转移酶", "U/L", "chemistry")
    cat.items["600-7"] = Item("600-7", "血培养", "", "microbiology")
    cat.ranges["1742-6"] = [RangeRow("any", 18, None, parse_interval("[9, 50]"))]
    cat.critical[None] = {
        ("14631-6", "neonate"): parse_critical("", ">= 340"),
        ("1742-6", ""): CriticalBounds(high=300, first_only=True),
        ("600-7", ""): CriticalBounds(positive=True),
    }
    return cat


def test_a_newborns_critical_value_applies_in_the_first_28_days() -> None:
    def bilirubin(days_old: int | None) -> Assessment:
        return assess(
            result(loinc="14631-6", value=350.0, unit="umol/L"),
            sex="female",
            age=0,
            organisation_path="/1/",
            catalogue=groups_catalogue(),
            days_old=days_old,
        )

    assert bilirubin(0).critical and bilirubin(27).critical
    assert not bilirubin(28).critical and not bilirubin(None).critical


def test_a_first_only_critical_value_is_marked_for_the_caller() -> None:
    def alt(value: float, flags: str = "") -> Assessment:
        return assess(
            result(loinc="1742-6", value=value, unit="U/L", flags=flags),
            sex="male",
            age=50,
            organisation_path="/1/",
            catalogue=groups_catalogue(),
        )

    assert alt(300).critical and alt(300).first_only
    assert not alt(299).critical and not alt(299).first_only
    assert alt(900, "HH").critical and not alt(900, "HH").first_only  # the laboratory's call


def test_a_positive_culture_is_critical() -> None:
    def culture(text: str) -> Assessment:
        return assess(
            result(loinc="600-7", text=text),
            sex="male",
            age=50,
            organisation_path="/1/",
            catalogue=groups_catalogue(),
        )

    grown = culture("铜绿假单胞菌")
    assert grown.critical and grown.fields["interpretation"] == "A"  # not a "high" value
    assert grown.grade is not None and grown.grade.threshold == "阳性"
    assert not culture("无细菌生长").critical


@pytest.mark.parametrize(
    ("comparator", "text", "shown"),
    [(">", ">30", ">30 mmol/L"), (">", "30", ">30 mmol/L"), ("", "5.6", "5.6 mmol/L")],
)
def test_a_censored_value_shows_its_comparator_once(comparator: str, text: str, shown: str) -> None:
    from careloop.clinical.models import Observation

    result = Observation(
        value_type="numeric", value=30.0, comparator=comparator, value_text=text, unit="mmol/L"
    )
    assert result.display_value == shown


def shipped_catalogue() -> Catalogue:
    """The shipped catalogue and default critical values (data/*.tsv), without the database."""
    cat = Catalogue()
    for code, name, name_en, category, unit, *_ in rows("observation_catalogue.tsv"):
        cat.items[code] = Item(code, name, unit, category, name_en)
    cat.critical[None] = {}
    for code, low, high, *rest in rows("critical_values.tsv"):
        flags = set(rest[0].split(",")) - {""} if rest else set()
        group = next(iter(flags & {"neonate", "haematology"}), "")
        bounds = parse_critical(low, high)
        cat.critical[None][(code, group)] = CriticalBounds(
            bounds.low,
            bounds.high,
            bounds.low_inclusive,
            bounds.high_inclusive,
            positive="positive" in flags,
            first_only="first" in flags,
        )
    return cat


@pytest.mark.parametrize(
    ("code", "low", "high"),
    [
        # REFERENCE §4.5, the items with one default threshold ("Low ≤ / High ≥").
        ("2823-3", "<= 2.8", ">= 6.2"),  # K⁺
        ("2951-2", "<= 120", ">= 160"),  # Na⁺
        ("1994-3", "<= 0.78", ">= 1.58"),  # ionised Ca
        ("6301-6", "", "> 3.5"),  # INR
        ("2744-1", "<= 7.20", ">= 7.60"),  # pH
        ("2703-7", "< 45", ""),  # PaO₂ (mmHg)
    ],
)
def test_the_default_critical_values_are_the_references(code: str, low: str, high: str) -> None:
    assert shipped_catalogue().critical[None][(code, "")] == parse_critical(low, high)


@pytest.mark.parametrize(
    ("code", "value", "unit", "interpretation"),
    [
        # REFERENCE §4.5 gives the blood-gas limits in kPa too: PaO₂ <45 mmHg (6 kPa),
        # PaCO₂ <20 mmHg (2.66 kPa) and >70 mmHg (9.33 kPa). 1 kPa = 760/101.325 mmHg.
        ("2703-7", 5.9, "kPa", "LL"),  # 44.25 mmHg
        ("2703-7", 6.0, "kPa", "N"),  # 45.0 mmHg: not below 45
        ("2019-8", 2.6, "kPa", "LL"),  # 19.5 mmHg
        ("2019-8", 9.4, "kPa", "HH"),  # 70.5 mmHg
        ("2019-8", 9.3, "kPa", "N"),  # 69.8 mmHg
        ("2019-8", 5.3, "kPa", "N"),
    ],
)
def test_a_blood_gas_in_kpa_is_graded_by_the_critical_values(
    code: str, value: float, unit: str, interpretation: str
) -> None:
    outcome = assess(
        result(loinc=code, value=value, unit=unit),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=shipped_catalogue(),
    )
    assert outcome.fields["unit_normalised"] == "mmHg"
    assert outcome.fields["interpretation"] == interpretation
    assert outcome.critical == (interpretation in ("LL", "HH"))


@pytest.mark.parametrize(
    ("code", "value", "unit", "interpretation"),
    [
        # An INR and a pH are unitless; laboratories write "INR" and "pH" for them (REFERENCE
        # §4.5: INR >3.5, pH ≤7.20 / ≥7.60 are critical).
        ("6301-6", 5.0, "INR", "HH"),
        ("6301-6", 3.5, "INR", "N"),
        ("2744-1", 7.1, "pH", "LL"),
        ("2744-1", 7.65, "PH", "HH"),
    ],
)
def test_an_inr_or_a_ph_written_with_its_name_as_unit_is_graded(
    code: str, value: float, unit: str, interpretation: str
) -> None:
    outcome = assess(
        result(loinc=code, value=value, unit=unit),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=shipped_catalogue(),
    )
    assert outcome.fields["unit_normalised"] != ""
    assert outcome.fields["interpretation"] == interpretation
    assert outcome.critical == (interpretation in ("LL", "HH"))


@pytest.mark.parametrize(
    ("code", "value", "unit", "interpretation"),
    [
        # 10³/µL is 10⁹/L: REFERENCE §4.5 WBC ≤2.0, PLT ≤30 and ≥1000 ×10⁹/L.
        ("6690-2", 1.5, "10*3/uL", "LL"),
        ("6690-2", 1.5, "10^3/µL", "LL"),
        ("777-3", 20.0, "x10³/μL", "LL"),
        ("777-3", 1200.0, "K/uL", "HH"),
    ],
)
def test_a_count_in_thousands_per_microlitre_is_graded_by_the_critical_values(
    code: str, value: float, unit: str, interpretation: str
) -> None:
    outcome = assess(
        result(loinc=code, value=value, unit=unit),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=shipped_catalogue(),
    )
    assert outcome.fields["unit_normalised"] == "10*9/L"
    assert outcome.fields["interpretation"] == interpretation
    assert outcome.critical


@pytest.mark.parametrize(
    ("code", "value", "interpretation"),
    [
        # Calcium in mg/dL (molar mass 40.08: 1 mmol/L is 4.008 mg/dL) against REFERENCE §4.5's
        # mmol/L limits: total Ca ≤1.75 / ≥3.5, ionised Ca ≤0.78 / ≥1.58.
        ("2000-8", 6.8, "LL"),  # 1.70 mmol/L
        ("2000-8", 14.5, "HH"),  # 3.62 mmol/L
        ("2000-8", 9.5, "N"),  # 2.37 mmol/L
        ("1994-3", 3.0, "LL"),  # 0.75 mmol/L
        ("1994-3", 6.5, "HH"),  # 1.62 mmol/L
    ],
)
def test_a_calcium_in_mg_per_dl_is_graded_by_the_critical_values(
    code: str, value: float, interpretation: str
) -> None:
    outcome = assess(
        result(loinc=code, value=value, unit="mg/dL"),
        sex="male",
        age=50,
        organisation_path="/1/",
        catalogue=shipped_catalogue(),
    )
    assert outcome.fields["unit_normalised"] == "mmol/L"
    assert outcome.fields["interpretation"] == interpretation
