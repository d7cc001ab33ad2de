"""Tenant isolation: a member of A gets 404 for B's objects and a form error (with nothing
written) for B's ids posted in A's forms; the tables are row-level secured."""

import pytest
from django.db import connection
from django.test import Client

from crm.models import Organization, User
from crm.tenancy import tenant_context
from interactions.models import Case, Interaction, Product, PurchaseLine, Task
from tests.interactions.helpers import add_customer, add_interaction, add_product, add_task, ago

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def bravo(org_b: Organization, owner_b: User) -> dict[str, int]:
    """B's customer, case, task, interaction and product (their ids)."""
    customer = add_customer(org_b, "Bob Bravo")
    interaction = add_interaction(customer, subject="Bravo secret")
    task = add_task(customer, "Bravo task", assignee=owner_b)
    product = add_product(org_b, "B-SECRET")
    with tenant_context(org_b.pk):
        case = Case.objects.create(
            organization=org_b, number=1, customer=customer, subject="Bravo case", due_at=ago()
        )
    return {
        "customer": customer.pk,
        "interaction": interaction.pk,
        "task": task.pk,
        "case": case.pk,
        "product": product.pk,
        "user": owner_b.pk,
    }


def counts(organization: Organization) -> tuple[int, ...]:
    with tenant_context(organization.pk):
        return tuple(
            model.objects.count()  # type: ignore[attr-defined]
            for model in (Interaction, PurchaseLine, Case, Task, Product)
        )


def test_bs_objects_are_not_found_for_a_member_of_a(
    org_a: Organization, org_b: Organization, client_a: Client, bravo: dict[str, int]
) -> None:
    customer, case, task = bravo["customer"], bravo["case"], bravo["task"]
    before = counts(org_b)
    for url in (
        f"/acme/customers/{customer}/timeline/",
        f"/acme/customers/{customer}/key-facts/",
        f"/acme/customers/{customer}/interactions/new/",
        f"/acme/customers/{customer}/purchases/new/",
        f"/acme/customers/{customer}/cases/new/",
        f"/acme/customers/{customer}/tasks/new/",
        f"/acme/cases/{case}/",
        f"/acme/products/{bravo['product']}/edit/",
    ):
        assert client_a.get(url).status_code == 404, url
    for url, data in (
        (
            f"/acme/customers/{customer}/interactions/new/",
            {"kind": "note", "channel": "other", "direction": "none", "body": "x"},
        ),
        (f"/acme/customers/{customer}/cases/new/", {"subject": "x", "priority": "low"}),
        (f"/acme/customers/{customer}/tasks/new/", {"title": "x"}),
        (f"/acme/cases/{case}/assign/", {"assignee": ""}),
        (f"/acme/cases/{case}/status/", {"status": "closed"}),
        (f"/acme/tasks/{task}/done/", {}),
        (f"/acme/tasks/{task}/reopen/", {}),
        (f"/acme/products/{bravo['product']}/edit/", {"sku": "x", "name": "x", "price": "1"}),
    ):
        assert client_a.post(url, data, **HTMX).status_code == 404, url
    assert counts(org_b) == before
    with tenant_context(org_b.pk):
        assert Case.objects.get().status == Case.Status.NEW
        assert Task.objects.get().done_at is None
    # Nothing of B leaks onto A's lists.
    for url in ("/acme/cases/?tab=open", "/acme/tasks/", "/acme/products/"):
        html = client_a.get(url).content.decode()
        assert "Bravo" not in html and "B-SECRET" not in html


def test_bs_ids_in_as_forms_are_form_errors(
    org_a: Organization,
    org_b: Organization,
    owner_a: User,
    client_a: Client,
    bravo: dict[str, int],
) -> None:
    customer = add_customer(org_a, "Alice")
    product = add_product(org_a, "A-1")
    with tenant_context(org_a.pk):
        case = Case.objects.create(
            organization=org_a, number=1, customer=customer, subject="Alice's case", due_at=ago()
        )
    before_a, before_b = counts(org_a), counts(org_b)
    invalid = "Select a valid choice"

    response = client_a.post(
        f"/acme/customers/{customer.pk}/purchases/new/",
        {
            "channel": "store",
            "occurred_at": "2024-01-01T10:00",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": bravo["product"],
            "lines-0-quantity": "1",
        },
        **HTMX,
    )
    assert invalid in response.content.decode()

    response = client_a.post(
        f"/acme/customers/{customer.pk}/cases/new/",
        {"subject": "Leak", "priority": "low", "assignee": bravo["user"]},
        **HTMX,
    )
    assert invalid in response.content.decode()

    response = client_a.post(
        f"/acme/customers/{customer.pk}/tasks/new/",
        {"title": "Follow up", "interaction": bravo["interaction"]},
        **HTMX,
    )
    assert invalid in response.content.decode()

    response = client_a.post(
        f"/acme/customers/{customer.pk}/tasks/new/",
        {"title": "Follow up", "assignee": bravo["user"]},
        **HTMX,
    )
    assert invalid in response.content.decode()

    response = client_a.post(f"/acme/cases/{case.pk}/assign/", {"assignee": bravo["user"]}, **HTMX)
    assert invalid in response.content.decode()

    assert counts(org_a) == before_a and counts(org_b) == before_b
    with tenant_context(org_a.pk):
        case.refresh_from_db()
        assert case.assignee_id is None
    # A's own product still works in the same form.
    assert product.pk != bravo["product"]


def test_another_customers_interaction_cannot_be_linked_to_a_task(
    org_a: Organization, client_a: Client
) -> None:
    alice, carol = add_customer(org_a, "Alice"), add_customer(org_a, "Carol")
    carols_call = add_interaction(carol)
    response = client_a.post(
        f"/acme/customers/{alice.pk}/tasks/new/",
        {"title": "Follow up", "interaction": carols_call.pk},
        **HTMX,
    )
    assert "Select a valid choice" in response.content.decode()
    assert counts(org_a)[3] == 0
    # Prefilling from another customer's entry is ignored, not leaked.
    html = client_a.get(
        f"/acme/customers/{alice.pk}/tasks/new/", {"interaction": carols_call.pk}, **HTMX
    ).content.decode()
    assert "Follow up: Call" not in html


def test_the_tables_are_row_level_secured(org_a: Organization, bravo: dict[str, int]) -> None:
    tables = [model._meta.db_table for model in (Interaction, PurchaseLine, Case, Task, Product)]
    with tenant_context(org_a.pk), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            assert cursor.fetchone()[0] == 0, table
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "interactions_interaction"')
        assert cursor.fetchone()[0] == 0  # no tenant: nothing
