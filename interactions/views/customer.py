"""The customer's timeline and key facts, and the quick actions above the timeline.

The quick actions answer HTMX with the form again (with its errors) or with a short
confirmation plus the "timeline-changed" event, on which the timeline and the key facts reload
themselves. Without HTMX they are ordinary pages that redirect back to the timeline.
"""

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from crm.htmx import wants_partial
from crm.permissions import requires
from customers.models import Customer
from interactions import services
from interactions.forms import (
    CaseOpenForm,
    InteractionLogForm,
    PurchaseForm,
    PurchaseLineFormSet,
    TaskForm,
    apply_service_errors,
)
from interactions.models import Interaction, Kind
from interactions.panels import key_facts_context, timeline_context
from interactions.selectors import TimelineCursor
from interactions.views.common import (
    OrgRequest,
    get_customer,
)

TIMELINE_CHANGED = "timeline-changed"
FORMS_TEMPLATE = "interactions/partials/quick_forms.html"
# The element a quick action's form lives in (and swaps): quick-action-slot-1, followup-2.
SLOT_ID = re.compile(r"(quick-action-slot|followup)-[0-9]+")


def _timeline_url(request: OrgRequest, customer: Customer) -> str:
    return reverse(
        "interactions:timeline",
        kwargs={"org_slug": request.organization.slug, "customer_pk": customer.pk},
    )


