"""CSV export of the customer list: content, formula neutralisation, filters, isolation,
permissions and a query count that does not grow with the rows."""

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from crm.csv import BYTE_ORDER_MARK, csv_restore, csv_safe
from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import exports, selectors
from customers.models import Customer
from tests.conftest import member_client
from tests.customers.helpers import add_company, add_customer, add_field

pytestmark = pytest.mark.django_db


def export_url(organization: Organization) -> str:
    return reverse("customers:export", kwargs={"org_slug": organization.slug})


def read_csv(response: Any) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = response.getvalue().decode("utf-8")
    assert text.startswith(BYTE_ORDER_MARK)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK))))


def names(rows: list[dict[str, str]]) -> list[str]:
    return [row["name"] for row in rows]


# --- csv_safe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+44 20 7946 0958", "'+44 20 7946 0958"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "yes"),
        (-5, "-5"),
        (Decimal("-12.50"), "-12.50"),
        (datetime.date(2024, 5, 1), "2024-05-01"),
    ],
)
def test_csv_safe_neutralises_cells_a_spreadsheet_would_run(value: Any, cell: str) -> None:
    assert csv_safe(value) == cell


@pytest.mark.parametrize("text", ["=1+2", "+44 20", "-x", "@a", "\tx", "\rx", "'quoted", "plain"])
def test_csv_restore_undoes_csv_safe(text: str) -> None:
    assert csv_restore(csv_safe(text)) == text


# --- The export ------------------------------------------------------------------------------


