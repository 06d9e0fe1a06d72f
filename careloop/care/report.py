"""The printed health report (打印健康报告, F14): what it shows, rendered to PDF by
WeasyPrint with Noto CJK fonts, each printed copy archived and audited.

Contents: the organisation's letterhead; the patient (identifiers masked); the latest exam
results with flags and a plain-language note on each abnormal one; trend charts of the
items measured most (SVG drawn here); risk assessments with their explanations; the
health plan (the latest final one, else advice drafted from the library)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import override

from careloop.audit.services import record
from careloop.care.models import PrintedReport, ReportBatch
from careloop.care.plans import current_plan, draft_sections
from careloop.care.svg import Point, line_chart
from careloop.clinical import trends
from careloop.patients.models import Patient
from careloop.portal.explanations import explain
from careloop.rules import assessments

CHARTS = 4
REPORTS = 2


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot run: its system libraries (Pango) are missing."""


@dataclass
class Rendered:
    pdf: bytes
    pages: int


def _charts(patient: Patient) -> list[str]:
    charts = []
    for indicator in trends.indicators(patient):
        if indicator.count < 2 or indicator.key.startswith("local:"):
            continue
        data = trends.series(patient, indicator.key)
        points = [
            Point(p["t"][:7], float(p["value"]), bool(p["abnormal"]))
            for p in data["points"][-8:]
            if p["value"] is not None
        ]
        band = data["band"]
        title = f"{data['name']}（{data['unit']}）" if data["unit"] else data["name"]
        charts.append(line_chart(title, points, (band["low"], band["high"]) if band else None))
        if len(charts) == CHARTS:
            break
    return charts


def context(patient: Patient) -> dict[str, Any]:
    reports = trends.latest_reports(patient, limit=REPORTS)
    results = [
        (report, [(o, explain(o.code, o.interpretation)) for o in report.observations.all()])
        for report in reports
    ]
    measured = [
        (o, explain(o.code, o.interpretation)) for o in trends.measurements_since(patient, reports)
    ]
    plan = current_plan(patient, final=True)
    return {
        "patient": patient,
        "organisation": patient.organisation,
        "printed_at": timezone.localtime(),
        "results": results,
        "measured": measured,
        "charts": _charts(patient),
        "assessments": assessments.for_patient(patient.pk),
        "plan": plan,
        "sections": plan.sections if plan else draft_sections(patient),
    }


def render_pdf(patient: Patient) -> Rendered:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except OSError as exc:  # the Pango libraries are not installed
        raise PdfUnavailable(str(exc)) from exc
    # The report is a Chinese document for the patient, whoever prints it: printed from an
    # English page it read "性别：male  年龄：65 y".
    with override(settings.LANGUAGE_CODE):
        html = render_to_string("care/report.html", context(patient))
    document = HTML(string=html).render()
    return Rendered(document.write_pdf() or b"", len(document.pages))


def print_report(actor: Any, patient: Patient, batch: ReportBatch | None = None) -> PrintedReport:
    """Render, archive and audit one copy of ``patient``'s report."""
    return archive(actor, patient, render_pdf(patient), batch)


def archive(
    actor: Any, patient: Patient, rendered: Rendered, batch: ReportBatch | None = None
) -> PrintedReport:
    """Keep a rendered copy (file, hash, pages) and write it to the audit log."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    copy = PrintedReport(
        patient=patient,
        sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        pages=rendered.pages,
        batch=batch,
        printed_by=user,
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    copy.file.save(f"report-{patient.pk}-{stamp}.pdf", ContentFile(rendered.pdf), save=False)
    copy.save()
    record(
        user,
        "print",
        "health_report",
        copy.pk,
        patient_id=patient.pk,
        summary=f"health report printed ({rendered.pages} pages)",
        actor_label="" if user else "batch",
    )
    return copy