@requires("interactions.view")
@require_http_methods(["GET"])
def customer_timeline(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """A page of the timeline: the partial for HTMX (filters, next pages), else a full page."""
    customer = get_customer(request, customer_pk)
    cursor = None
    if request.GET.get("cursor"):
        try:
            cursor = TimelineCursor.decode(request.GET["cursor"])
        except ValueError:
            return HttpResponseBadRequest("Not a timeline position.")
    context = timeline_context(
        customer=customer,
        organization=request.organization,
        membership=request.membership,
        params=request.GET,
        cursor=cursor,
    )
    if wants_partial(request):
        return render(request, "interactions/panels/timeline.html#entries", context)
    context.update(
        key_facts_context(
            customer=customer, organization=request.organization, membership=request.membership
        )
    )
    return render(request, "interactions/customer_timeline.html", {**context, "nav": "customers"})


@requires("interactions.view")
@require_http_methods(["GET"])
def customer_key_facts(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """The key facts panel alone (it reloads itself when the timeline changes)."""
    customer = get_customer(request, customer_pk)
    context = key_facts_context(
        customer=customer, organization=request.organization, membership=request.membership
    )
    return render(request, "interactions/panels/key_facts.html", context)


def _form_response(
    request: OrgRequest, customer: Customer, partial: str, context: dict[str, Any]
) -> HttpResponse:
    slot = request.GET.get("slot") or request.POST.get("slot") or ""
    if not SLOT_ID.fullmatch(slot):
        slot = f"quick-action-slot-{customer.pk}"
    context = {"customer": customer, "slot": slot, **context}
    if wants_partial(request):
        return render(request, f"{FORMS_TEMPLATE}#{partial}", context)
    return render(
        request,
        "interactions/quick_action_page.html",
        {**context, "partial": f"{FORMS_TEMPLATE}#{partial}", "nav": "customers"},
    )


def _done(request: OrgRequest, customer: Customer, message: str) -> HttpResponse:
    if wants_partial(request):
        response = render(
            request, f"{FORMS_TEMPLATE}#done", {"message": message, "customer": customer}
        )
        return trigger_client_event(response, TIMELINE_CHANGED)
    messages.success(request, message)
    return redirect(_timeline_url(request, customer))


DONE_MESSAGES = {
    Kind.CALL: "Call logged.",
    Kind.NOTE: "Note added.",
    Kind.EMAIL_SENT: "E-mail logged.",
    Kind.MEETING: "Meeting logged.",
    Kind.STORE_VISIT: "Store visit logged.",
    Kind.COMPLAINT: "Complaint logged.",
}


@requires("interactions.log")
@require_http_methods(["GET", "POST"])
def interaction_new(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """Log a call, note, e-mail, meeting, store visit or complaint."""
    customer = get_customer(request, customer_pk)
    if request.method == "POST":
        form = InteractionLogForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.interaction_log(
                    organization=request.organization,
                    actor=request.user,  # type: ignore[arg-type]
                    customer=customer,
                    kind=data["kind"],
                    channel=data["channel"],
                    direction=data["direction"],
                    occurred_at=data["occurred_at"],
                    subject=data["subject"],
                    body=data["body"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return _done(request, customer, DONE_MESSAGES.get(data["kind"], "Logged."))
    else:
        form = InteractionLogForm(kind=request.GET.get("kind", Kind.CALL))
    return _form_response(request, customer, "log_form", {"form": form})


@requires("interactions.log")
@require_http_methods(["GET", "POST"])
def purchase_new(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """Record a purchase made in a store, by phone or by mail, with its products."""
    customer = get_customer(request, customer_pk)
    organization = request.organization
    if request.method == "POST":
        form = PurchaseForm(request.POST)
        lines = PurchaseLineFormSet(
            request.POST, prefix="lines", form_kwargs={"organization": organization}
        )
        if form.is_valid() and lines.is_valid():
            items = [
                services.PurchaseLineInput(
                    product=line["product"],
                    quantity=line.get("quantity") or 1,
                    unit_price=line.get("unit_price"),
                )
                for line in lines.cleaned_data
                if line.get("product")
            ]
            try:
                services.purchase_record(
                    organization=organization,
                    actor=request.user,  # type: ignore[arg-type]
                    customer=customer,
                    lines=items,
                    channel=form.cleaned_data["channel"],
                    occurred_at=form.cleaned_data["occurred_at"],
                    subject=form.cleaned_data["subject"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return _done(request, customer, "Purchase recorded.")
    else:
        form = PurchaseForm()
        lines = PurchaseLineFormSet(prefix="lines", form_kwargs={"organization": organization})
    return _form_response(request, customer, "purchase_form", {"form": form, "lines": lines})


@requires("cases.change")
@require_http_methods(["GET", "POST"])
def case_new(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """Open a service case for the customer."""
    customer = get_customer(request, customer_pk)
    organization = request.organization
    if request.method == "POST":
        form = CaseOpenForm(request.POST, organization=organization)
        if form.is_valid():
            try:
                case = services.case_open(
                    organization=organization,
                    actor=request.user,  # type: ignore[arg-type]
                    customer=customer,
                    **form.cleaned_data,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return _done(request, customer, f"Case #{case.number} opened.")
    else:
        form = CaseOpenForm(organization=organization)
    return _form_response(request, customer, "case_form", {"form": form})


@requires("tasks.change")
@require_http_methods(["GET", "POST"])
def task_new(request: OrgRequest, customer_pk: int) -> HttpResponse:
    """Create a follow-up; from a timeline entry, prefilled and linked to that interaction."""
    customer = get_customer(request, customer_pk)
    organization = request.organization
    if request.method == "POST":
        form = TaskForm(request.POST, organization=organization, customer=customer)
        if form.is_valid():
            try:
                services.task_create(
                    organization=organization,
                    actor=request.user,  # type: ignore[arg-type]
                    customer=customer,
                    **form.cleaned_data,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return _done(request, customer, "Task created.")
    else:
        initial: dict[str, Any] = {"assignee": request.user.pk}
        interaction_id = request.GET.get("interaction", "")
        source = (
            Interaction.objects.filter(
                organization=organization, customer_id=customer.pk, pk=interaction_id
            ).first()
            if interaction_id.isdigit()
            else None
        )
        if source is not None:
            initial["interaction"] = source.pk
            initial["title"] = f"Follow up: {source}"[:200]
        form = TaskForm(initial=initial, organization=organization, customer=customer)
    return _form_response(request, customer, "task_form", {"form": form})