def test_export_has_every_column_and_value(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    add_field(org_a, key="loyalty", label="Loyalty number", field_type="text")
    company = add_company(org_a, "Acme Ltd")
    ann = add_customer(
        org_a,
        "Ann Lee",
        company=company.pk,
        emails=["ann@example.com", "a.lee@work.example"],
        phones=["020 7946 0958"],
        city="York",
        country="GB",
        lifecycle_stage="lead",
        owner=owner_a.pk,
        tags=["vip", "newsletter"],
        source="web",
        external_id="crm-1",
        custom_fields={"loyalty": "L-42"},
    )
    response = client_a.get(export_url(org_a))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="customers-acme-')
    assert response["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert list(rows[0]) == [*exports.COLUMNS, "loyalty"]
    assert names(rows) == ["Acme Ltd", "Ann Lee"]
    row = rows[1]
    assert row["id"] == str(ann.pk)
    assert row["kind"] == "person"
    assert row["company"] == "Acme Ltd"
    assert row["emails"] == "ann@example.com; a.lee@work.example"
    assert row["phones"] == "02079460958"
    assert (row["city"], row["country"], row["lifecycle_stage"]) == ("York", "GB", "lead")
    assert row["owner_email"] == "owner@acme.test"
    assert row["tags"] == "vip, newsletter"
    assert (row["source"], row["external_id"], row["loyalty"]) == ("web", "crm-1", "L-42")
    assert datetime.datetime.fromisoformat(row["created_at"]).tzinfo is not None


def test_cells_that_look_like_formulas_are_neutralised(
    client_a: Client, org_a: Organization
) -> None:
    add_field(org_a, key="note", label="Note", field_type="text")
    customer = add_customer(
        org_a,
        '=HYPERLINK("http://evil.example","Click")',
        phones=["+44 20 7946 0958"],
        source="@SUM(1+1)",
        custom_fields={"note": "-1+2"},
    )
    with tenant_context(org_a.pk):
        # Written past the services, which strip whitespace: a tab and a carriage return.
        Customer.objects.filter(pk=customer.pk).update(city="\t=cmd", street="\r=cmd")
    row = read_csv(client_a.get(export_url(org_a)))[0]
    assert row["name"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert row["phones"] == "'+442079460958"
    assert row["source"] == "'@SUM(1+1)"
    assert row["note"] == "'-1+2"
    assert row["city"] == "'\t=cmd"
    assert row["street"] == "'\r=cmd"
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_the_lists_filters_and_sort_are_honoured(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    add_customer(org_a, "Ann Lee", lifecycle_stage="lead", tags=["vip"], owner=owner_a.pk)
    add_customer(org_a, "Bob Lee", lifecycle_stage="lead", tags=["vip"])
    add_customer(org_a, "Cy Lee", lifecycle_stage="customer", tags=["vip"])
    add_customer(org_a, "Dee Lee", lifecycle_stage="lead")
    add_customer(org_a, "Eve Stone", lifecycle_stage="lead", tags=["vip"])
    rows = read_csv(
        client_a.get(
            export_url(org_a),
            {"q": "lee", "lifecycle_stage": "lead", "tag": "VIP", "ordering": "-name"},
        )
    )
    assert names(rows) == ["Bob Lee", "Ann Lee"]
    rows = read_csv(client_a.get(export_url(org_a), {"owner": owner_a.pk}))
    assert names(rows) == ["Ann Lee"]
    rows = read_csv(client_a.get(export_url(org_a), {"kind": "company"}))
    assert rows == []


@pytest.mark.parametrize("ordering", ["name", "-name", "created_at", "-updated_at", "bogus"])
def test_keyset_batches_neither_skip_nor_repeat_rows(org_a: Organization, ordering: str) -> None:
    same_time = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    with tenant_context(org_a.pk):
        Customer.objects.bulk_create(
            [
                # Many ties on the name and the times: the id breaks them.
                Customer(
                    organization=org_a,
                    name=f"Name {n % 3}",
                    created_at=same_time + datetime.timedelta(seconds=n % 2),
                    updated_at=same_time,
                )
                for n in range(23)
            ]
        )
        filterset = selectors.customer_filterset(organization=org_a, data={"ordering": ordering})
        expected = list(
            selectors.customer_list(organization=org_a, filters=filterset).values_list(
                "pk", flat=True
            )
        )
        rows = list(
            exports.customer_csv_rows(organization=org_a, filterset=filterset, batch_size=4)
        )
    exported = [int(row[0]) for row in rows[1:]]
    assert len(exported) == 23
    if ordering == "bogus":
        assert sorted(exported) == sorted(expected)
    else:
        assert exported == expected


def test_another_organizations_customers_are_never_exported(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    add_customer(org_a, "Ann Lee")
    add_customer(org_b, "Secret Customer", owner=owner_b.pk)
    add_company(org_b, "Secret Company")
    assert names(read_csv(client_a.get(export_url(org_a)))) == ["Ann Lee"]
    # Their owner's id or company id in the filters finds nothing of theirs.
    rows = read_csv(client_a.get(export_url(org_a), {"owner": owner_b.pk}))
    assert "Secret Customer" not in names(rows)
    with tenant_context(org_b.pk):
        company_b = Customer.objects.get(name="Secret Company")
    assert read_csv(client_a.get(export_url(org_a), {"company": company_b.pk})) == []


def test_a_user_of_two_organizations_exports_the_one_in_the_url(
    org_a: Organization, org_b: Organization
) -> None:
    add_customer(org_a, "Ann Lee")
    add_customer(org_b, "Bo Ek")
    user, client = member_client(org_a, Role.MANAGER)
    with tenant_context(org_b.pk):
        from crm.models import Membership

        Membership.objects.create(organization=org_b, user=user, role=Role.MANAGER)
    assert names(read_csv(client.get(export_url(org_a)))) == ["Ann Lee"]
    assert names(read_csv(client.get(export_url(org_b)))) == ["Bo Ek"]


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.VIEWER])
def test_roles_without_export_permission_get_403_and_no_link(
    org_a: Organization, role: str
) -> None:
    add_customer(org_a, "Ann Lee")
    _, client = member_client(org_a, role)
    assert client.get(export_url(org_a)).status_code == 403
    page = client.get(reverse("customers:list", kwargs={"org_slug": org_a.slug}))
    assert export_url(org_a) not in page.content.decode()


def test_non_members_get_404(org_a: Organization, client_b: Client) -> None:
    add_customer(org_a, "Ann Lee")
    assert client_b.get(export_url(org_a)).status_code == 404


def test_list_links_to_the_export_with_its_filters(client_a: Client, org_a: Organization) -> None:
    add_customer(org_a, "Ann Lee", lifecycle_stage="lead")
    page = client_a.get(
        reverse("customers:list", kwargs={"org_slug": org_a.slug}),
        {"lifecycle_stage": "lead", "page": "1"},
    )
    html = page.content.decode()
    assert f"{export_url(org_a)}?lifecycle_stage=lead" in html
    assert "Export these 1 as CSV" in html


@pytest.mark.parametrize("count", [10, 30])
def test_export_query_count_does_not_grow(
    client_a: Client, org_a: Organization, count: int, django_assert_max_num_queries: Any
) -> None:
    add_field(org_a, key="loyalty", label="Loyalty number", field_type="text")
    company = add_company(org_a, "Acme Ltd")
    with tenant_context(org_a.pk):
        Customer.objects.bulk_create(
            [Customer(organization=org_a, name=f"C {n}", company=company) for n in range(count)]
        )
    with django_assert_max_num_queries(6):
        rows = read_csv(client_a.get(export_url(org_a)))
    assert len(rows) == count + 1
