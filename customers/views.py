"""Customer pages: parse the request, call a selector or a service, render.

HTMX requests that are not boosted get the page's named partial; everything else the full page.
"""

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from crm.csv import streaming_csv_response
from crm.htmx import wants_partial
from crm.models import Membership, Organization, User
from crm.permissions import requires
from crm.registry import customer_panels
from customers import exports, selectors, services
from customers.forms import ConsentForm, CustomerForm, CustomFieldDefinitionForm, MergeForm
from customers.models import Customer, CustomFieldDefinition

PAGE_SIZE = 25


def _organization(request: HttpRequest) -> Organization:
    return cast(Organization, request.organization)  # type: ignore[attr-defined]


def _membership(request: HttpRequest) -> Membership:
    return cast(Membership, request.membership)  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None
) -> HttpResponse:
    if partial and wants_partial(request):
        template = f"{template}#{partial}"
    response = render(request, template, context)
    if partial:
        # The same URL answers with a page or a fragment: caches must keep them apart.
        patch_vary_headers(response, ["HX-Request"])
    return response


def _url(request: HttpRequest, name: str, **kwargs: Any) -> str:
    return reverse(name, kwargs={"org_slug": _organization(request).slug, **kwargs})


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _customer_or_404(request: HttpRequest, pk: int) -> Customer:
    customer = selectors.customer_get(organization=_organization(request), pk=pk)
    if customer is None:
        raise Http404("No such customer.")
    return customer


# --- List ----------------------------------------------------------------------------------


@requires("customers.view")
def customer_list(request: HttpRequest) -> HttpResponse:
    organization = _organization(request)
    filterset = selectors.customer_filterset(organization=organization, data=request.GET)
    customers = selectors.customer_list(organization=organization, filters=filterset)
    pages: Any = selectors.customer_list_pages(queryset=customers, filterset=filterset)
    page_obj = Paginator(pages, PAGE_SIZE).get_page(request.GET.get("page"))
    ordering = (filterset.form.cleaned_data.get("ordering") or ["name"])[0]
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = params.copy()
    sort_params["ordering"] = "-name" if ordering == "name" else "name"
    context: dict[str, Any] = {
        "nav": "customers",
        "filterset": filterset,
        "form": filterset.form,
        "page_obj": page_obj,
        # More matches than a search counts (selectors.SearchMatches): "More than 1000 match".
        "count_capped": getattr(pages, "capped", False),
        "query_string": params.urlencode(),
        "is_filtered": filterset.is_filtered,
        "ordering": ordering,
        "name_sort_query": sort_params.urlencode(),
        "name_aria_sort": {"name": "ascending", "-name": "descending"}.get(ordering),
    }
    if not wants_partial(request):
        context["known_tags"] = selectors.known_tags(organization=organization)
    return _render(request, "customers/customer_list.html", context, partial="results")


# --- Create, edit, delete --------------------------------------------------------------------


def _form_page(
    request: HttpRequest, *, form: CustomerForm, customer: Customer | None
) -> HttpResponse:
    return _render(
        request,
        "customers/customer_form.html",
        {"nav": "customers", "form": form, "customer": customer},
        partial="form",
    )


@requires("customers.change")
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    organization = _organization(request)
    definitions = services.custom_field_definitions(organization=organization)
    initial: dict[str, Any] = {"owner": request.user.pk}
    if request.GET.get("kind") == Customer.Kind.COMPANY:
        initial["kind"] = Customer.Kind.COMPANY
    if request.GET.get("company", "").isdigit():
        initial["company"] = int(request.GET["company"])
    form = CustomerForm(
        request.POST if request.method == "POST" else None,
        organization=organization,
        definitions=definitions,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                organization=organization, actor=_actor(request), **form.service_fields()
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"{customer.name} was added.")
            return _redirect(request, _url(request, "customers:detail", pk=customer.pk))
    return _form_page(request, form=form, customer=None)


