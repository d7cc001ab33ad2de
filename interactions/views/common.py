"""What the interactions views share: the typed request, partial detection, lookups."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django_htmx.middleware import HtmxDetails

from crm.models import Membership, Organization
from customers.models import Customer

PAGE_SIZE = 25


class OrgRequest(HttpRequest):
    """A request under /<org_slug>/: TenantMiddleware has set the organization and member."""

    organization: Organization
    membership: Membership
    htmx: HtmxDetails


def get_customer(request: OrgRequest, pk: int) -> Customer:
    """The organization's customer, or 404 (another tenant's id included)."""
    return get_object_or_404(Customer, organization=request.organization, pk=pk)


def paginate(request: OrgRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])
