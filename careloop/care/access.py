"""Who may change a patient's health plans, programmes and stage summaries."""

from __future__ import annotations

from django.http import HttpResponse

from careloop.patients.access import get_patient_for
from careloop.typing import AuthedRequest


def refused(request: AuthedRequest, patient_id: int) -> HttpResponse | None:
    """A 403 unless the user may write care records (PermissionDenied when they may see the
    patient but not change them); None when they may."""
    if not request.user.has_perm("care.change_healthplan"):
        return HttpResponse(status=403)
    get_patient_for(request.user, patient_id, write=True)
    return None
