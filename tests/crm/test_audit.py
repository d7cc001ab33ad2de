"""The audit log page: entries with before/after, filters, pagination, bounded queries."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.services import audit_record
from crm.tenancy import tenant_context
from tests.factories import make_member

pytestmark = pytest.mark.django_db

URL = reverse("audit_log", kwargs={"org_slug": "acme"})


def add_entries(
    organization: Organization, actor: User | None, count: int, **fields: Any
) -> list[AuditEntry]:
    entries = []
    with tenant_context(organization.pk):
        for number in range(count):
            entries.append(
                AuditEntry.objects.create(
                    organization=organization,
                    actor=actor,
                    action=fields.get("action", "update"),
                    object_type=fields.get("object_type", "customers.customer"),
                    object_id=str(fields.get("object_id", number + 1)),
                    object_repr=fields.get("object_repr", f"Customer {number + 1}"),
                    changes=fields.get("changes", {"name": [f"Old {number}", f"New {number}"]}),
                )
            )
    return entries


def test_entries_show_who_when_what_and_before_after(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    with tenant_context(org_a.pk):
        audit_record(
            organization=org_a,
            actor=owner_a,
            action="update",
            instance=org_a,
            changes={
                "name": ["Acme", "Acme <b>Retail</b>"],
                "tags": [["vip"], ["vip", "returns"]],
                "email": [None, "a@example.test"],
            },
        )
    response = client_a.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ada Owner" in page and "Updated" in page and "crm.organization" in page
    assert "<del>Acme</del> → <ins>Acme &lt;b&gt;Retail&lt;/b&gt;</ins>" in page  # escaped
    assert "<del>vip</del> → <ins>vip, returns</ins>" in page
    assert "<del>—</del> → <ins>a@example.test</ins>" in page
    assert 'aria-current="page">Audit log' in page


def test_newest_first_and_paginated_by_fifty(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    add_entries(org_a, owner_a, 55)
    first = client_a.get(URL)
    rows = first.context["rows"]
    assert len(rows) == 50
    assert rows[0].entry.object_repr == "Customer 55"
    assert first.context["page_obj"].paginator.num_pages == 2
    second = client_a.get(URL + "?page=2")
    assert [row.entry.object_repr for row in second.context["rows"]] == [
        f"Customer {n}" for n in range(5, 0, -1)
    ]


def test_filter_by_object_and_by_actor(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    colleague = make_member(org_a, Role.ADMIN, full_name="Cole League")
    add_entries(org_a, owner_a, 3, object_id=5, object_repr="Alice")
    add_entries(org_a, colleague, 2, object_id=6, object_repr="Bob")
    add_entries(org_a, colleague, 1, object_type="crm.membership", object_id=5, object_repr="M")

    by_object = client_a.get(URL, {"object_type": "customers.customer", "object_id": "5"})
    assert [row.entry.object_repr for row in by_object.context["rows"]] == ["Alice"] * 3
    assert "Clear filters" in by_object.content.decode()
    # Pagination links keep the filters.
    assert by_object.context["query_string"] == "object_type=customers.customer&object_id=5"

    by_actor = client_a.get(URL, {"actor": colleague.pk})
    assert sorted(row.entry.object_repr for row in by_actor.context["rows"]) == ["Bob", "Bob", "M"]

    both = client_a.get(URL, {"actor": colleague.pk, "object_type": "crm.membership"})
    assert [row.entry.object_repr for row in both.context["rows"]] == ["M"]

    nothing = client_a.get(URL, {"object_type": "customers.customer", "object_id": "999"})
    assert "No entries match these filters." in nothing.content.decode()


def test_an_actor_from_another_organization_is_a_form_error(
    client_a: Client, org_a: Organization, owner_a: User, owner_b: User
) -> None:
    add_entries(org_a, owner_a, 2)
    response = client_a.get(URL, {"actor": owner_b.pk})
    assert "Select a valid choice" in " ".join(response.context["form"].errors["actor"])
    assert response.context["rows"] == []


def test_only_this_organizations_entries_are_listed(
    client_a: Client, org_a: Organization, org_b: Organization, owner_a: User, owner_b: User
) -> None:
    add_entries(org_a, owner_a, 1, object_repr="Ours")
    add_entries(org_b, owner_b, 1, object_repr="Theirs")
    page = client_a.get(URL).content.decode()
    assert "Ours" in page and "Theirs" not in page


def test_empty_state(client_a: Client) -> None:
    assert "Nothing has been recorded yet." in client_a.get(URL).content.decode()


@pytest.mark.parametrize("count", [3, 40])
def test_query_count_does_not_grow_with_entries(
    count: int,
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    colleagues = [make_member(org_a, Role.ADMIN) for _ in range(3)]
    for index in range(count):
        add_entries(org_a, colleagues[index % 3], 1)
    with django_assert_max_num_queries(10):
        response = client_a.get(URL)
    assert len(response.context["rows"]) == count


def test_sales_and_viewers_cannot_see_the_audit_log(org_a: Organization) -> None:
    from tests.conftest import member_client

    for role in (Role.SALES, Role.VIEWER, Role.MANAGER):
        _user, client = member_client(org_a, role)
        assert client.get(URL).status_code == 403
