"""Webhook settings pages for admins: endpoints, their secret, test events and delivery logs."""

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from crm.htmx import wants_partial
from crm.permissions import requires
from crm.views.accounts import OrganizationRequest, add_service_errors
from crm.webhooks import selectors, services
from crm.webhooks.forms import EndpointForm
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint

ENDPOINTS_PER_PAGE = 25
DELIVERIES_PER_PAGE = 25
# The session remembers which endpoint's secret to show once, after creating or rotating it.
SHOW_SECRET_SESSION_KEY = "webhooks_show_secret"


@dataclass(frozen=True)
class DeliveryRow:
    delivery: WebhookDelivery
    payload_json: str


def _endpoint_or_404(request: OrganizationRequest, pk: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(organization=request.organization, pk=pk)
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


def _context(**extra: Any) -> dict[str, Any]:
    return {"nav": "settings", "settings_nav": "webhooks", **extra}


def _to_detail(request: OrganizationRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    return redirect("webhooks:detail", org_slug=request.organization.slug, pk=endpoint.pk)


@requires("webhooks.manage")
def endpoint_list(request: OrganizationRequest) -> HttpResponse:
    endpoints = selectors.endpoint_list(organization=request.organization)
    page_obj = Paginator(endpoints, ENDPOINTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "webhooks/endpoint_list.html", _context(page_obj=page_obj, endpoints=page_obj)
    )


def _form_page(
    request: OrganizationRequest, form: EndpointForm, endpoint: WebhookEndpoint | None
) -> HttpResponse:
    return render(request, "webhooks/endpoint_form.html", _context(form=form, endpoint=endpoint))


@requires("webhooks.manage")
@require_http_methods(["GET", "POST"])
def endpoint_create(request: OrganizationRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            request.session[SHOW_SECRET_SESSION_KEY] = endpoint.pk
            messages.success(request, "Endpoint added. Copy its signing secret now.")
            return _to_detail(request, endpoint)
    return _form_page(request, form, None)


@requires("webhooks.manage")
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: OrganizationRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_update(
                organization=request.organization,
                actor=request.user,
                endpoint=endpoint,
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return _to_detail(request, endpoint)
    return _form_page(request, form, endpoint)


def _render_detail(
    request: OrganizationRequest, endpoint: WebhookEndpoint, *, show_secret: bool = False
) -> HttpResponse:
    deliveries = selectors.delivery_list(organization=request.organization, endpoint=endpoint)
    page_obj = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        DeliveryRow(
            delivery=delivery,
            payload_json=json.dumps(delivery.payload, indent=2, sort_keys=True),
        )
        for delivery in page_obj
    ]
    template = "webhooks/endpoint_detail.html"
    if wants_partial(request):
        template += "#secret" if request.method == "POST" else "#deliveries"
    response = render(
        request,
        template,
        _context(endpoint=endpoint, page_obj=page_obj, rows=rows, show_secret=show_secret),
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@never_cache
@requires("webhooks.manage")
def endpoint_detail(request: OrganizationRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    show_secret = request.session.get(SHOW_SECRET_SESSION_KEY) == endpoint.pk
    if show_secret:
        del request.session[SHOW_SECRET_SESSION_KEY]
    return _render_detail(request, endpoint, show_secret=show_secret)


@never_cache
@requires("webhooks.manage")
@require_POST
def endpoint_secret(request: OrganizationRequest, pk: int) -> HttpResponse:
    """Reveal the signing secret (a POST, so it is never in a link, a log or a cache)."""
    return _render_detail(request, _endpoint_or_404(request, pk), show_secret=True)


@requires("webhooks.manage")
@require_POST
def endpoint_rotate_secret(request: OrganizationRequest, pk: int) -> HttpResponse:
    endpoint = services.webhook_endpoint_rotate_secret(
        organization=request.organization,
        actor=request.user,
        endpoint=_endpoint_or_404(request, pk),
    )
    request.session[SHOW_SECRET_SESSION_KEY] = endpoint.pk
    messages.success(request, "New signing secret made: update your receiver with it.")
    return _to_detail(request, endpoint)


@requires("webhooks.manage")
@require_POST
def endpoint_set_active(request: OrganizationRequest, pk: int) -> HttpResponse:
    active = request.POST.get("active") == "1"
    endpoint = services.webhook_endpoint_set_active(
        organization=request.organization,
        actor=request.user,
        endpoint=_endpoint_or_404(request, pk),
        active=active,
    )
    messages.success(request, "Endpoint enabled." if active else "Endpoint disabled.")
    return _to_detail(request, endpoint)


@requires("webhooks.manage")
@require_POST
def endpoint_test(request: OrganizationRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    services.webhook_send_test(
        organization=request.organization, actor=request.user, endpoint=endpoint
    )
    messages.success(request, "Test event queued; it appears in the delivery log below.")
    return _to_detail(request, endpoint)


@requires("webhooks.manage")
@require_POST
def endpoint_delete(request: OrganizationRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    services.webhook_endpoint_delete(
        organization=request.organization, actor=request.user, endpoint=endpoint
    )
    messages.success(request, f"Endpoint {endpoint.url} removed.")
    return redirect("webhooks:list", org_slug=request.organization.slug)


@requires("webhooks.manage")
@require_POST
def delivery_redeliver(request: OrganizationRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, pk)
    delivery = selectors.delivery_get(
        organization=request.organization, endpoint=endpoint, pk=delivery_pk
    )
    if delivery is None:
        raise Http404("No such delivery.")
    services.webhook_redeliver(
        organization=request.organization, actor=request.user, delivery=delivery
    )
    messages.success(request, f"Event {delivery.event} queued again.")
    return _to_detail(request, endpoint)
