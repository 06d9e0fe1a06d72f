"""What the patient-page tests share: a patient of the hospital with the shipped
questionnaires loaded."""

from typing import Any

import pytest

from careloop.questionnaires.services import load_pack


@pytest.fixture
def patient(hospital: Any, patient_factory: Any) -> Any:
    load_pack()
    return patient_factory(organisation=hospital, name="孙桂兰", sex="female")
