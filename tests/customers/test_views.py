"""Customer pages through the Django test client: list, search, forms, detail, settings, roles."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.registry import Panel
from crm.tenancy import tenant_context
from customers.models import ConsentEvent, Customer, CustomFieldDefinition
from tests.conftest import member_client
from tests.customers.helpers import add_company, add_customer, add_field

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, organization: Organization, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": organization.slug, **kwargs})


def rows(html: str) -> list[str]:
    """Customer names in the list's table, in order."""
    match = re.search(r"<tbody[^>]*>(.*?)</tbody>", html, re.S)
    body = match.group(1) if match else ""
    return re.findall(r'<tr>\s*<td><a href="/[^"]+/customers/\d+/">([^<]+)</a></td>', body)


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "person",
        "name": "Ann Lee",
        "company": "",
        "emails": "Ann@Example.com\nann@example.com\nann.lee@work.example",
        "phones": "+44 20 7946 0958",
        "street": "1 High Street",
        "city": "York",
        "postal_code": "YO1 7HH",
        "region": "",
        "country": "gb",
        "lifecycle_stage": "lead",
        "owner": "",
        "tags": "VIP, newsletter",
        "source": "web",
        "preferred_channel": "email",
    }
    data.update(overrides)
    return data


def bulk_customers(organization: Organization, count: int, **fields: Any) -> None:
    with tenant_context(organization.pk):
        Customer.objects.bulk_create(
            [
                Customer(organization=organization, name=f"Customer {n:03d}", **fields)
                for n in range(count)
            ]
        )


# --- List ------------------------------------------------------------------------------------


def test_empty_list_invites_to_add_the_first_customer(
    client_a: Client, org_a: Organization
) -> None:
    response = client_a.get(url("list", org_a))
    assert response.status_code == 200
    content = response.content.decode()
    assert "No customers yet — add the first one" in content
    assert url("create", org_a) in content


def test_list_shows_columns_and_count(client_a: Client, org_a: Organization, owner_a: User) -> None:
    company = add_company(org_a, "Harbour & Pine")
    add_customer(
        org_a,
        "John <b>Smith</b>",
        emails=["john@example.com", "j2@example.com"],
        phones=["+44 20 7946 0958"],
        lifecycle_stage="customer",
        owner=owner_a,
        tags=["vip"],
        company=company,
    )
    content = client_a.get(url("list", org_a)).content.decode()
    assert "2 customers" in content
    assert "John &lt;b&gt;Smith&lt;/b&gt;" in content  # escaped
    for text in ("john@example.com", "+442079460958", "Customer", "Ada Owner", "vip"):
        assert text in content
    assert "j2@example.com" not in content  # only the primary address
    assert f'href="{url("detail", org_a, pk=company.pk)}">Harbour &amp; Pine</a>' in content


def test_search_filter_and_empty_search_state(client_a: Client, org_a: Organization) -> None:
    add_customer(org_a, "John Smith", phones=["+44 20 7946 0958"], lifecycle_stage="lead")
    add_customer(org_a, "Jane Doe", lifecycle_stage="customer")
    assert rows(client_a.get(url("list", org_a), {"q": "smi"}).content.decode()) == ["John Smith"]
    assert rows(client_a.get(url("list", org_a), {"q": "0958"}).content.decode()) == ["John Smith"]
    staged = client_a.get(url("list", org_a), {"lifecycle_stage": "customer"}).content.decode()
    assert rows(staged) == ["Jane Doe"]
    assert "1 customer matches" in staged
    missing = client_a.get(url("list", org_a), {"q": "zebra"}).content.decode()
    assert "No customer matches your search" in missing
    assert "No customers yet" not in missing


