"""Generated from the OpenAPI schema: every operation on an object of another organization,
with tenant A's key, answers 404 and changes nothing (new endpoints are covered automatically;
a new resource needs a tenant-B object in `objects_of_b` below)."""

import pytest
from django.test import Client

from crm.models import AuditEntry, Membership
from crm.tenancy import tenant_context
from customers.models import ConsentEvent
from interactions.models import Case, PurchaseLine
from tests.api.helpers import API
from tests.customers.helpers import add_field
from tests.interactions.helpers import add_customer, add_interaction, add_product, add_task

pytestmark = pytest.mark.django_db

BODY = {"name": "x", "title": "x", "status": "closed", "assignee": None, "label": "x"}


def objects_of_b(org_b, owner_b) -> dict[str, int]:
    """One object of tenant B per resource (the first path segment after /api/v1/)."""
    customer = add_customer(org_b, "Bob of B")
    company = add_customer(org_b, "Bravo Ltd", kind="company")
    product = add_product(org_b, "B-1")
    purchase = add_interaction(customer, kind="purchase")
    with tenant_context(org_b.pk):
        line = PurchaseLine.objects.create(
            organization=org_b, interaction=purchase, product=product, unit_price=1
        )
        case = Case.objects.create(
            organization=org_b,
            number=1,
            customer=customer,
            subject="S",
            due_at=purchase.occurred_at,
        )
        consent = ConsentEvent.objects.create(
            organization=org_b, customer=customer, channel="email", granted=True, method="form"
        )
        member = Membership.objects.get(user=owner_b)
    return {
        "customers": customer.pk,
        "companies": company.pk,
        "consents": consent.pk,
        "custom-fields": add_field(org_b, label="Tier", field_type="text").pk,
        "members": member.pk,
        "interactions": purchase.pk,
        "purchase-lines": line.pk,
        "products": product.pk,
        "cases": case.pk,
        "tasks": add_task(customer).pk,
    }


def b_state(org_b):
    with tenant_context(org_b.pk):
        return AuditEntry.objects.count(), list(
            Case.objects.values_list("status", "assignee_id", "subject")
        )


def test_every_operation_on_another_tenants_object_is_404(api_a, org_a, org_b, owner_b):
    ids = objects_of_b(org_b, owner_b)
    schema = Client().get(API + "schema/", HTTP_ACCEPT="application/json").json()
    before = b_state(org_b)
    tried = 0
    for path, operations in schema["paths"].items():
        if "{id}" not in path:
            continue
        resource = path.removeprefix("/api/v1/").split("/")[0]
        assert resource in ids, f"add a tenant-B {resource} to objects_of_b"
        url = path.replace("{id}", str(ids[resource]))
        for method in operations:
            if method not in {"get", "put", "patch", "delete", "post"}:
                continue
            response = (
                getattr(api_a, method)(url, BODY, format="json")
                if method != "get"
                else (api_a.get(url))
            )
            assert response.status_code == 404, (method, url, response.content)
            assert response.json()["error"]["code"] == "not_found"
            tried += 1
    assert tried >= 20
    assert b_state(org_b) == before


def test_every_create_naming_another_tenants_object_is_400(api_a, org_a, org_b, owner_b):
    ids = objects_of_b(org_b, owner_b)
    schema = Client().get(API + "schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    related = {
        "customer": "customers",
        "company": "companies",
        "case": "cases",
        "interaction": "interactions",
        "product": "products",
    }
    with tenant_context(org_a.pk):
        audits = AuditEntry.objects.count()
    tried = 0
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if "{" in path or not post or "requestBody" not in post:
            continue
        ref = post["requestBody"]["content"]["application/json"]["schema"].get("$ref", "")
        properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
        for field, resource in related.items():
            if field not in properties or resource not in ids:
                continue
            body = {"name": "x", "title": "x", "subject": "x", "kind": "note", field: ids[resource]}
            response = api_a.post(path, body, format="json")
            assert response.status_code == 400, (path, field, response.content)
            assert field in response.json()["error"]["fields"], (path, field)
            tried += 1
    assert tried >= 5
    with tenant_context(org_a.pk):
        assert AuditEntry.objects.count() == audits
