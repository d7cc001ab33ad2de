"""Customers, companies, consent and custom field definitions over the API."""

import datetime

import pytest
from django.utils import timezone

from crm.models import AuditEntry
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import ConsentEvent, Customer, CustomFieldDefinition
from tests.api.helpers import API, all_pages, key_client, make_key, results
from tests.conftest import member_client
from tests.customers.helpers import add_company, add_customer, add_field
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def fields_of(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_create_read_update_delete_a_customer(api_a, org_a, owner_a):
    company = add_company(org_a, "Acme Ltd")
    add_field(org_a, label="Loyalty number", field_type="text")
    created = api_a.post(
        API + "customers/",
        {
            "name": "Ann Archer",
            "emails": ["ANN@example.com"],
            "phones": ["+1 415 555 0100"],
            "company": company.pk,
            "owner": owner_a.pk,
            "tags": ["VIP"],
            "custom_fields": {"loyalty_number": "L-1"},
            "external_id": "shop-1",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["emails"] == ["ann@example.com"]
    assert body["tags"] == ["vip"]
    assert body["company"] == company.pk
    assert body["custom_fields"] == {"loyalty_number": "L-1"}
    url = API + f"customers/{body['id']}/"
    assert api_a.get(url).json() == body

    patched = api_a.patch(url, {"city": "Leeds", "custom_fields": {}}, format="json")
    assert patched.status_code == 200
    assert patched.json()["city"] == "Leeds"
    assert patched.json()["custom_fields"] == {"loyalty_number": "L-1"}  # PATCH merges
    removed = api_a.patch(url, {"custom_fields": {"loyalty_number": None}}, format="json")
    assert removed.json()["custom_fields"] == {}

    assert api_a.delete(url).status_code == 204
    assert api_a.get(url).status_code == 404
    with tenant_context(org_a.pk):
        actions = list(
            AuditEntry.objects.filter(object_type="customers.customer", object_id=str(body["id"]))
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == ["create", "update", "update", "delete"]
        assert AuditEntry.objects.filter(actor=owner_a).exists()


def test_custom_field_errors_name_the_field(api_a, org_a):
    add_field(org_a, label="Shoe size", field_type="number")
    response = api_a.post(
        API + "customers/",
        {"name": "Ann", "custom_fields": {"shoe_size": "big", "colour": "red"}},
        format="json",
    )
    assert fields_of(response) == {
        "custom_fields.shoe_size": ["Enter a number."],
        "custom_fields.colour": ["Unknown custom field."],
    }


def test_companies_list_only_companies_with_their_people(api_a, org_a):
    acme = add_company(org_a, "Acme Ltd")
    add_customer(org_a, "Ann", company=acme)
    add_customer(org_a, "Bob", company=acme)
    add_customer(org_a, "Cat")
    rows = results(api_a.get(API + "companies/"))
    assert [(row["name"], row["people_count"], row["kind"]) for row in rows] == [
        ("Acme Ltd", 2, "company")
    ]
    created = api_a.post(API + "companies/", {"name": "Beta GmbH", "kind": "person"}, format="json")
    assert created.status_code == 201
    assert created.json()["kind"] == "company"


def test_customers_are_filtered_like_the_list_page(api_a, org_a, owner_a):
    add_customer(org_a, "Ann Archer", emails=["ann@example.com"], tags=["vip"])
    add_customer(org_a, "Bob Baker", lifecycle_stage="customer", owner=owner_a)
    add_company(org_a, "Acme Ltd")

    def names(**params):
        return sorted(row["name"] for row in results(api_a.get(API + "customers/", params)))

    assert names(q="ann@example") == ["Ann Archer"]
    assert names(tag="VIP") == ["Ann Archer"]
    assert names(lifecycle_stage="customer") == ["Bob Baker"]
    assert names(owner=owner_a.pk) == ["Bob Baker"]
    assert names(kind="company") == ["Acme Ltd"]
    ordered = results(api_a.get(API + "customers/", {"ordering": "-name"}))
    assert [row["name"] for row in ordered] == ["Bob Baker", "Ann Archer", "Acme Ltd"]


def test_cursor_pagination_walks_every_row_once(api_a, org_a):
    for number in range(7):
        add_customer(org_a, f"Customer {number}")
    first = api_a.get(API + "customers/", {"page_size": 3})
    body = first.json()
    assert len(body["results"]) == 3 and body["next"] and body["previous"] is None
    rows = all_pages(api_a, API + "customers/", page_size=3, ordering="name")
    assert [row["name"] for row in rows] == [f"Customer {n}" for n in range(7)]


def test_updated_since_returns_what_changed(api_a, org_a):
    old = add_customer(org_a, "Old")
    fresh = add_customer(org_a, "Fresh")
    long_ago = timezone.now() - datetime.timedelta(days=3)
    with tenant_context(org_a.pk):
        Customer.objects.filter(pk=old.pk).update(updated_at=long_ago)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    rows = results(api_a.get(API + "customers/", {"updated_since": since}))
    assert [row["id"] for row in rows] == [fresh.pk]
    day = (timezone.now() - datetime.timedelta(days=5)).date().isoformat()
    assert len(results(api_a.get(API + "customers/", {"updated_since": day}))) == 2


def test_consent_is_readable(api_a, org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    with tenant_context(org_a.pk):
        services.consent_record(
            customer=ann,
            organization=org_a,
            actor=owner_a,
            channel="email",
            granted=True,
            method="form",
        )
    current = api_a.get(API + f"customers/{ann.pk}/consent/").json()
    by_channel = {row["channel"]: row for row in current}
    assert by_channel["email"]["granted"] is True
    assert by_channel["sms"]["granted"] is None
    history = results(api_a.get(API + "consents/", {"customer": ann.pk}))
    assert [(row["channel"], row["granted"]) for row in history] == [("email", True)]
    assert api_a.post(API + "consents/", {}, format="json").status_code == 405


def test_custom_field_definitions_are_managed_by_admins(api_a, org_a):
    created = api_a.post(
        API + "custom-fields/",
        {"label": "Tier", "field_type": "choice", "choices": ["gold", "silver"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["key"] == "tier"
    url = API + f"custom-fields/{created.json()['id']}/"
    assert api_a.patch(url, {"label": "Loyalty tier"}, format="json").json()["label"] == (
        "Loyalty tier"
    )
    assert fields_of(api_a.patch(url, {"key": "other"}, format="json")) == {
        "key": ["The key cannot change once values are stored under it."]
    }
    _, sales = member_client(org_a, Role.SALES)
    headers = {"HTTP_X_ORGANIZATION": org_a.slug}
    assert sales.get(API + "custom-fields/", **headers).status_code == 200
    denied = sales.post(
        API + "custom-fields/",
        {"label": "X", "field_type": "text"},
        content_type="application/json",
        **headers,
    )
    assert denied.status_code == 403
    assert api_a.delete(url).status_code == 204
    with tenant_context(org_a.pk):
        assert not CustomFieldDefinition.objects.exists()


def test_only_leads_delete_customers(org_a):
    ann = add_customer(org_a, "Ann")
    user, _ = member_client(org_a, Role.SALES)
    _, key = make_key(org_a, user)
    response = key_client(key).delete(API + f"customers/{ann.pk}/")
    assert response.status_code == 403
    with tenant_context(org_a.pk):
        assert Customer.objects.filter(pk=ann.pk).exists()


def test_another_organizations_ids_get_404_in_urls_and_400_in_bodies(api_a, org_a, org_b):
    theirs = add_customer(org_b, "Bob of B")
    their_company = add_company(org_b, "Bravo Ltd")
    url = API + f"customers/{theirs.pk}/"
    assert api_a.get(url).status_code == 404
    assert api_a.patch(url, {"name": "Hacked"}, format="json").status_code == 404
    assert api_a.delete(url).status_code == 404
    assert api_a.get(API + f"customers/{theirs.pk}/consent/").status_code == 404
    response = api_a.post(
        API + "customers/", {"name": "Ann", "company": their_company.pk}, format="json"
    )
    assert list(fields_of(response)) == ["company"]
    with tenant_context(org_b.pk):
        assert Customer.objects.get(pk=theirs.pk).name == "Bob of B"
    with tenant_context(org_a.pk):
        assert not Customer.objects.exists()
        assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("path", ["customers/", "companies/", "consents/", "members/"])
def test_list_queries_do_not_grow_with_the_rows(
    api_a, org_a, owner_a, django_assert_max_num_queries, path
):
    def add(count):
        for _ in range(count):
            company = add_company(org_a, "Co")
            person = add_customer(org_a, "Person", company=company, owner=owner_a)
            with tenant_context(org_a.pk):
                services.consent_record(
                    customer=person,
                    organization=org_a,
                    actor=owner_a,
                    channel="email",
                    granted=True,
                    method="form",
                )
            make_member(org_a, Role.SALES)

    add(3)
    with django_assert_max_num_queries(8) as small:
        assert api_a.get(API + path).status_code == 200
    add(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert api_a.get(API + path).status_code == 200