def test_htmx_search_returns_only_the_results_partial(
    client_a: Client, org_a: Organization
) -> None:
    add_customer(org_a, "John Smith")
    add_customer(org_a, "Jane Doe")
    response = client_a.get(url("list", org_a), {"q": "jane"}, **HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="customer-results"')
    assert "<html" not in content and 'name="q"' not in content
    assert rows(content) == ["Jane Doe"]
    full = client_a.get(url("list", org_a), {"q": "jane"}).content.decode()
    assert "<html" in full and 'hx-get="' in full and 'hx-push-url="true"' in full
    boosted = client_a.get(url("list", org_a), HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert "<html" in boosted.content.decode()
    restore = client_a.get(
        url("list", org_a), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in restore.content.decode()
    assert "HX-Request" in response["Vary"]


def test_pagination_and_sorting(client_a: Client, org_a: Organization) -> None:
    bulk_customers(org_a, 30)
    first = client_a.get(url("list", org_a)).content.decode()
    assert len(rows(first)) == 25
    assert "30 customers" in first and "Page 1 of 2" in first
    second = client_a.get(url("list", org_a), {"page": 2}).content.decode()
    assert rows(second) == [f"Customer {n:03d}" for n in range(25, 30)]
    descending = client_a.get(url("list", org_a), {"ordering": "-name"}).content.decode()
    assert rows(descending)[0] == "Customer 029"
    assert 'aria-sort="descending"' in descending


@pytest.mark.parametrize("count", [3, 40])
def test_list_queries_do_not_grow_with_rows(
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    django_assert_max_num_queries: Any,
    count: int,
) -> None:
    company = add_company(org_a, "Harbour & Pine")
    bulk_customers(org_a, count, owner=owner_a, company=company, tags=["vip"])
    with django_assert_max_num_queries(10):
        response = client_a.get(url("list", org_a))
    assert len(rows(response.content.decode())) == min(count + 1, 25)


# --- Create and edit --------------------------------------------------------------------------


def test_create_form_lists_only_this_organizations_companies_and_members(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    add_company(org_a, "Our Company")
    add_company(org_b, "Their Company")
    content = client_a.get(url("create", org_a)).content.decode()
    assert "Our Company" in content and "Their Company" not in content
    assert "Ada Owner" in content and "Ben Owner" not in content


def test_create_normalizes_and_redirects(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    response = client_a.post(url("create", org_a), form_data(owner=owner_a.pk))
    with tenant_context(org_a.pk):
        customer = Customer.objects.get()
        assert customer.emails == ["ann@example.com", "ann.lee@work.example"]
        assert customer.tags == ["vip", "newsletter"]
        assert customer.country == "GB"
        assert customer.owner_id == owner_a.pk
        assert AuditEntry.objects.filter(action="create", object_id=str(customer.pk)).exists()
    assert response.status_code == 302
    assert response["Location"] == url("detail", org_a, pk=customer.pk)
    assert "Ann Lee was added." in client_a.get(response["Location"]).content.decode()


def test_htmx_create_redirects_the_client(client_a: Client, org_a: Organization) -> None:
    response = client_a.post(url("create", org_a), form_data(), **HTMX)
    with tenant_context(org_a.pk):
        customer = Customer.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == url("detail", org_a, pk=customer.pk)


def test_htmx_create_with_errors_rerenders_the_form_in_place(
    client_a: Client, org_a: Organization
) -> None:
    response = client_a.post(
        url("create", org_a),
        form_data(name="", emails="ann@example.com\nnot-an-email", phones="12"),
        **HTMX,
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<form id="customer-form"')
    assert "<html" not in content
    assert "This field is required." in content  # name
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 0


def test_service_errors_appear_on_the_named_fields(client_a: Client, org_a: Organization) -> None:
    response = client_a.post(
        url("create", org_a), form_data(emails="not-an-email", phones="12", country="X1")
    )
    form = response.context["form"]
    assert response.status_code == 200
    assert "not-an-email" in form.errors["emails"][0]
    assert "phones" in form.errors
    assert "country" in form.errors
    assert 'aria-invalid="true"' in response.content.decode()
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 0


def test_edit_prefills_and_saves(client_a: Client, org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann Lee", emails=["ann@example.com"], tags=["vip", "news"])
    page = client_a.get(url("edit", org_a, pk=customer.pk)).content.decode()
    assert "ann@example.com</textarea>" in page
    assert 'value="vip, news"' in page
    response = client_a.post(
        url("edit", org_a, pk=customer.pk), form_data(name="Ann Lee-Smith", tags="vip")
    )
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        customer.refresh_from_db()
        entry = AuditEntry.objects.get(action="update", object_id=str(customer.pk))
    assert customer.name == "Ann Lee-Smith"
    assert customer.tags == ["vip"]
    assert entry.changes["name"] == ["Ann Lee", "Ann Lee-Smith"]


def test_edit_with_errors_changes_nothing(client_a: Client, org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann Lee")
    response = client_a.post(
        url("edit", org_a, pk=customer.pk), form_data(name="New", emails="bad@"), **HTMX
    )
    assert "bad@" in response.content.decode()
    with tenant_context(org_a.pk):
        customer.refresh_from_db()
    assert customer.name == "Ann Lee"


def test_custom_fields_appear_typed_and_are_validated(
    client_a: Client, org_a: Organization
) -> None:
    add_field(org_a, key="birthday", label="Birthday", field_type="date")
    add_field(org_a, key="spend", label="Annual spend", field_type="number")
    add_field(
        org_a, key="size", label="Size", field_type="choice", choices=["S", "M"], required=True
    )
    page = client_a.get(url("create", org_a)).content.decode()
    assert 'type="date" name="cf_birthday"' in page
    assert 'type="number" name="cf_spend"' in page
    assert '<select name="cf_size"' in page and "required" in page
    missing = client_a.post(url("create", org_a), form_data(cf_birthday="2024-13-01"))
    assert set(missing.context["form"].errors) == {"cf_birthday", "cf_size"}
    response = client_a.post(
        url("create", org_a), form_data(cf_birthday="1990-04-01", cf_spend="12.5", cf_size="M")
    )
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        customer = Customer.objects.get()
    assert customer.custom_fields == {"birthday": "1990-04-01", "spend": "12.5", "size": "M"}
    detail = client_a.get(url("detail", org_a, pk=customer.pk)).content.decode()
    assert "Annual spend" in detail and "1990-04-01" in detail


# --- Detail, consent, delete --------------------------------------------------------------------


def test_detail_shows_profile_consent_and_placeholder(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    company = add_company(org_a, "Harbour & Pine")
    customer = add_customer(
        org_a,
        "Ann Lee",
        emails=["ann@example.com"],
        phones=["07700 900123"],
        city="York",
        owner=owner_a,
        company=company,
        tags=["vip"],
        source="store",
    )
    content = client_a.get(url("detail", org_a, pk=customer.pk)).content.decode()
    for text in ("Ann Lee", "ann@example.com", "07700900123", "York", "Ada Owner", "store"):
        assert text in content
    assert url("detail", org_a, pk=company.pk) in content
    assert "Timeline, scores, journeys and campaigns appear here as they are added" in content
    assert "Not asked" in content
    audit = reverse("audit_log", kwargs={"org_slug": org_a.slug})
    assert f"{audit}?object_type=customers.customer&amp;object_id={customer.pk}" in content
    company_page = client_a.get(url("detail", org_a, pk=company.pk)).content.decode()
    assert "People (1)" in company_page and "Ann Lee" in company_page


def test_registered_panels_render_with_their_context(
    client_a: Client, org_a: Organization, no_registered_panels: list[Panel], settings: Any
) -> None:
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {**engine, "DIRS": [*engine["DIRS"], Path(__file__).parent / "templates"]}
    ]
    customer = add_customer(org_a, "Ann Lee")
    seen: dict[str, Any] = {}

    def context(**kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"greeting": "<script>x</script>"}

    no_registered_panels.append(
        Panel(
            key="hello", title="Hello panel", template="customers_test_panel.html", context=context
        )
    )
    content = client_a.get(url("detail", org_a, pk=customer.pk)).content.decode()
    assert "Hello panel" in content
    assert "Panel says &lt;script&gt;x&lt;/script&gt;" in content
    assert "appear here as they are added" not in content
    assert seen["customer"].pk == customer.pk
    assert seen["organization"] == org_a
    assert seen["membership"].role == Role.OWNER


@pytest.mark.parametrize("count", [3, 40])
def test_detail_queries_do_not_grow(
    client_a: Client, org_a: Organization, django_assert_max_num_queries: Any, count: int
) -> None:
    company = add_company(org_a, "Harbour & Pine")
    add_field(org_a, key="code", label="Code", field_type="text")
    bulk_customers(org_a, count, company=company)
    with tenant_context(org_a.pk):
        ConsentEvent.objects.bulk_create(
            [
                ConsentEvent(
                    organization=org_a,
                    customer=company,
                    channel=channel,
                    granted=True,
                    method="form",
                )
                for channel in ("email", "sms", "phone")
                for _ in range(count)
            ]
        )
    with django_assert_max_num_queries(11):
        response = client_a.get(url("detail", org_a, pk=company.pk))
    assert response.status_code == 200


def test_record_consent_with_htmx_returns_the_consent_panel(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    customer = add_customer(org_a, "Ann Lee")
    response = client_a.post(
        url("consent", org_a, pk=customer.pk),
        {"channel": "email", "granted": "yes", "method": "verbal", "note": "On the phone"},
        **HTMX,
    )
    content = response.content.decode()
    assert content.lstrip().startswith('<article id="consent"')
    assert "E-mail consent granted." in content
    assert "Granted" in content and "On the phone" in content
    with tenant_context(org_a.pk):
        event = ConsentEvent.objects.get()
    assert event.granted and event.recorded_by_id == owner_a.pk


def test_record_consent_without_htmx_redirects_and_errors_name_fields(
    client_a: Client, org_a: Organization
) -> None:
    customer = add_customer(org_a, "Ann Lee")
    response = client_a.post(
        url("consent", org_a, pk=customer.pk),
        {"channel": "sms", "granted": "no", "method": "unsubscribe"},
    )
    assert response.status_code == 302
    bad = client_a.post(
        url("consent", org_a, pk=customer.pk),
        {
            "channel": "pigeon",
            "granted": "yes",
            "method": "form",
            "occurred_at": "2999-01-01T10:00",
        },
    )
    assert set(bad.context["consent_form"].errors) == {"channel"}
    future = client_a.post(
        url("consent", org_a, pk=customer.pk),
        {"channel": "sms", "granted": "yes", "method": "form", "occurred_at": "2999-01-01T10:00"},
    )
    assert "cannot be in the future" in future.context["consent_form"].errors["occurred_at"][0]
    assert client_a.get(url("consent", org_a, pk=customer.pk)).status_code == 405
    with tenant_context(org_a.pk):
        assert ConsentEvent.objects.count() == 1


def test_delete_asks_then_deletes(client_a: Client, org_a: Organization) -> None:
    company = add_company(org_a, "Harbour & Pine")
    add_customer(org_a, "Ann Lee", company=company)
    confirm = client_a.get(url("delete", org_a, pk=company.pk)).content.decode()
    assert "Delete Harbour &amp; Pine?" in confirm and "1 person is linked" in confirm
    response = client_a.post(url("delete", org_a, pk=company.pk))
    assert response["Location"] == url("list", org_a)
    with tenant_context(org_a.pk):
        assert list(Customer.objects.values_list("name", flat=True)) == ["Ann Lee"]
        assert AuditEntry.objects.filter(action="delete", object_id=str(company.pk)).exists()


# --- Custom field settings ------------------------------------------------------------------------


def test_custom_field_settings(client_a: Client, org_a: Organization) -> None:
    empty = client_a.get(url("fields", org_a)).content.decode()
    assert "No custom fields yet" in empty
    created = client_a.post(
        url("fields", org_a), {"label": "Loyalty number", "key": "", "field_type": "text"}
    )
    assert created.status_code == 302
    duplicate = client_a.post(
        url("fields", org_a), {"label": "Other", "key": "loyalty_number", "field_type": "text"}
    )
    assert "already exists" in duplicate.context["form"].errors["key"][0]
    no_choices = client_a.post(
        url("fields", org_a), {"label": "Size", "field_type": "choice", "choices": "  \n"}, **HTMX
    )
    assert no_choices.content.decode().lstrip().startswith('<form id="custom-field-form"')
    assert "one per line" in no_choices.content.decode()
    client_a.post(
        url("fields", org_a),
        {"label": "Size", "field_type": "choice", "choices": "S\nM\nL", "position": "0"},
    )
    with tenant_context(org_a.pk):
        size = CustomFieldDefinition.objects.get(key="size")
        loyalty = CustomFieldDefinition.objects.get(key="loyalty_number")
    assert size.choices == ["S", "M", "L"]
    listing = client_a.get(url("fields", org_a)).content.decode()
    assert listing.index("Size") < listing.index("Loyalty number")  # by position

    edited = client_a.post(
        url("field_edit", org_a, pk=loyalty.pk),
        {"label": "Loyalty no.", "key": "hacked", "field_type": "text", "required": "on"},
    )
    assert edited.status_code == 302
    with tenant_context(org_a.pk):
        loyalty.refresh_from_db()
    assert (loyalty.label, loyalty.key, loyalty.required) == ("Loyalty no.", "loyalty_number", True)

    add_customer(org_a, "Ann", custom_fields={"loyalty_number": "NW1", "size": "S"})
    confirm = client_a.get(url("field_delete", org_a, pk=size.pk)).content.decode()
    assert "1 customer has a value" in confirm
    client_a.post(url("field_delete", org_a, pk=size.pk))
    with tenant_context(org_a.pk):
        assert not CustomFieldDefinition.objects.filter(pk=size.pk).exists()
        assert Customer.objects.get().custom_fields == {"loyalty_number": "NW1"}


# --- Roles -------------------------------------------------------------------------------------


def test_viewer_can_view_but_not_change(org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann Lee")
    definition = add_field(org_a, key="code", label="Code", field_type="text")
    _, viewer = member_client(org_a, Role.VIEWER)
    assert viewer.get(url("list", org_a)).status_code == 200
    detail = viewer.get(url("detail", org_a, pk=customer.pk))
    assert detail.status_code == 200
    content = detail.content.decode()
    assert url("edit", org_a, pk=customer.pk) not in content
    assert url("delete", org_a, pk=customer.pk) not in content
    assert "Record a consent change" not in content
    assert "Audit trail" not in content
    for method, target in [
        ("get", url("create", org_a)),
        ("post", url("create", org_a)),
        ("get", url("edit", org_a, pk=customer.pk)),
        ("post", url("edit", org_a, pk=customer.pk)),
        ("get", url("delete", org_a, pk=customer.pk)),
        ("post", url("delete", org_a, pk=customer.pk)),
        ("post", url("consent", org_a, pk=customer.pk)),
        ("get", url("fields", org_a)),
        ("get", url("field_edit", org_a, pk=definition.pk)),
        ("post", url("field_delete", org_a, pk=definition.pk)),
    ]:
        assert getattr(viewer, method)(target).status_code == 403, (method, target)
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 1


def test_sales_can_edit_but_not_delete_or_manage_fields(org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann Lee")
    _, sales = member_client(org_a, Role.SALES)
    assert sales.get(url("create", org_a)).status_code == 200
    assert sales.post(url("edit", org_a, pk=customer.pk), form_data()).status_code == 302
    assert sales.post(url("delete", org_a, pk=customer.pk)).status_code == 403
    assert sales.get(url("fields", org_a)).status_code == 403
    page = sales.get(url("detail", org_a, pk=customer.pk)).content.decode()
    assert url("edit", org_a, pk=customer.pk) in page
    assert url("delete", org_a, pk=customer.pk) not in page


def test_manager_deletes_but_only_admins_manage_fields(org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann Lee")
    _, manager = member_client(org_a, Role.MANAGER)
    _, admin = member_client(org_a, Role.ADMIN)
    assert manager.get(url("fields", org_a)).status_code == 403
    assert admin.get(url("fields", org_a)).status_code == 200
    assert manager.post(url("delete", org_a, pk=customer.pk)).status_code == 302


def test_anonymous_visitors_are_sent_to_sign_in(org_a: Organization) -> None:
    response = Client().get(url("list", org_a))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("ordering", ["name", "-name"])
def test_a_search_lists_matches_in_name_order_and_caps_the_count(
    client_a: Client, org_a: Organization, ordering: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches sorted by name page through selectors.SearchMatches: same rows, same order as
    the plain queryset; beyond SEARCH_COUNT_CAP the page says so instead of counting them all."""
    from customers import selectors

    names = ["Zoe Oliver", "Ann Oliver", "Mia Oliver", "Bob Oliver", "Cat Olivera", "Dan Smith"]
    for name in names:
        add_customer(org_a, name)
    expected = sorted((n for n in names if "Oliver" in n), reverse=ordering == "-name")
    content = client_a.get(url("list", org_a), {"q": "oliver", "ordering": ordering}).content
    assert rows(content.decode()) == expected
    assert "5 customers match" in content.decode()

    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 3)
    content = client_a.get(url("list", org_a), {"q": "oliver", "ordering": ordering}).content
    page = content.decode()
    assert rows(page) == expected[:3]
    assert "More than 3 customers match; the first 3 in this order are shown." in page
    assert "Export all matches as CSV" in page
