"""Which inbound results the listener marks urgent (a critical value by the shipped
thresholds, in the catalogue's unit or converted to it, or flagged critical by the sender)."""

from careloop.interop.hl7.message import parse
from careloop.interop.hl7.read import read
from careloop.interop.urgency import is_urgent

HEAD = (
    "MSH|^~\\&|LIS|X|||20261123234012||ORU^R01|C1|P|2.4\r"
    "PID|1||MZ1^^^X^MR||王^五||19500315|M\r"
    "OBR|1|O1|R1|BIO^生化^L|||20261123221500\r"
)


def urgent(*obx: str) -> bool:
    return is_urgent(read(parse(HEAD + "".join(o + "\r" for o in obx))))


def test_a_critical_value_by_the_shipped_thresholds() -> None:
    assert urgent("OBX|1|NM|2823-3^钾^LN||6.2|mmol/L|3.5-5.3|||F")  # >= 6.2
    assert not urgent("OBX|1|NM|2823-3^钾^LN||6.1|mmol/L|3.5-5.3|||F")
    assert urgent("OBX|1|NM|2823-3^钾^LN||2.8|mmol/L|3.5-5.3|||F")  # <= 2.8
    assert urgent("OBX|1|NM|6301-6^INR^LN||3.6||0.8-1.2|||F")  # > 3.5
    assert not urgent("OBX|1|NM|6301-6^INR^LN||3.5||0.8-1.2|||F")  # strictly beyond


def test_a_value_in_another_unit_is_converted_first() -> None:
    assert urgent("OBX|1|NM|2345-7^葡萄糖^LN||420|mg/dL|70-110|||F")  # 23.3 mmol/L
    assert not urgent("OBX|1|NM|2345-7^葡萄糖^LN||120|mg/dL|70-110|||F")
    assert not urgent("OBX|1|NM|2823-3^钾^LN||6.9|furlongs|3.5-5.3|||F")  # not readable


def test_the_senders_critical_flag_counts_for_any_code() -> None:
    assert urgent("OBX|1|NM|K^钾^L||6.8|mmol/L|3.5-5.3|HH|||F")
    assert urgent("OBX|1|ST|BC^血培养^L||阳性|||AA|||F")
    assert not urgent("OBX|1|NM|K^钾^L||9.9|mmol/L|3.5-5.3|H|||F")  # a local code: unknown
    assert not urgent("OBX|1|NM|14749-6^葡萄糖^LN||5.1|mmol/L|3.9-6.1|||F")
