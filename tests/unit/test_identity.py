"""居民身份证 check digit and derivation, mobile numbers, masking (pure functions)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careloop.patients import identity

# The GB 11643-1999 example number, and others whose check character is X.
KNOWN_VALID = ["11010519491231002X", "110101199003070011", "320102197001010011"]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_given_known_valid_numbers_when_parsed_then_accepted(number: str) -> None:
    assert identity.parse_id_number(number).number == number


def test_check_digit_x_is_computed_for_a_remainder_of_two() -> None:
    assert identity.id_check_char("11010519491231002") == "X"


def test_lower_case_x_is_accepted_and_normalised() -> None:
    assert identity.parse_id_number("11010519491231002x").number == "11010519491231002X"


def test_birth_date_and_sex_are_derived() -> None:
    resident = identity.parse_id_number("11010519491231002X")
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.sex == "female"  # 17th digit 2 is even
    male = identity.parse_id_number("110101199003070011")
    assert male.birth_date == date(1990, 3, 7)
    assert male.sex == "male"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110101199003070014", "id_check_digit"),
        ("11010119900307001", "id_length"),
        ("1101011990030700145", "id_length"),
        ("11010119900307001A", "id_format"),
        ("010101199003070014", "id_region"),
        ("110101199002300014", "id_birth_date"),  # 30 February
        ("110101189912310015", "id_birth_date"),  # before 1900
    ],
)
def test_given_bad_numbers_when_parsed_then_the_problem_is_named(number: str, code: str) -> None:
    with pytest.raises(identity.IdentifierError) as error:
        identity.parse_id_number(number)
    assert error.value.code == code
    assert number not in str(error.value)  # the message never echoes the identifier


def test_a_birth_date_in_the_future_is_rejected() -> None:
    number = identity.make_id_number("110101", date(2030, 1, 1), 11)
    with pytest.raises(identity.IdentifierError):
        identity.parse_id_number(number, today=date(2026, 11, 23))


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_generated_numbers_round_trip(birth: date, sequence: int) -> None:
    number = identity.make_id_number("320102", birth, sequence)
    resident = identity.parse_id_number(number, today=date(2026, 1, 1))
    assert resident.birth_date == birth
    assert resident.sex == ("male" if sequence % 2 else "female")


@given(st.integers(min_value=0, max_value=16), st.sampled_from("0123456789X"))
def test_changing_one_digit_breaks_the_check(position: int, replacement: str) -> None:
    number = "110101199003070011"
    altered = number[:position] + replacement + number[position + 1 :]
    if altered == number or not altered[:17].isdigit():
        return
    try:
        identity.parse_id_number(altered)
    except identity.IdentifierError:
        return
    pytest.fail("a single changed digit passed the MOD 11-2 check")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 19912345678", "19912345678"),
        ("86 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
    ],
)
def test_mobile_numbers_are_normalised(raw: str, expected: str) -> None:
    assert identity.validate_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12800138000", "1380013800", "138001380001", "1380013800a", "010-12345678"]
)
def test_bad_mobile_numbers_are_rejected(raw: str) -> None:
    with pytest.raises(identity.IdentifierError):
        identity.validate_mobile(raw)


def test_masking() -> None:
    assert identity.mask_id_number("110101199003070014") == "110101********0014"
    assert identity.mask_phone("13812348000") == "138****8000"
    assert identity.mask_passport("E12345678") == "E1*****78"
    assert identity.mask_name("张三") == "张*"
    assert identity.mask_name("欧阳娜娜") == "欧**娜"
    assert identity.mask_id_number("") == ""


def test_age() -> None:
    assert identity.age_on(date(1990, 3, 7), date(2026, 3, 6)) == 35
    assert identity.age_on(date(1990, 3, 7), date(2026, 3, 7)) == 36


def test_full_width_digits_are_the_same_number() -> None:
    # Chinese input methods often type full-width digits: one number, one spelling.
    wide = "１１０１０５１９４９１２３１００２ｘ"
    assert identity.parse_id_number(wide).number == "11010519491231002X"
    assert identity.validate_mobile("１３８ ０００１ ２３４５") == "13800012345"
    assert identity.normalise_phone("１３８０００１２３４５") == identity.normalise_phone(
        "13800012345"
    )


def test_non_ascii_digits_never_pass_as_digits() -> None:
    with pytest.raises(identity.IdentifierError):
        identity.validate_mobile("١٣٨٠٠٠١٢٣٤٥")  # Arabic-Indic digits are not folded to ASCII


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("北京市东城区幸福路18号3单元", "北京市东城区****"),
        ("浙江省杭州市西湖区文三路1号", "浙江省杭州市西湖区****"),
        ("河北省正定县常山路5号", "河北省正定县****"),
        ("上海市徐汇区", "上海市徐汇区"),  # nothing below the district: nothing to hide
        ("深圳市福田路8号", "深圳市****"),  # no district: the city
        ("幸福里8号", "****"),  # neither: nothing shown
        ("石家庄市长安路88号幸福小区5栋302", "石家庄市****"),  # 小区 is no district
        ("长安路88号幸福社区3单元", "****"),
        ("苏州工业园区星湖街328号", "苏州****"),
        ("内蒙古自治区呼和浩特市新城区中山路1号", "内蒙古自治区呼和浩特市新城区****"),
        ("东城区幸福路18号", "东城区****"),
        ("", ""),
    ],
)
def test_an_address_is_masked_below_its_district(address: str, shown: str) -> None:
    assert identity.mask_address(address) == shown


@pytest.mark.parametrize(
    ("birth", "today", "shown"),
    [
        (date(2026, 12, 1), date(2026, 12, 6), "5天"),
        (date(2026, 11, 7), date(2026, 12, 6), "29天"),
        (date(2026, 11, 6), date(2026, 12, 6), "1个月"),
        (date(2026, 1, 7), date(2026, 12, 6), "10个月"),
        (date(2025, 12, 6), date(2026, 12, 6), "1岁"),
        (date(1950, 3, 15), date(2026, 12, 6), "76岁"),
    ],
)
def test_a_babys_age_is_shown_in_days_or_months(birth: date, today: date, shown: str) -> None:
    from django.utils import translation

    with translation.override("zh-hans"):
        assert identity.age_text(birth, today) == shown


# First-generation (一代) numbers: 15 digits, YYMMDD in the 19th century's stead, no check.
def test_a_first_generation_number_is_converted_to_its_18_character_number() -> None:
    resident = identity.parse_id_number("110105491231002")  # the GB 11643-1999 example's
    assert resident.number == "11010519491231002X"
    assert resident.converted_from == "110105491231002"
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.sex == "female"
    assert identity.parse_id_number(" ３２０１０２７００１０１００１ ").sex == "male"


def test_both_forms_of_one_number_normalise_alike() -> None:
    assert identity.normalise_id_number("110105491231002") == "11010519491231002X"
    assert identity.normalise_id_number("11010519491231002x") == "11010519491231002X"
    assert identity.is_first_generation("110105491231002")
    assert not identity.is_first_generation("11010519491231002X")


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110105490230002", "id15_birth_date"),  # 30 February 1949
        ("110105491331002", "id15_birth_date"),  # month 13
        ("11010549123100X", "id15_format"),
        ("010105491231002", "id_region"),
    ],
)
def test_a_bad_first_generation_number_is_refused_naming_why(number: str, code: str) -> None:
    with pytest.raises(identity.IdentifierError) as error:
        identity.parse_id_number(number)
    assert error.value.code == code
    assert number not in str(error.value)


# Landlines (座机): many elderly patients have no mobile.
@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("010-62345678", "010-62345678"),
        ("0755-12345678", "0755-12345678"),
        ("021 6234 5678", "021-62345678"),
        ("(0571)8877334", "0571-8877334"),
        ("01062345678", "010-62345678"),
        ("+86 10 6234 5678", "010-62345678"),
        ("010-62345678转123", "010-62345678转123"),
        ("010-62345678-123", "010-62345678转123"),
        ("０７５５－１２３４５６７８ ext 8001", "0755-12345678转8001"),
    ],
)
def test_a_landline_with_its_area_code_is_accepted_in_one_spelling(
    written: str, stored: str
) -> None:
    assert identity.validate_phone(written) == stored
    assert identity.normalise_phone(written) == identity.normalise_phone(stored)
    assert identity.phone_kind(stored) == ("extension" if "转" in stored else "landline")


def test_a_mobile_stays_as_strict_as_before_and_is_no_landline() -> None:
    assert identity.validate_phone("+86 138 1234 8000") == "13812348000"
    assert identity.phone_kind("13812348000") == "mobile"
    for landline in ("010-62345678", "0755-12345678"):
        with pytest.raises(identity.IdentifierError):
            identity.validate_mobile(landline)
    for wrong in ("1381234800", "12812348000", "138123480001"):
        with pytest.raises(identity.IdentifierError) as error:
            identity.validate_phone(wrong)
        assert error.value.code == "phone_format"  # said as a mobile number mistyped


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("62345678", "landline_area_code"),  # a local number: which city?
        ("6234567", "landline_area_code"),
        ("012-62345678", "phone_or_landline"),  # no such area code
        ("400-123-4567", "phone_or_landline"),
        ("010-6234", "phone_or_landline"),
        ("12345", "phone_or_landline"),
    ],
)
def test_what_is_neither_a_mobile_nor_a_landline_is_refused_naming_why(
    written: str, code: str
) -> None:
    with pytest.raises(identity.IdentifierError) as error:
        identity.validate_phone(written)
    assert error.value.code == code


def test_a_landline_is_masked_keeping_its_area_code_and_dialled_as_digits() -> None:
    assert identity.mask_phone("010-62345678") == "010-****5678"
    assert identity.mask_phone("0571-8877334转12") == "0571-***7334转12"
    assert identity.dialled_digits("0755-12345678") == "075512345678"
    assert identity.dialled_digits("010-62345678转123") == "01062345678"
    assert identity.dialled_digits("13812348000") == "13812348000"
