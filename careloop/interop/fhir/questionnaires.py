"""FHIR Questionnaire and QuestionnaireResponse ← CareLoop questionnaires (F10).

Questionnaire: read, search (``url``, ``name``, ``status``), create and update — a created
or changed Questionnaire is saved as a new version (scoring travels in the CareLoop
extension; one from elsewhere is saved without scores). Needs the permission to change
questionnaires. QuestionnaireResponse: read, search (``patient``, ``questionnaire``), create —
the answers are checked, scored and acted on as if entered by staff (flags raise an alert,
the questionnaire rules run); an answer that does not fit names its ``linkId``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
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
from careloop.questionnaires.definition import AnswerError, DefinitionError
from careloop.questionnaires.fhir import (
    CANONICAL,
    answers_from_response,
    canonical_code,
    from_questionnaire,
    to_questionnaire,
    to_response,
)
from careloop.questionnaires.models import (
    Questionnaire,
    QuestionnaireResponse,
    QuestionnaireVersion,
)
from careloop.questionnaires.services import definition_of, do_save_questionnaire, submit


def _definition_error(error: DefinitionError) -> FhirError:
    return FhirError(422, str(error), code="invalid", expression=[f"Questionnaire.{error.path}"])


class QuestionnaireHandler(Handler):
    resource_type = "Questionnaire"
    fhir_class = FhirQuestionnaire
    search_params = ["url", "name", "status"]

    def queryset(self, user: Any) -> QuerySet[Questionnaire]:
        require_permission(user, "questionnaires.view_questionnaire")
        return Questionnaire.objects.all()

    def to_fhir(self, row: Questionnaire) -> dict[str, Any]:
        version = row.latest()
        resource = to_questionnaire(
            definition_of(version), version.definition, version.version, row.status
        )
        return {**resource, "id": str(row.pk)}

    def search(self, user: Any, params: QueryDict) -> QuerySet[Questionnaire]:
        queryset = self.queryset(user)
        for url in params.getlist("url"):
            queryset = queryset.filter(code=canonical_code(url)[0])
        for name in params.getlist("name"):
            queryset = queryset.filter(code__iexact=name.replace("_", "-"))
        publication = {code: code for code in Questionnaire.Status.values}
        for statuses in status_filter(params, {*publication, "unknown"}, publication):
            queryset = queryset.filter(status__in=statuses)
        return queryset

    def _save(self, user: Any, data: dict[str, Any], code: str | None = None) -> Questionnaire:
        require_permission(user, "questionnaires.change_questionnaire")
        try:
            definition = from_questionnaire(data)
            if code is not None:
                definition["code"] = code
            given = str(data.get("status", ""))
            status = given if given in Questionnaire.Status.values else "active"
            row, _changed = do_save_questionnaire(user, definition, status=status)
        except DefinitionError as error:
            raise _definition_error(error) from error
        return row

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Questionnaire:
        return self._save(user, data)

    def update(self, user: Any, obj: Questionnaire, data: dict[str, Any], refs: References) -> Any:
        return self._save(user, data, code=obj.code)


class QuestionnaireResponseHandler(Handler):
    resource_type = "QuestionnaireResponse"
    fhir_class = FhirQuestionnaireResponse
    search_params = ["patient", "subject", "questionnaire"]

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
        )

    def search(self, user: Any, params: QueryDict) -> QuerySet[QuestionnaireResponse]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for reference in params.getlist("questionnaire"):
            code, version = canonical_code(reference)
            queryset = queryset.filter(version__questionnaire__code=code)
            if version is not None:
                queryset = queryset.filter(version__version=version)
        return queryset

    def _version(self, data: dict[str, Any]) -> QuestionnaireVersion:
        reference = str(data.get("questionnaire") or "")
        code, number = canonical_code(reference)
        versions = QuestionnaireVersion.objects.filter(questionnaire__code=code)
        found = (
            versions.filter(version=number).first()
            if number is not None
            else versions.order_by("-version").first()
        )
        if not reference.startswith(CANONICAL) or found is None:
            raise FhirError(
                422,
                f"QuestionnaireResponse.questionnaire: {reference!r} is not a questionnaire here "
                f"({CANONICAL}<code>|<version>)",
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
        version = self._version(data)
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
