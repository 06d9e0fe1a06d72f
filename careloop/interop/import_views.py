"""Staff pages for spreadsheet imports: upload, column mapping with preview, progress,
error report."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from careloop.audit.services import record
from careloop.forms import StyledFormMixin
from careloop.interop.importer.columns import FIELD_LABELS, MappingError
from careloop.interop.importer.jobs import (
    AlreadyImported,
    AlreadyStarted,
    choices,
    do_create_import,
    do_start_import,
    preview,
)
from careloop.interop.importer.reader import ReadError
from careloop.interop.models import ImportJob, SourceSystem
from careloop.patients.access import scope_organisation_ids

MAX_UPLOAD = 50 * 1024 * 1024


class UploadForm(StyledFormMixin, forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Excel (.xlsx) or CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    source = forms.CharField(
        label=gettext_lazy("Where the file comes from"),
        max_length=100,
        initial="Excel",
        help_text=gettext_lazy(
            "e.g. 体检中心 or LIS export: the columns are remembered for next time"
        ),
        widget=forms.TextInput(attrs={"list": "sources"}),
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("When a row is wrong"),
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.SKIP_BAD_ROWS,
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        return upload


def _jobs_for(request: HttpRequest) -> QuerySet[ImportJob]:
    """Imports made by staff of the user's own organisation, and those run by `careloop
    import` without a user into one of its sources."""
    jobs = ImportJob.objects.select_related("source", "created_by")
    if not request.user.is_superuser:
        organisation = getattr(request.user, "organisation", None)
        jobs = jobs.filter(
            Q(created_by__organisation=organisation)
            | Q(created_by__isnull=True, source__organisation=organisation)
        )
    return jobs


def _sources_for(request: HttpRequest) -> QuerySet[SourceSystem]:
    """The sending systems of the user's organisations (those an upload's source name
    finds, ``source_named``): another organisation's are not suggested."""
    sources = SourceSystem.objects.order_by("facility")
    org_ids = scope_organisation_ids(request.user)
    return sources if org_ids is None else sources.filter(organisation_id__in=org_ids)


@login_required
@permission_required("interop.add_importjob", raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = do_create_import(
                request.user,
                upload,
                upload.name,
                form.cleaned_data["source"],
                form.cleaned_data["mode"],
            )
        except (ReadError, AlreadyImported) as error:
            form.add_error("file", str(error))
        else:
            return redirect("interop:import", pk=job.pk)
    # Every import stays reachable (with its error report), 20 a page, newest first.
    page = Paginator(_jobs_for(request), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "interop/import_list.html",
        {
            "form": form,
            "page": page,
            "jobs": page.object_list,
            "sources": _sources_for(request)[:100],
        },
    )


@login_required
@permission_required("interop.add_importjob", raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_jobs_for(request), pk=pk)
    editable = job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.FAILED)
    if request.method == "POST" and editable:
        columns = {
            header: request.POST.get(f"column-{index}", "ignore")
            for index, header in enumerate(job.columns)
        }
        if "start" in request.POST:
            try:
                do_start_import(request.user, job, columns)
            except AlreadyStarted as started:  # clicked twice: the page shows its progress
                messages.info(request, str(started))
                return redirect("interop:import", pk=job.pk)
            except MappingError as error:
                messages.error(request, str(error))
                job.columns = columns
            else:
                return redirect("interop:import", pk=job.pk)
        else:
            job.columns = columns
            job.save(update_fields=["columns"])
    mapping, rows = preview(job) if editable else (None, [])
    return render(
        request,
        "interop/import_detail.html",
        {
            "job": job,
            "editable": editable,
            "mapping": mapping,
            "rows": rows,
            "choices": choices(),
            "labels": FIELD_LABELS,
            "columns": list(enumerate(job.columns.items())),
        },
    )


@login_required
@permission_required("interop.add_importjob", raise_exception=True)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_jobs_for(request), pk=pk)
    return render(request, "interop/_import_progress.html", {"job": job})


@login_required
@permission_required("interop.add_importjob", raise_exception=True)
def import_errors(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = get_object_or_404(_jobs_for(request), pk=pk)
    if not job.error_report:
        raise Http404("no error report")
    record(request.user, "export", "import", job.pk, summary="error report downloaded")
    return FileResponse(
        job.error_report.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.xlsx"
    )
