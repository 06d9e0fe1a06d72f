"""FHIR errors as OperationOutcome resources."""

from __future__ import annotations

from typing import Any


class FhirError(Exception):
    """An error answered with an OperationOutcome.

    400: the body is not a parseable or structurally valid FHIR resource; 401/403/404;
    409: duplicate; 422: valid FHIR that breaks a CareLoop rule (a bound code, an ID
    number's check digit ...).
    """

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str = "invalid",
        expression: list[str] | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.issues = issues or [issue(diagnostics, code=code, expression=expression)]
        self.item_index: int | None = None  # which of several resources failed


def required(path: str) -> FhirError:
    """422: a CareLoop-required element is missing."""
    return FhirError(422, f"{path} is required", code="required", expression=[path])


def not_accepted(path: str, value: Any) -> FhirError:
    """422: a coded element holds a code CareLoop does not accept."""
    return FhirError(
        422, f"{path} {value!r} is not accepted", code="code-invalid", expression=[path]
    )


def issue(
    diagnostics: str,
    *,
    code: str = "invalid",
    severity: str = "error",
    expression: list[str] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        item["expression"] = expression
    return item


def outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def from_pydantic(resource_type: str, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """fhir.resources validation errors, each with the FHIRPath of the element."""
    issues = []
    for error in errors[:50]:
        path = resource_type
        for part in error.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        code = "structure" if error.get("type") == "extra_forbidden" else "value"
        if error.get("type") == "missing":
            code = "required"
        issues.append(issue(f"{path}: {message}", code=code, expression=[path]))
    return issues
