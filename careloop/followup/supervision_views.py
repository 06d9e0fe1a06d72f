"""Supervisor pages: the team's workload with hand-over, and quality review."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.followup.forms import answer_rows
from careloop.followup.models import CRITERIA, Outcome, QualityReview
from careloop.followup.scripts import render_script
from careloop.followup.staff import staff_who_can
from careloop.followup.supervision import (
    do_hand_over,
    do_review,
    review_queue,
    reviewable,
    workload,
)
from careloop.forms import StyledFormMixin, widget_class
from careloop.ids import row_id
from careloop.typing import AuthedRequest

PAGE_SIZE = 50
REVIEWS_PAGE_SIZE = 20


class ReviewForm(StyledFormMixin, forms.Form):
    comments = forms.CharField(
        label=gettext_lazy("Comments"),  # lazy: in the language of each request
        required=False,
        max_length=2000,
        widget=forms.Textarea({"rows": 3}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for key, (label, top) in CRITERIA.items():
            widget = forms.NumberInput()
            widget.attrs["class"] = widget_class(widget)  # added after the mixin styled
            self.fields[key] = forms.IntegerField(
                label=_("%(criterion)s (0–%(top)s)") % {"criterion": label, "top": top},
                min_value=0,
                max_value=top,
                widget=widget,
            )
        self.order_fields([*CRITERIA, "comments"])


@login_required
@permission_required("followup.assign_task", raise_exception=True)
def team_page(request: AuthedRequest) -> HttpResponse:
    """工作量: per person, open / due today / overdue tasks, alerts, last 7 days' work."""
    days = 30 if request.GET.get("days") == "30" else 7
    loads = workload(request.user, days=days)
    return render(
        request,
        "followup/team.html",
        {
            "loads": loads,
            "days": days,
            # By organisation: work is handed over within one (the lists group by it).
            "staff_sorted": staff_who_can(request.user, "change_task").order_by(
                "organisation__path", "display_name", "username"
            ),
        },
    )


@login_required
@require_POST
@permission_required("followup.assign_task", raise_exception=True)
def hand_over(request: AuthedRequest) -> HttpResponse:
    staff = {str(u.pk): u for u in staff_who_can(request.user, "change_task")}
    source, target = (
        staff.get(request.POST.get("source", "")),
        staff.get(request.POST.get("target", "")),
    )
    if source is None or target is None:
        messages.error(request, _("Choose whose work moves and who takes it."))
        return redirect("followup:team")
    try:
        tasks, alerts = do_hand_over(request.user, source, target)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(tasks)s and %(alerts)s moved from %(a)s to %(b)s.")
            % {
                "tasks": ngettext("%(n)d task", "%(n)d tasks", tasks) % {"n": tasks},
                "alerts": ngettext("%(n)d alert", "%(n)d alerts", alerts) % {"n": alerts},
                "a": source,
                "b": target,
            },
        )
    return redirect("followup:team")


@login_required
@permission_required("followup.add_qualityreview", raise_exception=True)
def quality_page(request: AuthedRequest) -> HttpResponse:
    """质控: completed follow-ups waiting for review, and the latest reviews."""
    staff_id = request.GET.get("staff", "")
    chosen = row_id(staff_id)
    queue = review_queue(request.user, staff_id=chosen)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    reviews = QualityReview.objects.filter(
        staff__in=staff_who_can(request.user, "change_task")
    ).select_related("staff", "reviewer", "record__task")
    if chosen is not None:  # the staff filter narrows both lists
        reviews = reviews.filter(staff_id=chosen)
    # Two lists, each with its own page number; turning one keeps the other where it is.
    reviews_page = Paginator(reviews, REVIEWS_PAGE_SIZE).get_page(request.GET.get("reviews"))
    return render(
        request,
        "followup/quality.html",
        {
            "page": page,
            "reviews_page": reviews_page,
            "staff": staff_who_can(request.user, "change_task"),
            "staff_id": staff_id,
            "querystring": _keeping(request, "page"),
            "reviews_querystring": _keeping(request, "reviews"),
        },
    )


def _keeping(request: AuthedRequest, turned: str) -> str:
    """The page's address parameters but the page number of the list being turned."""
    params = request.GET.copy()
    params.pop(turned, None)
    return params.urlencode()


@login_required
@permission_required("followup.add_qualityreview", raise_exception=True)
def review_page(request: AuthedRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(
        reviewable(request.user)
        .filter(outcome=Outcome.REACHED)  # as the queue: a try that reached nobody is not scored
        .select_related("task__plan__version", "patient", "by"),
        pk=pk,
    )
    existing = QualityReview.objects.filter(record=entry).first()
    initial = {k: getattr(existing, k) for k in [*CRITERIA, "comments"]} if existing else None
    form = ReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        scores = {key: form.cleaned_data[key] for key in CRITERIA}
        try:
            review = do_review(request.user, entry, scores, form.cleaned_data["comments"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Review saved: %(score)d / 100.") % {"score": review.score})
            following = review_queue(request.user).exclude(pk=entry.pk).first()
            if request.POST.get("then") == "next" and following is not None:
                return redirect("followup:review", pk=following.pk)
            return redirect("followup:quality")
    record(request.user, "view", "followup_record", entry.pk, patient_id=entry.patient_id)
    return render(
        request,
        "followup/review.html",
        {
            "entry": entry,
            "task": entry.task,
            # As the nurse who made the call read it (their name in the opening), not ours.
            "script": render_script(entry.task, entry.by or request.user, at=entry.at),
            "answers": answer_rows(entry.task.form, entry.answers),
            "form": form,
            "existing": existing,
        },
    )
