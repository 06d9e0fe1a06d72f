"""FHIR Questionnaire and QuestionnaireResponse ← CareLoop questionnaires (F10).

Questionnaire: read, search (``url``, ``url|version``, ``name``, ``status``), create and
update — a created or changed Questionnaire is saved as a new version (scoring travels in the
CareLoop extension; one from elsewhere is saved without scores, and keeps its canonical
``url`` and ``version``: the same URL again is a new version of it, a version already saved
with other questions or a code taken by another URL is 409). Needs the permission to change
questionnaires. QuestionnaireResponse: read, search (``patient``, ``questionnaire``), create —
the answers are checked, scored and acted on as if entered by staff (flags raise an alert,
the questionnaire rules run); an answer that does not fit names its ``linkId``.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import QueryDict
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)

from careloop.interop.fhir.base import (
    Handler,
    References,
    fhir_datetime,
    patient_filter,
    require_permission,
    status_filter,
)
from careloop.interop.fhir.outcome import FhirError, issue
from careloop.interop.times import in_the_future
from careloop.patients.access import patients_for
from careloop.questionnaires.access import usable_for, visible_to
from careloop.questionnaires.definition import AnswerError, DefinitionError
from careloop.questionnaires.fhir import (
    CANONICAL,
    answers_from_response,
    canonical_of,
    from_questionnaire,
    to_response,
)
from careloop.questionnaires.models import (
    Questionnaire,
    QuestionnaireResponse,
    QuestionnaireVersion,
)
from careloop.questionnaires.services import (
    Conflict,
    as_fhir,
    by_canonical,
    definition_of,
    do_save_questionnaire,
    submit,
)
from careloop.said import gettext_noop

QUESTIONNAIRE_REFERENCE = re.compile(r"(?:.*/)?Questionnaire/([0-9]{1,18})")

# Questionnaire.status (FHIR publication status) → ours; "unknown" is taken as in use.
STATUSES = {**{s: s for s in Questionnaire.Status.values}, "unknown": "active"}

# A definition's path (items[0].options[1].value) as the Questionnaire's (item[0].answerOption[1]
# .value): what a FHIR client sent has the second names.
_FHIR_NAMES = [
    (re.compile(r"^questionnaire\.code\b"), "name"),
    (re.compile(r"^questionnaire\.intro\b"), "description"),
    (re.compile(r"^questionnaire\.?"), ""),
    (re.compile(r"^items\b"), "item"),
    (re.compile(r"^(scoring|flags|nps|assessment)\b.*"), "extension"),
    (re.compile(r"\.options\b"), ".answerOption"),
    (re.compile(r"\.key\b"), ".linkId"),
    (re.compile(r"\.max_length\b"), ".maxLength"),
    (re.compile(r"\.rows\b"), ".item"),
    (re.compile(r"\.enable_when\b"), ".enableWhen"),
]


def fhir_path(path: str) -> str:
    """``Questionnaire.<path>`` of a ``DefinitionError``'s path."""
    for pattern, name in _FHIR_NAMES:
        path = pattern.sub(name, path)
    return f"Questionnaire.{path}" if path else "Questionnaire"


def _definition_error(error: DefinitionError) -> FhirError:
    path = fhir_path(error.path)
    if isinstance(error, Conflict):
        return FhirError(409, f"{path}: {error.message}", code="duplicate", expression=[path])
    return FhirError(422, f"{path}: {error.message}", code="invalid", expression=[path])


class QuestionnaireHandler(Handler):
    resource_type = "Questionnaire"
    fhir_class = FhirQuestionnaire
    search_params = ["_id", "url", "name", "status"]

    def queryset(self, user: Any) -> QuerySet[Questionnaire]:
        require_permission(user, "questionnaires.view_questionnaire")
        return visible_to(user)

    def to_fhir(self, row: Questionnaire) -> dict[str, Any]:
        return {**as_fhir(row), "id": str(row.pk)}

    def search(self, user: Any, params: QueryDict) -> QuerySet[Questionnaire]:
        queryset = self.queryset(user)
        for value in params.getlist("url"):
            # ``url|version``: only when that is the version served (the newest).
            url, _sep, version = value.partition("|")
            if url.startswith(CANONICAL):
                queryset = queryset.filter(code=url.removeprefix(CANONICAL), url="")
            else:
                queryset = queryset.filter(url=url) if url else queryset.none()
            if version:
                newest = QuestionnaireVersion.objects.filter(questionnaire=OuterRef("pk"))
                queryset = queryset.annotate(
                    served_label=Subquery(newest.order_by("-version").values("label")[:1])
                ).filter(
                    Q(served_label=version)
                    | Q(served_label="", version=int(version) if version.isdecimal() else -1)
                )
        for name in params.getlist("name"):
            # a string search: what the name starts with, in any case ("GAD" finds gad7)
            queryset = queryset.filter(code__istartswith=name.strip().replace("_", "-"))
        publication = {code: code for code in Questionnaire.Status.values}
        for statuses in status_filter(params, {*publication, "unknown"}, publication):
            queryset = queryset.filter(status__in=statuses)
        return queryset

    def _save(
        self, user: Any, data: dict[str, Any], updating: Questionnaire | None = None
    ) -> Questionnaire:
        require_permission(user, "questionnaires.change_questionnaire")
        given = data.get("status") or "active"
        if not isinstance(given, str) or given not in STATUSES:
            raise FhirError(
                422,
                f"Questionnaire.status: {given!r} is not one of draft, active, retired, unknown",
                code="code-invalid",
                expression=["Questionnaire.status"],
            )
        try:
            url, label = canonical_of(data)
            definition = from_questionnaire(data)
            if updating is not None:
                if url and url != updating.url:
                    raise Conflict(
                        "url",
                        gettext_noop(
                            "must be %(url)s (a questionnaire keeps its URL; POST one with a "
                            "new URL)"
                        ),
                        url=updating.canonical,
                    )
                definition["code"] = updating.code
            row, _changed = do_save_questionnaire(
                user, definition, status=STATUSES[given], url=url, label=label
            )
        except DefinitionError as error:
            raise _definition_error(error) from error
        except PermissionDenied as error:
            raise FhirError(403, str(error), code="forbidden") from error
        return row

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Questionnaire:
        return self._save(user, data)

    def update(self, user: Any, obj: Questionnaire, data: dict[str, Any], refs: References) -> Any:
        return self._save(user, data, updating=obj)


