"""The service queue and the case page; assignment and status change in place (HTMX); the
case page edits the subject, description and priority."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm.htmx import wants_partial
from crm.permissions import requires
from interactions import services
from interactions.forms import CaseAssignForm, CaseEditForm, CaseStatusForm, apply_service_errors
from interactions.models import Case
from interactions.selectors import (
    CASE_QUEUE_TABS,
    assignable_members,
    case_history,
    case_queue,
    case_queue_counts,
)
from interactions.views.common import OrgRequest, paginate

QUEUE_TEMPLATE = "interactions/case_queue.html"


def _get_case(request: OrgRequest, pk: int) -> Case:
    return get_object_or_404(
        Case.objects.select_related("customer", "assignee"),
        organization=request.organization,
        pk=pk,
    )


def _row_context(request: OrgRequest) -> dict[str, Any]:
    members = list(assignable_members(organization=request.organization, permission="cases.change"))
    return {
        "members": members,
        "member_ids": {member.pk for member in members},
        "statuses": Case.Status.choices,
        "can_change": request.membership.has_permission("cases.change"),
    }


@requires("cases.view")
@require_http_methods(["GET"])
def queue(request: OrgRequest) -> HttpResponse:
    """Open cases by tab (mine, unassigned, overdue, all open), the soonest due first."""
    tabs = dict(CASE_QUEUE_TABS)
    tab = request.GET.get("tab", "mine")
    if tab not in tabs:
        tab = "mine"
    user = request.user
    page_obj = paginate(
        request,
        case_queue(organization=request.organization, user=user, tab=tab),  # type: ignore[arg-type]
    )
    context = {
        "nav": "cases",
        "tab": tab,
        "tabs": CASE_QUEUE_TABS,
        "tab_label": tabs[tab],
        "counts": case_queue_counts(organization=request.organization, user=user),  # type: ignore[arg-type]
        "page_obj": page_obj,
        "query_string": f"tab={tab}",
        **_row_context(request),
    }
    template = f"{QUEUE_TEMPLATE}#results" if wants_partial(request) else QUEUE_TEMPLATE
    return render(request, template, context)


@requires("cases.view")
@require_http_methods(["GET"])
def detail(request: OrgRequest, pk: int) -> HttpResponse:
    """A case: its details, who has it, and its history (the interactions that belong to it)."""
    return _detail_page(request, _get_case(request, pk))


def _detail_page(
    request: OrgRequest, case: Case, edit_form: CaseEditForm | None = None
) -> HttpResponse:
    if edit_form is None:
        edit_form = CaseEditForm(
            initial={
                "subject": case.subject,
                "description": case.description,
                "priority": case.priority,
            }
        )
    context = {
        "nav": "cases",
        "case": case,
        "history": case_history(organization=request.organization, case=case),
        "edit_form": edit_form,
        **_row_context(request),
    }
    return render(request, "interactions/case_detail.html", context)


@requires("cases.change")
@require_POST
def edit(request: OrgRequest, pk: int) -> HttpResponse:
    """Change the subject, description or priority; on bad input the page shows the errors."""
    case = _get_case(request, pk)
    form = CaseEditForm(request.POST)
    if form.is_valid():
        try:
            case = services.case_update(
                organization=request.organization,
                actor=request.user,  # type: ignore[arg-type]
                case=case,
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Case #{case.number} saved.")
            return redirect(
                "interactions:case_detail", org_slug=request.organization.slug, pk=case.pk
            )
    return _detail_page(request, case, form)


def _changed(request: OrgRequest, case: Case, message: str, *, error: bool = False) -> HttpResponse:
    if wants_partial(request):
        case = _get_case(request, case.pk)
        context = {"case": case, "row_message": message, "row_error": error}
        return render(request, f"{QUEUE_TEMPLATE}#case_row", {**context, **_row_context(request)})
    (messages.error if error else messages.success)(request, message)
    return redirect("interactions:case_detail", org_slug=request.organization.slug, pk=case.pk)


@requires("cases.change")
@require_POST
def assign(request: OrgRequest, pk: int) -> HttpResponse:
    """Give the case to a member or to nobody."""
    case = _get_case(request, pk)
    form = CaseAssignForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _changed(
            request,
            case,
            " ".join(str(error) for error in form.errors.get("assignee", [])),
            error=True,
        )
    try:
        case = services.case_assign(
            organization=request.organization,
            actor=request.user,  # type: ignore[arg-type]
            case=case,
            assignee=form.cleaned_data["assignee"],
        )
    except ValidationError as exc:
        return _changed(request, case, " ".join(exc.messages), error=True)
    who = case.assignee.display_name if case.assignee else "nobody"
    return _changed(request, case, f"Case #{case.number} assigned to {who}.")


@requires("cases.change")
@require_POST
def change_status(request: OrgRequest, pk: int) -> HttpResponse:
    """Move the case to another status."""
    case = _get_case(request, pk)
    form = CaseStatusForm(request.POST)
    if not form.is_valid():
        return _changed(
            request,
            case,
            " ".join(str(error) for error in form.errors.get("status", [])),
            error=True,
        )
    case = services.case_change_status(
        organization=request.organization,
        actor=request.user,  # type: ignore[arg-type]
        case=case,
        status=form.cleaned_data["status"],
    )
    return _changed(request, case, f"Case #{case.number} is now {case.get_status_display()}.")
