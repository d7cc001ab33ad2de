"""What the interactions views share: the typed request, partial detection, lookups."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from crm.models import Membership, Organization
from customers.models import Customer
from interactions.selectors import organization_timezone

PAGE_SIZE = 25


class OrgRequest(HttpRequest):
    """A request under /<org_slug>/: TenantMiddleware has set the organization and member."""

    organization: Organization
    membership: Membership
    htmx: HtmxDetails


def is_partial(request: OrgRequest) -> bool:
    """HTMX requests that are not boosted get the partial; others the full page."""
    return bool(request.htmx) and not request.htmx.boosted


def get_customer(request: OrgRequest, pk: int) -> Customer:
    """The organization's customer, or 404 (another tenant's id included)."""
    return get_object_or_404(Customer, organization=request.organization, pk=pk)


def paginate(request: OrgRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def in_organization_timezone(view: ViewFunc) -> ViewFunc:
    """Show and read times (forms, templates) in the organization's time zone."""

    @functools.wraps(view)
    def wrapper(request: OrgRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(organization_timezone(request.organization)):
            return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
