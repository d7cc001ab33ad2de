"""Tenant isolation on the customer pages: another organization's ids give 404 or a form error."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import selectors
from customers.models import ConsentEvent, Customer, CustomFieldDefinition
from tests.customers.helpers import add_company, add_customer, add_field
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def url(name: str, organization: Organization, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": organization.slug, **kwargs})


def test_member_of_a_gets_404_for_b_customer_urls(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    theirs = add_customer(org_b, "Bravo Customer", emails=["b@bravo.example"])
    for name in ("detail", "edit", "delete"):
        # B's id under A's URL, and A's member under B's URL: neither reveals anything.
        assert client_a.get(url(name, org_a, pk=theirs.pk)).status_code == 404, name
        assert client_a.get(url(name, org_b, pk=theirs.pk)).status_code == 404, name
    assert client_a.post(url("edit", org_a, pk=theirs.pk), {"name": "Hacked"}).status_code == 404
    assert client_a.post(url("delete", org_a, pk=theirs.pk)).status_code == 404
    consent = {"channel": "email", "granted": "yes", "method": "form"}
    assert client_a.post(url("consent", org_a, pk=theirs.pk), consent).status_code == 404
    with tenant_context(org_b.pk):
        theirs.refresh_from_db()
        assert theirs.name == "Bravo Customer"
        assert ConsentEvent.objects.count() == 0
    with tenant_context(org_a.pk):
        assert AuditEntry.objects.count() == 0


def test_b_custom_field_urls_are_404_for_a(
    client_a: Client, org_a: Organization, org_b: Organization
) -> None:
    definition = add_field(org_b, key="code", label="Code", field_type="text")
    assert client_a.get(url("field_edit", org_a, pk=definition.pk)).status_code == 404
    assert client_a.post(url("field_delete", org_a, pk=definition.pk)).status_code == 404
    with tenant_context(org_b.pk):
        assert CustomFieldDefinition.objects.filter(pk=definition.pk).exists()


def test_posting_b_company_or_b_member_in_a_form_is_a_form_error(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    their_company = add_company(org_b, "Bravo Corp")
    their_sales = make_member(org_b, Role.SALES)
    base = {"kind": "person", "name": "Sneaky", "lifecycle_stage": "lead"}
    response = client_a.post(url("create", org_a), {**base, "company": their_company.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["form"].errors["company"][0]
    for owner in (owner_b, their_sales):
        response = client_a.post(
            url("create", org_a), {**base, "owner": owner.pk}, HTTP_HX_REQUEST="true"
        )
        assert "Select a valid choice" in response.content.decode()
    mine = add_customer(org_a, "Mine")
    response = client_a.post(url("edit", org_a, pk=mine.pk), {**base, "company": their_company.pk})
    assert "company" in response.context["form"].errors
    with tenant_context(org_a.pk):
        assert list(Customer.objects.values_list("name", flat=True)) == ["Mine"]
    with tenant_context(org_b.pk):
        assert Customer.objects.get(pk=their_company.pk).name == "Bravo Corp"


def test_search_and_filters_never_return_b_customers(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    add_customer(org_a, "John Smith", phones=["+44 20 7946 0001"], tags=["vip"])
    theirs = add_customer(
        org_b, "John Smithson", phones=["+44 20 7946 0001"], tags=["vip"], owner=owner_b
    )
    for params in ({"q": "smith"}, {"q": "0001"}, {"tag": "vip"}, {"q": "john", "kind": "person"}):
        content = client_a.get(url("list", org_a), params).content.decode()
        assert "John Smith" in content and "Smithson" not in content, params
    content = client_a.get(url("list", org_a), {"owner": owner_b.pk}).content.decode()
    assert "Smithson" not in content
    with tenant_context(org_a.pk):
        found = selectors.customer_list(organization=org_a, filters={"q": "smithson"})
        assert list(found) == []
        assert selectors.customer_get(organization=org_a, pk=theirs.pk) is None
