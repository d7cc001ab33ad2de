"""CSV export of a customer's timeline: content, filters, formula neutralisation, isolation,
permissions, keyset batches and a query count that does not grow with the entries."""

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from crm.csv import BYTE_ORDER_MARK
from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from interactions import exports
from interactions.models import Case, Channel, Interaction, Kind, PurchaseLine, Task
from interactions.selectors import TimelineFilters
from tests.conftest import member_client
from tests.interactions.helpers import (
    add_company,
    add_customer,
    add_interaction,
    add_product,
    add_task,
    ago,
)

pytestmark = pytest.mark.django_db


def csv_url(customer: Customer, organization: Organization) -> str:
    return reverse(
        "interactions:timeline_csv",
        kwargs={"org_slug": organization.slug, "customer_pk": customer.pk},
    )


def read_csv(response: Any) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = response.getvalue().decode("utf-8")
    assert text.startswith(BYTE_ORDER_MARK)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK))))


def test_export_lists_interactions_and_tasks_newest_first(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    customer = add_customer(org_a, "Ann Lee")
    product = add_product(org_a, "SKU-1", "10.00")
    purchase = add_interaction(
        customer,
        kind=Kind.PURCHASE,
        channel=Channel.STORE,
        occurred_at=ago(days=3),
        amount=Decimal("20.00"),
        currency="EUR",
        user=owner_a,
    )
    with tenant_context(org_a.pk):
        PurchaseLine.objects.create(
            organization=org_a,
            interaction=purchase,
            product=product,
            quantity=2,
            unit_price=Decimal("10.00"),
        )
        case = Case.objects.create(
            organization=org_a, number=7, customer=customer, subject="Zip", due_at=ago(days=-1)
        )
    add_interaction(
        customer,
        kind=Kind.CASE_UPDATE,
        channel=Channel.PHONE,
        occurred_at=ago(days=2),
        subject="Case opened",
        case=case,
        source="helpdesk",
        external_id="hd-1",
    )
    task = add_task(customer, "Call back", assignee=owner_a, due_date=datetime.date(2030, 1, 2))
    with tenant_context(org_a.pk):
        Task.objects.filter(pk=task.pk).update(created_at=ago(days=1))
    response = client_a.get(csv_url(customer, org_a))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="timeline-{customer.pk}-'
    )
    rows = read_csv(response)
    assert list(rows[0]) == exports.COLUMNS
    assert [row["kind"] for row in rows] == ["task", "case_update", "purchase"]
    task_row, case_row, purchase_row = rows
    assert task_row["subject"] == "Call back"
    assert task_row["task_assignee"] == "owner@acme.test"
    assert task_row["task_due_date"] == "2030-01-02"
    assert task_row["task_done_at"] == ""
    assert (case_row["case"], case_row["source"], case_row["external_id"]) == (
        "#7",
        "helpdesk",
        "hd-1",
    )
    assert purchase_row["lines"] == "SKU-1 x2 @ 10.00"
    assert (purchase_row["amount"], purchase_row["currency"]) == ("20.00", "EUR")
    assert purchase_row["logged_by"] == "owner@acme.test"
    assert purchase_row["customer"] == "Ann Lee"
    occurred = datetime.datetime.fromisoformat(purchase_row["occurred_at"])
    assert occurred == purchase.occurred_at


def test_a_companys_export_holds_its_peoples_entries(client_a: Client, org_a: Organization) -> None:
    company = add_company(org_a, "Acme Ltd")
    person = add_customer(org_a, "Bo Ek", company=company)
    stranger = add_customer(org_a, "Stranger")
    add_interaction(company, subject="Company call", occurred_at=ago(days=2))
    add_interaction(person, subject="Bo's call", occurred_at=ago(days=1))
    add_interaction(stranger, subject="Not theirs")
    rows = read_csv(client_a.get(csv_url(company, org_a)))
    assert [(row["customer"], row["subject"]) for row in rows] == [
        ("Bo Ek", "Bo's call"),
        ("Acme Ltd", "Company call"),
    ]


def test_the_timelines_filters_are_honoured(client_a: Client, org_a: Organization) -> None:
    customer = add_customer(org_a)
    add_interaction(customer, subject="Phone about shoes", occurred_at=ago(days=40))
    add_interaction(
        customer,
        kind=Kind.EMAIL_SENT,
        channel=Channel.EMAIL,
        subject="Shoes offer",
        occurred_at=ago(days=2),
    )
    add_interaction(customer, subject="Phone about hats", occurred_at=ago(days=1))
    add_task(customer, "Send shoes catalog")

    def subjects(**params: str) -> list[str]:
        return [row["subject"] for row in read_csv(client_a.get(csv_url(customer, org_a), params))]

    assert subjects(channel="phone") == ["Phone about hats", "Phone about shoes"]
    assert subjects(q="shoes") == ["Send shoes catalog", "Shoes offer", "Phone about shoes"]
    assert subjects(kind="task") == ["Send shoes catalog"]
    assert subjects(kind="email_sent") == ["Shoes offer"]
    since = (ago(days=10)).date().isoformat()
    assert "Phone about shoes" not in subjects(date_from=since)
    # Invalid values are ignored, as on the page.
    assert len(subjects(channel="pigeon")) == 4