class QuestionnaireResponseHandler(Handler):
    resource_type = "QuestionnaireResponse"
    fhir_class = FhirQuestionnaireResponse
    search_params = ["_id", "patient", "subject", "questionnaire"]

    def queryset(self, user: Any) -> QuerySet[QuestionnaireResponse]:
        require_permission(user, "questionnaires.view_questionnaireresponse")
        return QuestionnaireResponse.objects.filter(
            patient__in=patients_for(user).values("pk")
        ).select_related("version__questionnaire")

    def to_fhir(self, response: QuestionnaireResponse) -> dict[str, Any]:
        return to_response(
            definition_of(response.version),
            response.version.version,
            response.answers,
            response_id=response.pk,
            patient_id=response.patient_id,
            authored=response.submitted_at.isoformat(),
            canonical=(
                f"{response.version.questionnaire.url}|{response.version.fhir_version}"
                if response.version.questionnaire.url
                else ""
            ),
        )

    def search(self, user: Any, params: QueryDict) -> QuerySet[QuestionnaireResponse]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for reference in params.getlist("questionnaire"):
            if local := QUESTIONNAIRE_REFERENCE.fullmatch(reference):
                # "Questionnaire/2", as read here (the parameter is a reference; only its
                # canonical URL was matched, so the id a client read matched nothing)
                queryset = queryset.filter(version__questionnaire_id=int(local[1]))
                continue
            row, version = by_canonical(reference)
            if row is None or (version is None and "|" in reference):
                return queryset.none()
            if "|" in reference:
                queryset = queryset.filter(version=version)
            else:
                queryset = queryset.filter(version__questionnaire=row)
        return queryset

    def _version(self, data: dict[str, Any], patient: Any) -> QuestionnaireVersion:
        """The version answered, of a questionnaire the patient's organisation uses."""
        reference = str(data.get("questionnaire") or "")
        row, found = by_canonical(reference)
        usable = Questionnaire.objects.filter(usable_for(patient.organisation))
        if row is not None and not usable.filter(pk=row.pk).exists():
            found = None  # another organisation's: as if not here
        if found is None:
            raise FhirError(
                422,
                f"QuestionnaireResponse.questionnaire: {reference!r} is not a questionnaire here "
                f"({CANONICAL}<code>|<version>, or the url|version it was imported with)",
                code="not-found",
                expression=["QuestionnaireResponse.questionnaire"],
            )
        return found

    def create(self, user: Any, data: dict[str, Any], refs: References) -> QuestionnaireResponse:
        require_permission(user, "questionnaires.add_questionnaireresponse")
        if data.get("status") not in ("completed", "amended"):
            raise FhirError(
                422,
                "QuestionnaireResponse.status: only completed answers are taken",
                code="value",
                expression=["QuestionnaireResponse.status"],
            )
        authored = fhir_datetime(data.get("authored"), "QuestionnaireResponse.authored")
        if authored is not None and in_the_future(authored):
            raise FhirError(
                422,
                f"QuestionnaireResponse.authored {data['authored']} is in the future",
                code="value",
                expression=["QuestionnaireResponse.authored"],
            )
        patient = self.patient(user, data, refs, "QuestionnaireResponse.subject")
        version = self._version(data, patient)
        definition = definition_of(version)
        known = {item.key for item in definition.items}
        unknown = [
            str(entry.get("linkId"))
            for entry in data.get("item", [])
            if entry.get("linkId") not in known
        ]
        if unknown:
            raise FhirError(
                422,
                f"QuestionnaireResponse.item: {', '.join(unknown)} not an item of "
                f"{definition.code}",
                code="value",
                expression=[f"QuestionnaireResponse.item.where(linkId='{unknown[0]}')"],
            )
        raw = answers_from_response(definition, data)
        try:
            done = submit(
                version,
                patient,
                raw,
                source=QuestionnaireResponse.Source.FHIR,
                actor=user,
                submitted_at=authored,
            )
        except AnswerError as error:
            raise FhirError(
                422,
                str(error),
                issues=[
                    issue(
                        f"{key}: {message}",
                        code="value",
                        expression=[f"QuestionnaireResponse.item.where(linkId='{key}')"],
                    )
                    for key, message in error.errors.items()
                ],
            ) from error
        return done.response
