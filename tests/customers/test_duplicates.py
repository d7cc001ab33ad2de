"""Duplicate detection (selectors) and the duplicates page."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Organization
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import selectors
from customers.models import Customer
from tests.conftest import member_client
from tests.customers.helpers import add_company, add_customer

pytestmark = pytest.mark.django_db

# Session, membership and the switcher, then the count, the page of pairs and their customers.
PAGE_QUERIES = 8


def url(name: str, organization: Organization, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": organization.slug, **kwargs})


def pairs_of(organization: Organization) -> dict[tuple[str, str], tuple[str, ...]]:
    """Every candidate pair as (first name, second name) -> reasons."""
    with tenant_context(organization.pk):
        found = selectors.duplicate_pairs(organization=organization)[:]
    return {(pair.first.name, pair.second.name): pair.reasons for pair in found}


# --- Detection -------------------------------------------------------------------------------


def test_same_email_is_found_whatever_its_case(org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee", emails=["Ann@Example.com"])
    add_customer(org_a, "A. Lee", emails=["other@example.com", "ann@example.COM"])
    add_customer(org_a, "Bob Stone", emails=["bob@example.com"])
    assert pairs_of(org_a) == {("Ann Lee", "A. Lee"): ("email",)}


def test_same_phone_is_found_whatever_its_punctuation(org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee", phones=["+44 20 7946 0958"])
    add_customer(org_a, "Mrs Lee", phones=["+44 (20) 7946-0958"])
    add_customer(org_a, "Bob Stone", phones=["+44 20 7946 0959"])
    assert pairs_of(org_a) == {("Ann Lee", "Mrs Lee"): ("phone",)}


def test_names_match_ignoring_case_accents_and_spacing(org_a: Organization) -> None:
    add_customer(org_a, "José  Álvarez")
    add_customer(org_a, "jose alvarez ")
    add_customer(org_a, "Jose Alvares")
    pair = {("José  Álvarez", "jose alvarez"): ("name",)}
    assert pairs_of(org_a) == pair


def test_a_person_and_a_company_are_never_duplicates(org_a: Organization) -> None:
    add_customer(org_a, "Acme", emails=["info@acme.example"])
    add_company(org_a, "Acme", emails=["info@acme.example"])
    assert pairs_of(org_a) == {}


def test_pairs_sharing_more_reasons_come_first_with_every_reason(org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee", emails=["ann@example.com"], phones=["+442079460958"])
    add_customer(org_a, "Ann Lee", emails=["ann@example.com"], phones=["+442079460958"])
    add_customer(org_a, "Bo Ek")
    add_customer(org_a, "Bo Ek")
    with tenant_context(org_a.pk):
        found = selectors.duplicate_pairs(organization=org_a)[0:10]
    assert [pair.reasons for pair in found] == [("email", "name", "phone"), ("name",)]
    assert found[0].reason_texts == [
        "Same e-mail: ann@example.com",
        "Similar name",
        "Same phone: +442079460958",
    ]


def test_another_organizations_customers_are_never_paired(
    org_a: Organization, org_b: Organization
) -> None:
    add_customer(org_a, "Ann Lee", emails=["ann@example.com"])
    add_customer(org_b, "Ann Lee", emails=["ann@example.com"])
    assert pairs_of(org_a) == {}
    assert pairs_of(org_b) == {}


def test_duplicates_of_one_customer_with_reasons_and_count(org_a: Organization) -> None:
    ann = add_customer(org_a, "Ann Lee", emails=["ann@example.com"], phones=["+442079460958"])
    add_customer(org_a, "Annie", emails=["ann@example.com"])
    add_customer(org_a, "ann lee")
    add_customer(org_a, "Someone Else", phones=["+442079460958"])
    add_customer(org_a, "Unrelated")
    with tenant_context(org_a.pk):
        found = selectors.duplicates_of(ann)[0:10]
        count = selectors.duplicate_count_of(ann)
    assert {pair.second.name: pair.reasons for pair in found} == {
        "Annie": ("email",),
        "ann lee": ("name",),
        "Someone Else": ("phone",),
    }
    assert count == 3
    assert all(pair.first.pk == ann.pk for pair in found)


def test_a_customer_without_contact_details_only_matches_by_name(org_a: Organization) -> None:
    lone = add_customer(org_a, "Lone Ranger")
    add_customer(org_a, "Other", emails=["x@example.com"])
    with tenant_context(org_a.pk):
        assert selectors.duplicates_of(lone)[0:10] == []
        assert selectors.duplicate_count_of(lone) == 0


# --- The page --------------------------------------------------------------------------------


def test_page_lists_pairs_with_reasons_and_merge_links(
    client_a: Client, org_a: Organization
) -> None:
    ann = add_customer(org_a, "Ann Lee", emails=["ann@example.com"])
    other = add_customer(org_a, "Ann L.", emails=["ann@example.com"])
    response = client_a.get(url("duplicates", org_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 possible duplicate" in html
    assert "Same e-mail: ann@example.com" in html
    assert url("merge", org_a, pk=ann.pk, other_pk=other.pk) in html


def test_page_empty_state(client_a: Client, org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee")
    response = client_a.get(url("duplicates", org_a))
    assert response.status_code == 200
    assert "No possible duplicates" in response.content.decode()


def test_page_narrowed_to_one_customer(client_a: Client, org_a: Organization) -> None:
    ann = add_customer(org_a, "Ann Lee", emails=["ann@example.com"])
    add_customer(org_a, "Annie", emails=["ann@example.com"])
    add_customer(org_a, "Bo Ek")
    add_customer(org_a, "Bo Ek")
    response = client_a.get(url("duplicates", org_a), {"customer": ann.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Possible duplicates of Ann Lee" in html
    assert "Annie" in html
    assert "Bo Ek" not in html


def test_another_organizations_customer_is_404(
    client_a: Client, org_a: Organization, org_b: Organization
) -> None:
    theirs = add_customer(org_b, "Ann Lee")
    response = client_a.get(url("duplicates", org_a), {"customer": theirs.pk})
    assert response.status_code == 404


def test_page_is_paginated(client_a: Client, org_a: Organization) -> None:
    with tenant_context(org_a.pk):
        Customer.objects.bulk_create(
            [Customer(organization=org_a, name=f"Twin {n // 2}") for n in range(60)]
        )
    first = client_a.get(url("duplicates", org_a)).content.decode()
    assert "30 possible duplicates" in first
    assert "Page 1 of 2" in first
    second = client_a.get(url("duplicates", org_a), {"page": 2}).content.decode()
    assert "Page 2 of 2" in second
    assert second.count("Compare and merge") == 5
    past_the_end = client_a.get(url("duplicates", org_a), {"page": 99}).content.decode()
    assert "Page 2 of 2" in past_the_end
    assert past_the_end.count("Compare and merge") == 5


def test_viewers_cannot_open_the_page(org_a: Organization) -> None:
    _, client = member_client(org_a, Role.VIEWER)
    assert client.get(url("duplicates", org_a)).status_code == 403


def test_sales_see_pairs_but_no_merge_button(org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee", emails=["ann@example.com"])
    add_customer(org_a, "Annie", emails=["ann@example.com"])
    _, client = member_client(org_a, Role.SALES)
    response = client.get(url("duplicates", org_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Annie" in html
    assert "Compare and merge" not in html


def test_customer_page_links_to_its_possible_duplicates(
    client_a: Client, org_a: Organization
) -> None:
    ann = add_customer(org_a, "Ann Lee", emails=["ann@example.com"])
    add_customer(org_a, "Annie", emails=["ann@example.com"])
    html = client_a.get(url("detail", org_a, pk=ann.pk)).content.decode()
    assert "1 possible duplicate" in html
    assert f"{url('duplicates', org_a)}?customer={ann.pk}" in html
    lone = add_customer(org_a, "Lone Ranger")
    assert (
        "possible duplicate" not in client_a.get(url("detail", org_a, pk=lone.pk)).content.decode()
    )


def _make_pairs(organization: Organization, count: int) -> None:
    """`count` pairs, each sharing an e-mail, a phone and a name, with owners."""
    with tenant_context(organization.pk):
        Customer.objects.bulk_create(
            [
                Customer(
                    organization=organization,
                    name=f"Twin {n // 2}",
                    emails=[f"twin{n // 2}@example.com"],
                    phones=[f"+4420794{n // 2:05d}"],
                )
                for n in range(2 * count)
            ]
        )


@pytest.mark.parametrize("count", [5, 15])
def test_page_query_count_does_not_grow(
    client_a: Client, org_a: Organization, count: int, django_assert_max_num_queries: Any
) -> None:
    _make_pairs(org_a, count)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client_a.get(url("duplicates", org_a))
    assert response.status_code == 200
    assert f"{count} possible duplicates" in response.content.decode()


@pytest.mark.parametrize("count", [5, 15])
def test_narrowed_page_query_count_does_not_grow(
    client_a: Client, org_a: Organization, count: int, django_assert_max_num_queries: Any
) -> None:
    ann = add_customer(org_a, "Twin", emails=["twin@example.com"], phones=["+442079460000"])
    add_customer(org_a, "Twin")
    add_customer(org_a, "T.", emails=["twin@example.com"])
    add_customer(org_a, "Tw.", phones=["+442079460000"])
    _make_pairs(org_a, count)  # everyone else's duplicates
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client_a.get(url("duplicates", org_a), {"customer": ann.pk})
    assert "3 possible duplicates" in response.content.decode()


def test_values_shared_by_many_are_no_sign(org_a: Organization) -> None:
    """A switchboard number or a very common name would pair everyone with everyone."""
    ann = add_customer(org_a, "Ann Lee", emails=["ann@example.com"], phones=["+442079460000"])
    add_customer(org_a, "Annie", emails=["ann@example.com"])
    for n in range(selectors.DUPLICATE_GROUP_LIMIT):
        add_customer(org_a, f"Staff {n}", phones=["+442079460000"])
        add_customer(org_a, "John Smith")
    add_customer(org_a, "John Smith")
    add_customer(org_a, "Bo Ek", phones=["+442079469999"])
    add_customer(org_a, "Bo Ek", phones=["+442079469999"])
    assert pairs_of(org_a) == {
        ("Ann Lee", "Annie"): ("email",),
        ("Bo Ek", "Bo Ek"): ("name", "phone"),
    }
    with tenant_context(org_a.pk):
        assert [pair.second.name for pair in selectors.duplicates_of(ann)[0:50]] == ["Annie"]
        assert selectors.duplicate_count_of(ann) == 1
    # Up to the limit (this customer included), a shared value still counts.
    with tenant_context(org_a.pk):
        Customer.objects.filter(organization=org_a, name="Staff 0").delete()
        assert selectors.duplicate_count_of(ann) == 1 + selectors.DUPLICATE_GROUP_LIMIT - 1