def test_cells_that_look_like_formulas_are_neutralised(
    client_a: Client, org_a: Organization
) -> None:
    customer = add_customer(org_a, "=Evil()")
    add_interaction(customer, subject='=HYPERLINK("http://x")', body="@SUM(1)", occurred_at=ago(4))
    add_interaction(customer, subject="+1 call", body="-2+3", occurred_at=ago(3))
    add_interaction(customer, subject="\t=tab", body="\r=cr", occurred_at=ago(2))
    add_task(customer, "=1+1")
    rows = read_csv(client_a.get(csv_url(customer, org_a)))
    cells = [(row["customer"], row["subject"], row["body"]) for row in rows]
    assert cells == [
        ("'=Evil()", "'=1+1", ""),
        ("'=Evil()", "'\t=tab", "'\r=cr"),
        ("'=Evil()", "'+1 call", "'-2+3"),
        ("'=Evil()", '\'=HYPERLINK("http://x")', "'@SUM(1)"),
    ]


def test_another_organizations_customer_is_404(
    client_a: Client, org_a: Organization, org_b: Organization
) -> None:
    theirs = add_customer(org_b, "Their customer")
    add_interaction(theirs, subject="Secret")
    assert client_a.get(csv_url(theirs, org_a)).status_code == 404
    assert client_a.get(csv_url(theirs, org_b)).status_code == 404


def test_other_organizations_rows_never_appear(
    client_a: Client, org_a: Organization, org_b: Organization
) -> None:
    ours = add_customer(org_a, "Ours")
    add_interaction(ours, subject="Our call")
    theirs = add_customer(org_b, "Theirs")
    add_interaction(theirs, subject="Their call")
    with tenant_context(org_b.pk):
        # A row of theirs wrongly pointing at our customer is still never read in our tenant.
        Task.objects.create(organization=org_b, customer_id=ours.pk, title="Their task")
    rows = read_csv(client_a.get(csv_url(ours, org_a)))
    assert [row["subject"] for row in rows] == ["Our call"]


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.VIEWER])
def test_roles_without_export_permission_get_403_and_no_link(
    org_a: Organization, role: str
) -> None:
    customer = add_customer(org_a)
    _, client = member_client(org_a, role)
    assert client.get(csv_url(customer, org_a)).status_code == 403
    page = client.get(
        reverse("customers:detail", kwargs={"org_slug": org_a.slug, "pk": customer.pk})
    )
    assert page.status_code == 200
    assert csv_url(customer, org_a) not in page.content.decode()


def test_a_manager_can_export(org_a: Organization) -> None:
    customer = add_customer(org_a)
    add_interaction(customer)
    _, client = member_client(org_a, Role.MANAGER)
    assert len(read_csv(client.get(csv_url(customer, org_a)))) == 1


def test_timeline_links_to_the_export_with_its_filters(
    client_a: Client, org_a: Organization
) -> None:
    customer = add_customer(org_a)
    add_interaction(customer)
    detail = client_a.get(
        reverse("customers:detail", kwargs={"org_slug": org_a.slug, "pk": customer.pk})
    ).content.decode()
    assert f'href="{csv_url(customer, org_a)}"' in detail
    timeline_url = reverse(
        "interactions:timeline", kwargs={"org_slug": org_a.slug, "customer_pk": customer.pk}
    )
    page = client_a.get(timeline_url, {"channel": "phone"}).content.decode()
    assert f'href="{csv_url(customer, org_a)}?channel=phone"' in page
    assert page.count(f'id="timeline-export-{customer.pk}"') == 1
    # Filtering through HTMX swaps the entries; the link follows out of band.
    partial = client_a.get(
        timeline_url, {"channel": "email"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert f'href="{csv_url(customer, org_a)}?channel=email"' in partial
    assert 'hx-swap-oob="true"' in partial


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_batches_neither_skip_nor_repeat_entries(org_a: Organization, batch_size: int) -> None:
    customer = add_customer(org_a)
    same_time = ago(days=1)
    for n in range(5):
        add_interaction(customer, subject=f"call {n}", occurred_at=same_time)
        task = add_task(customer, f"task {n}")
        with tenant_context(org_a.pk):
            Task.objects.filter(pk=task.pk).update(created_at=same_time)
    add_interaction(customer, subject="older", occurred_at=ago(days=2))
    with tenant_context(org_a.pk):
        rows = list(
            exports.timeline_csv_rows(
                organization=org_a,
                customer=customer,
                filters=TimelineFilters(),
                batch_size=batch_size,
            )
        )
    subjects = [row[5] for row in rows[1:]]
    assert len(subjects) == 11 and len(set(subjects)) == 11
    assert subjects[-1] == "older"
    assert subjects[:5] == [f"call {n}" for n in reversed(range(5))]


@pytest.mark.parametrize("count", [10, 30])
def test_export_query_count_does_not_grow(
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    count: int,
    django_assert_max_num_queries: Any,
) -> None:
    customer = add_customer(org_a)
    product = add_product(org_a)
    with tenant_context(org_a.pk):
        purchases = Interaction.objects.bulk_create(
            [
                Interaction(
                    organization=org_a,
                    customer=customer,
                    kind=Kind.PURCHASE,
                    channel=Channel.WEB,
                    user=owner_a,
                    occurred_at=ago(hours=n),
                )
                for n in range(count)
            ]
        )
        PurchaseLine.objects.bulk_create(
            [
                PurchaseLine(
                    organization=org_a, interaction=purchase, product=product, unit_price=1
                )
                for purchase in purchases
            ]
        )
        Task.objects.bulk_create(
            [
                Task(organization=org_a, customer=customer, title=f"t{n}", assignee=owner_a)
                for n in range(count)
            ]
        )
    with django_assert_max_num_queries(8):
        rows = read_csv(client_a.get(csv_url(customer, org_a)))
    assert len(rows) == 2 * count