@requires("customers.change")
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _organization(request)
    customer = _customer_or_404(request, pk)
    definitions = services.custom_field_definitions(organization=organization)
    form = CustomerForm(
        request.POST if request.method == "POST" else None,
        organization=organization,
        definitions=definitions,
        customer=customer,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(
                customer=customer,
                organization=organization,
                actor=_actor(request),
                **form.service_fields(),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"{customer.name} was saved.")
            return _redirect(request, _url(request, "customers:detail", pk=customer.pk))
    return _form_page(request, form=form, customer=customer)


@requires("customers.delete")
@require_http_methods(["GET", "POST"])
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _organization(request)
    customer = _customer_or_404(request, pk)
    if request.method == "POST":
        try:
            services.customer_delete(
                customer=customer, organization=organization, actor=_actor(request)
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return _redirect(request, _url(request, "customers:detail", pk=pk))
        messages.success(request, f"{customer.name} was deleted.")
        return _redirect(request, _url(request, "customers:list"))
    people_count = selectors.people_count(organization=organization, company=customer)
    return render(
        request,
        "customers/customer_confirm_delete.html",
        {"nav": "customers", "customer": customer, "people_count": people_count},
    )


# --- Detail and consent ------------------------------------------------------------------------


def _panels(request: HttpRequest, customer: Customer) -> list[dict[str, Any]]:
    """Panels registered by higher apps (crm.registry), rendered with their own context."""
    membership = _membership(request)
    organization = _organization(request)
    rendered = []
    for panel in customer_panels:
        if not membership.has_permission(panel.permission):
            continue
        context = panel.context(customer=customer, organization=organization, membership=membership)
        rendered.append(
            {
                "key": panel.key,
                "title": panel.title,
                "html": render_to_string(panel.template, context, request=request),
            }
        )
    return rendered


def _detail_context(
    request: HttpRequest, customer: Customer, consent_form: ConsentForm | None = None
) -> dict[str, Any]:
    detail = selectors.customer_detail(organization=_organization(request), customer=customer)
    audit_url = (
        _url(request, "audit_log")
        + f"?object_type={Customer._meta.label_lower}&object_id={customer.pk}"
    )
    duplicate_count = 0
    if _membership(request).has_permission("customers.change"):
        duplicate_count = selectors.duplicate_count_of(customer)
    return {
        "nav": "customers",
        "customer": customer,
        "detail": detail,
        "duplicate_count": duplicate_count,
        "consent_form": consent_form or ConsentForm(initial={"method": "verbal"}),
        "panels": _panels(request, customer),
        "audit_url": audit_url,
    }


@requires("customers.view")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer_or_404(request, pk)
    return render(request, "customers/customer_detail.html", _detail_context(request, customer))


@requires("customers.change")
@require_POST
def customer_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a consent change; HTMX gets the consent panel back, others a redirect."""
    organization = _organization(request)
    customer = _customer_or_404(request, pk)
    form = ConsentForm(request.POST)
    recorded = None
    if form.is_valid():
        try:
            recorded = services.consent_record(
                customer=customer,
                organization=organization,
                actor=_actor(request),
                channel=form.cleaned_data["channel"],
                granted=form.cleaned_data["granted"],
                method=form.cleaned_data["method"],
                note=form.cleaned_data.get("note", ""),
                occurred_at=form.cleaned_data.get("occurred_at"),
            )
        except ValidationError as error:
            form.add_service_errors(error)
    if recorded is not None:
        summary = (
            f"{recorded.get_channel_display()} consent "
            f"{'granted' if recorded.granted else 'withdrawn'}."
        )
        if not wants_partial(request):
            messages.success(request, summary)
            return redirect(_url(request, "customers:detail", pk=customer.pk))
        context = _detail_context(request, customer)
        context["consent_saved"] = summary
        return _render(request, "customers/customer_detail.html", context, partial="consent")
    context = _detail_context(request, customer, consent_form=form)
    return _render(request, "customers/customer_detail.html", context, partial="consent")


# --- Custom field settings ----------------------------------------------------------------------


@requires("custom_fields.manage")
@require_http_methods(["GET", "POST"])
def custom_field_list(request: HttpRequest) -> HttpResponse:
    """The organization's custom fields, and the form to add one."""
    organization = _organization(request)
    form = CustomFieldDefinitionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            definition = services.custom_field_definition_create(
                organization=organization, actor=_actor(request), **form.service_fields()
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"The field “{definition.label}” was added.")
            return _redirect(request, _url(request, "customers:fields"))
    definitions = services.custom_field_definitions(organization=organization)
    return _render(
        request,
        "customers/custom_fields.html",
        {"nav": "settings", "definitions": definitions, "form": form},
        partial="form",
    )


def _definition_or_404(request: HttpRequest, pk: int) -> CustomFieldDefinition:
    definition = CustomFieldDefinition.objects.filter(
        organization=_organization(request), pk=pk
    ).first()
    if definition is None:
        raise Http404("No such custom field.")
    return definition


@requires("custom_fields.manage")
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _organization(request)
    definition = _definition_or_404(request, pk)
    form = CustomFieldDefinitionForm(
        request.POST if request.method == "POST" else None, definition=definition
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_definition_update(
                definition=definition,
                organization=organization,
                actor=_actor(request),
                **form.service_fields(),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"The field “{definition.label}” was saved.")
            return _redirect(request, _url(request, "customers:fields"))
    return _render(
        request,
        "customers/custom_field_form.html",
        {"nav": "settings", "definition": definition, "form": form},
        partial="form",
    )


@requires("custom_fields.manage")
@require_http_methods(["GET", "POST"])
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _organization(request)
    definition = _definition_or_404(request, pk)
    if request.method == "POST":
        removed = services.custom_field_definition_delete(
            definition=definition, organization=organization, actor=_actor(request)
        )
        messages.success(
            request,
            f"The field “{definition.label}” was deleted"
            + (f", with its values on {removed} customer(s)." if removed else "."),
        )
        return _redirect(request, _url(request, "customers:fields"))
    return render(
        request,
        "customers/custom_field_confirm_delete.html",
        {
            "nav": "settings",
            "definition": definition,
            "value_count": selectors.customers_with_custom_value(
                organization=organization, key=definition.key
            ),
        },
    )


# --- Export ------------------------------------------------------------------------------------


@requires("customers.export")
@require_GET
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    """The list as CSV, with the list's filters and sort; streamed in keyset batches."""
    organization = _organization(request)
    filterset = selectors.customer_filterset(organization=organization, data=request.GET)
    rows = exports.customer_csv_rows(organization=organization, filterset=filterset)
    return streaming_csv_response(
        rows,
        filename=f"customers-{organization.slug}-{timezone.localdate().isoformat()}.csv",
        organization_id=organization.pk,
        user_id=request.user.pk,
    )


# --- Duplicates and merge ------------------------------------------------------------------------


@requires("customers.change")
@require_GET
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Pairs of customers that look like one; ?customer=<pk> narrows to one customer's."""
    organization = _organization(request)
    customer = None
    pairs: Any  # a lazy sequence of DuplicatePair, paged by the Paginator
    if request.GET.get("customer", "").isdigit():
        customer = _customer_or_404(request, int(request.GET["customer"]))
        pairs = selectors.duplicates_of(customer)
    else:
        number = request.GET.get("page", "")
        pairs = selectors.duplicate_pairs(
            organization=organization,
            page=int(number) if number.isdigit() else 1,
            per_page=PAGE_SIZE,
        )
    page_obj = Paginator(pairs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "customers/duplicates.html",
        {
            "nav": "customers",
            "page_obj": page_obj,
            "customer": customer,
            "query_string": params.urlencode(),
            "group_limit": selectors.DUPLICATE_GROUP_LIMIT,
        },
    )


def _flat_messages(error: ValidationError) -> list[str]:
    """A service's errors as sentences naming their field, for a form-wide error list."""
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    return [
        f"{key.replace('_', ' ').capitalize()}: {message}"
        for key, messages_ in error.message_dict.items()
        for message in messages_
    ]


def _merge_party_or_gone(request: HttpRequest, pk: int) -> Customer | HttpResponse:
    """The customer, or (when it was merged away already) a page saying into whom; else 404."""
    organization = _organization(request)
    customer = selectors.customer_get(organization=organization, pk=pk)
    if customer is not None:
        return customer
    kept = selectors.merged_into(organization=organization, pk=pk)
    if kept is None:
        raise Http404("No such customer.")
    return render(
        request,
        "customers/customer_merge.html",
        {"nav": "customers", "already_merged_into": kept, "missing_pk": pk},
        status=409,
    )


@requires("customers.delete")
@require_http_methods(["GET", "POST"])
def customer_merge(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    """Compare two customers side by side; POST merges the other one into this one (kept).

    Merging deletes the other customer, so it needs the permission to delete customers.
    """
    organization = _organization(request)
    target = _merge_party_or_gone(request, pk)
    if isinstance(target, HttpResponse):
        return target
    source = _merge_party_or_gone(request, other_pk)
    if isinstance(source, HttpResponse):
        return source
    problems = services.merge_problems(source=source, target=target)
    form = MergeForm(
        request.POST if request.method == "POST" and not problems else None,
        source=source,
        target=target,
        definitions=services.custom_field_definitions(organization=organization),
    )
    if request.method == "POST" and not problems and form.is_valid():
        try:
            merged = services.customer_merge(
                organization=organization,
                actor=_actor(request),
                source=source,
                target=target,
                field_choices=form.field_choices(),
            )
        except ValidationError as error:
            for message in _flat_messages(error):
                form.add_error(None, message)
        else:
            messages.success(request, f"{source.name} was merged into {merged.name}.")
            return _redirect(request, _url(request, "customers:detail", pk=merged.pk))
    context = {
        "nav": "customers",
        "target": target,
        "source": source,
        "form": form,
        "problems": problems,
        "target_moves": selectors.customer_related_counts(target) if not problems else [],
        "source_moves": selectors.customer_related_counts(source) if not problems else [],
    }
    status = 400 if problems or form.errors else 200
    return render(request, "customers/customer_merge.html", context, status=status)
