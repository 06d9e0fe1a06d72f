"""Chinese personal identifiers: resident ID numbers, mobile numbers, masking. Pure functions.

居民身份证 (GB 11643-1999): 6-digit region code, 8-digit birth date, 3-digit sequence whose
last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check character
(0-9 or X).

First-generation numbers (一代身份证, issued until 2004 and still on the records of elderly
patients) have 15 digits: the region code, the birth date as YYMMDD (the century 19
implied), the sequence, no check character. GB 11643-1999 converts one to its 18-character
number by putting "19" before the year and computing the check character: CareLoop keeps,
hashes and matches that number, so both forms of one person's number are one person.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII only: full-width digits from Chinese input methods are folded first (NFKC), so one
# number has one spelling for checking, hashing and duplicate detection.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_ID15_SHAPE = re.compile(r"^[0-9]{15}$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def fold(value: str) -> str:
    """Full-width digits and letters to ASCII (１３８ → 138, ｘ → x), as NFKC does."""
    return unicodedata.normalize("NFKC", value)


class IdentifierError(ValueError):
    """An identifier is malformed. ``code`` names the problem (for translated messages); the
    message says it in Chinese, without echoing the value.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ResidentId:
    number: str
    region: str
    birth_date: date
    sex: str  # "male" | "female"
    # The 15-digit first-generation number ``number`` was converted from, if it was one.
    converted_from: str = ""


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != len(_WEIGHTS):
        raise ValueError("an ID number's check character needs exactly 17 digits")
    return _CHECK_CHARS[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


_SPACE = re.compile(r"\s+")


def _id_spelling(value: str) -> str:
    if value.isascii() and value.isalnum():  # the common case: nothing to fold or strip
        return value.upper()
    return _SPACE.sub("", fold(value)).upper()


def upgrade_id_number(number15: str) -> str:
    """A 15-digit first-generation ID number as its 18-character number (GB 11643-1999):
    110101490307001 → 11010119490307001X ("19" before the year, the check character)."""
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + id_check_char(first17)


def normalise_id_number(value: str) -> str:
    """One spelling per person: ASCII, upper-case, and a 15-digit first-generation number
    as the 18-character number it became (what is stored, hashed and matched)."""
    number = _id_spelling(value)
    if _ID15_SHAPE.match(number):
        return upgrade_id_number(number)
    return number


def is_first_generation(value: str) -> bool:
    """Whether ``value`` is written as a 15-digit first-generation ID number."""
    return bool(_ID15_SHAPE.match(_id_spelling(value)))


def _parse_id15(number: str, today: date | None) -> ResidentId:
    if number[0] == "0":
        raise IdentifierError("id_region", "身份证号的地区码无效")
    try:
        date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError as exc:
        raise IdentifierError("id15_birth_date", "15位（一代）身份证号中的出生日期无效") from exc
    resident = parse_id_number(upgrade_id_number(number), today=today)
    return ResidentId(
        number=resident.number,
        region=resident.region,
        birth_date=resident.birth_date,
        sex=resident.sex,
        converted_from=number,
    )


def parse_id_number(value: str, *, today: date | None = None) -> ResidentId:
    """Validate a resident ID number and derive birth date and sex from it: 18 characters,
    or 15 digits of a first-generation card (converted to its 18-character number, which
    ``number`` is; ``converted_from`` keeps what was written)."""
    number = _id_spelling(value)
    if len(number) == 15:
        if not _ID15_SHAPE.match(number):
            raise IdentifierError("id15_format", "15位（一代）身份证号应全为数字")
        return _parse_id15(number, today)
    if len(number) != 18:
        raise IdentifierError("id_length", "身份证号应为18位（一代身份证为15位）")
    if not _ID_SHAPE.match(number):
        raise IdentifierError("id_format", "身份证号前17位应为数字，最后一位为数字或X")
    if number[0] == "0":
        raise IdentifierError("id_region", "身份证号的地区码无效")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdentifierError("id_birth_date", "身份证号中的出生日期无效") from exc
    if birth.year < 1900 or birth > (today or date.today()):  # noqa: DTZ011 - a calendar date
        raise IdentifierError("id_birth_date", "身份证号中的出生日期无效")
    if id_check_char(number[:17]) != number[17]:
        raise IdentifierError("id_check_digit", "身份证号校验位不正确")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, region=number[:6], birth_date=birth, sex=sex)


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """Build a valid ID number (used for synthetic demo and test data only)."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


# Landlines (座机): a trunk 0 and an area code — 010 Beijing and 020–029 have two digits
# after the 0, every other code three (03xx–09xx); the codes are prefix-free, so the digits
# alone say where the area code ends — then a local number of 7 or 8 digits not starting
# with 0, and perhaps an extension (转123, -123, ext 123).
_LANDLINE = re.compile(r"^(0(?:10|2[0-9]))([1-9][0-9]{7})$|^(0[3-9][0-9]{2})([1-9][0-9]{6,7})$")
_LOCAL = re.compile(r"^[2-9][0-9]{6,7}$")
_EXTENSION = re.compile(r"^(.*?)\s*(?:转|分机|ext\.?|x|#)\s*([0-9]{1,6})$", re.IGNORECASE)


def _landline_parts(value: str) -> tuple[str, str, str] | None:
    """(area code, local number, extension) of a landline, or None when ``value`` is none."""
    text = fold(value).strip()
    extension = ""
    if match := _EXTENSION.match(text):
        text, extension = match.group(1), match.group(2)
    text = re.sub(r"[\s()（）]", "", text)
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip("-")
            text = text if text.startswith("0") else "0" + text
    parts = text.split("-")
    # 010-62345678-123: the last part an extension when the rest is a whole number
    last = parts[-1]
    if not extension and len(parts) > 1 and last.isdigit() and len(last) <= 6:
        whole = "".join(parts[:-1])
        extension, parts = (last, parts[:-1]) if _LANDLINE.match(whole) else ("", parts)
    digits = "".join(parts)
    match = _LANDLINE.match(digits) if digits.isascii() else None
    if not match:
        return None
    area, local = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    return area, local, extension


def is_landline(value: str | None) -> bool:
    """Whether a phone number as stored (``validate_phone``'s) is a landline."""
    return bool(value) and str(value).startswith("0")


def landline_extension(value: str | None) -> str:
    """The extension of a landline as stored ("" when there is none)."""
    return str(value).partition("转")[2] if is_landline(value) else ""


def phone_kind(value: str) -> str:
    """ "mobile", "landline", "extension" (a landline reached through an extension) or ""
    for no phone: what ``Patient.phone_kind`` holds."""
    if not value:
        return ""
    if not is_landline(value):
        return "mobile"
    return "extension" if landline_extension(value) else "landline"


def dialled_digits(value: str) -> str:
    """A phone number as stored, as a provider dials it: a mobile as it is, a landline as
    its area code and number in digits (010-62345678 → 01062345678, without extension)."""
    return value.partition("转")[0].replace("-", "") if is_landline(value) else value


def validate_landline(value: str) -> str:
    """A mainland landline with its area code: "010-62345678", with an extension
    "010-62345678转123"; IdentifierError otherwise (a local number without its area code
    said as such)."""
    parts = _landline_parts(value)
    if parts is None:
        bare = re.sub(r"[\s\-()]", "", fold(value))
        if _LOCAL.match(bare):
            raise IdentifierError("landline_area_code", "座机号码请加上区号，如 010-62345678")
        raise IdentifierError("landline_format", "座机号码应为区号加7-8位号码，如 010-62345678")
    area, local, extension = parts
    return f"{area}-{local}" + (f"转{extension}" if extension else "")


def validate_phone(value: str) -> str:
    """A patient's or contact's phone: a mainland mobile number (as strict as
    ``validate_mobile``), or a landline with its area code (``validate_landline``)."""
    try:
        return validate_mobile(value)
    except IdentifierError as mobile_error:
        bare = normalise_phone(value)
        if bare.startswith("1") and bare.isascii() and bare.isdigit() and len(bare) >= 9:
            raise  # a mobile number mistyped: said as one
        try:
            return validate_landline(value)
        except IdentifierError as exc:
            if exc.code == "landline_area_code":
                raise
            raise IdentifierError(
                "phone_or_landline", "请输入11位手机号，或带区号的座机号码（如 010-62345678）"
            ) from mobile_error


def normalise_phone(value: str) -> str:
    """One spelling per number (for the blind index and lookups): a mobile's 11 digits, a
    landline as ``validate_landline`` writes it (however it was typed)."""
    if (parts := _landline_parts(value)) is not None:
        area, local, extension = parts
        return f"{area}-{local}" + (f"转{extension}" if extension else "")
    digits = re.sub(r"[\s\-()]", "", fold(value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("861"):  # the country code without "+"
        digits = digits[2:]
    return digits


def validate_mobile(value: str) -> str:
    """A mainland mobile number (11 digits starting 13-19); returns the normalised digits."""
    number = normalise_phone(value)
    if not (number.isascii() and number.isdigit()):
        raise IdentifierError("phone_digits", "手机号只能包含数字")
    if not _MOBILE.match(number):
        raise IdentifierError("phone_format", "请输入11位中国大陆手机号（以13-19开头）")
    return number


def normalise_passport(value: str) -> str:
    return re.sub(r"\s+", "", fold(value)).upper()


def validate_passport(value: str) -> str:
    number = normalise_passport(value)
    if not re.match(r"^[A-Z0-9]{5,17}$", number):
        raise IdentifierError("passport_format", "护照号应为5-17位字母或数字")
    return number


def normalise_plain(value: str) -> str:
    return fold(value).strip().upper()


def mask_id_number(value: str | None) -> str:
    """110101199003070014 → 110101********0014."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """13812348000 → 138****8000; a landline 010-62345678转123 → 010-****5678转123."""
    if not value:
        return ""
    if is_landline(value) and "-" in value:
        number, _sep, extension = value.partition("转")
        area, _dash, local = number.partition("-")
        masked = f"{area}-{'*' * max(len(local) - 4, 0)}{local[-4:]}"
        return masked + (f"转{extension}" if extension else "")
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


# The administrative part an address starts with: province (or autonomous region), city
# (prefecture, league), district (county, banner, county-level city); each part short, as
# such names are, and a 区 of 小区, 社区, 院区, 园区 or 街区 is no district.
_ADMINISTRATIVE = re.compile(
    r"^(?:.{1,7}?(?:省|自治区))?"
    r"(?:.{1,5}?(?:市|自治州|州|盟|地区))?"
    r"(?:.{1,4}?(?<![小社院园街])(?:区|县|旗|市))?"
)


def mask_address(value: str | None) -> str:
    """北京市东城区幸福路18号3单元 → 北京市东城区****: the province, city and district the
    address starts with stay (where the patient lives, roughly); the street, estate, building
    and flat are hidden, and all of it when it does not start with them."""
    if not value:
        return ""
    match = _ADMINISTRATIVE.match(value)
    keep = match.group(0) if match else ""
    return value if keep == value else keep + "****"


def mask_passport(value: str | None) -> str:
    if not value:
        return ""
    return value[:2] + "*" * max(len(value) - 4, 1) + value[-2:]


def mask_record_number(value: str | None) -> str:
    """A hospital's record or exam number with at least half of it hidden: ZY2026000123 →
    ZY********23, MZ0012 → M****2; four characters or fewer wholly."""
    if not value:
        return ""
    keep = 2 if len(value) >= 8 else (1 if len(value) >= 5 else 0)
    return value[:keep] + "*" * (len(value) - 2 * keep) + (value[-keep:] if keep else "")


def mask_name(value: str | None) -> str:
    """张三 → 张*, 张三丰 → 张*丰 (for printed and exported lists)."""
    if not value:
        return ""
    if len(value) <= 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def age_text(birth: date, today: date) -> str:
    """The age as staff read it: "72岁"; for a baby "5个月", in the first month "5天" (in the
    reader's language)."""
    from django.utils.translation import gettext

    years = age_on(birth, today)
    if years >= 1:
        return gettext("%(age)s y") % {"age": years}
    months = (today.year - birth.year) * 12 + today.month - birth.month - (today.day < birth.day)
    if months >= 1:
        return gettext("%(months)s mo") % {"months": months}
    return gettext("%(days)s d") % {"days": max((today - birth).days, 0)}
