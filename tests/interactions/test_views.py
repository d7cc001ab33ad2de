"""Pages: the service queue, my tasks, the timeline and its quick actions (HTMX and plain),
the products catalog, permissions per role, and bounded query counts."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions.models import Case, Channel, Direction, Interaction, Kind, Product, Task
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

HTMX = {"HTTP_HX_REQUEST": "true"}


def changed_timeline(response: HttpResponse) -> bool:
    """The response tells the page (HX-Trigger) that the timeline changed."""
    return "timeline-changed" in json.loads(response.get("HX-Trigger", "{}"))


def add_case(organization: Organization, number: int, **fields: object) -> Case:
    customer = fields.pop("customer", None) or add_customer(organization, f"Customer {number}")
    with tenant_context(organization.pk):
        return Case.objects.create(
            organization=organization,
            number=number,
            customer=customer,
            subject=fields.pop("subject", f"Case subject {number}"),
            due_at=fields.pop("due_at", ago(days=-1)),
            **fields,
        )


def in_a(org: Organization, model: type, **filters: object) -> int:
    with tenant_context(org.pk):
        return model.objects.filter(**filters).count()  # type: ignore[attr-defined]


# --- service queue --------------------------------------------------------------------------


def test_the_queue_shows_each_tab_sorted_by_due_time(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    add_case(org_a, 1, subject="Mine later", assignee=owner_a, due_at=ago(days=-3))
    add_case(org_a, 2, subject="Mine overdue", assignee=owner_a, due_at=ago(days=1))
    add_case(org_a, 3, subject="Nobody's")
    add_case(org_a, 4, subject="Closed one", status=Case.Status.CLOSED, assignee=owner_a)

    html = client_a.get("/acme/cases/").content.decode()
    assert html.index("Mine overdue") < html.index("Mine later")
    assert "Nobody&#x27;s" not in html and "Closed one" not in html
    assert 'aria-current="page">Mine' in html

    html = client_a.get("/acme/cases/?tab=unassigned").content.decode()
    assert "Nobody&#x27;s" in html and "Mine later" not in html
    html = client_a.get("/acme/cases/?tab=overdue").content.decode()
    assert "Mine overdue" in html and "Mine later" not in html
    response = client_a.get("/acme/cases/?tab=open", **HTMX)
    html = response.content.decode()
    assert "<html" not in html  # the partial
    assert all(s in html for s in ("Mine later", "Mine overdue", "Nobody&#x27;s"))
    assert "Closed one" not in html


def test_the_queue_is_paginated(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    for number in range(1, 28):
        add_case(org_a, number, customer=customer, due_at=ago(days=-number))
    html = client_a.get("/acme/cases/?tab=open").content.decode()
    assert "Page 1 of 2" in html and "Case subject 25<" in html and "Case subject 26<" not in html
    html = client_a.get("/acme/cases/?tab=open&page=2").content.decode()
    assert "Case subject 27<" in html


def test_the_queue_has_an_empty_state(client_a: Client) -> None:
    html = client_a.get("/acme/cases/").content.decode()
    assert "No open cases are assigned to you." in html


def test_assigning_in_place_returns_the_row_and_notes_it_on_the_timeline(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    case = add_case(org_a, 1)
    response = client_a.post(f"/acme/cases/{case.pk}/assign/", {"assignee": owner_a.pk}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") and f'id="case-{case.pk}"' in html
    assert "assigned to Ada Owner" in html
    with tenant_context(org_a.pk):
        case.refresh_from_db()
        assert case.assignee == owner_a
        assert Interaction.objects.filter(
            case=case, kind=Kind.CASE_UPDATE, subject="Case #1 assigned to Ada Owner"
        ).exists()
        assert AuditEntry.objects.filter(object_type="interactions.case", action="update").exists()


def test_changing_status_without_htmx_redirects_to_the_case(
    org_a: Organization, client_a: Client
) -> None:
    case = add_case(org_a, 7)
    response = client_a.post(f"/acme/cases/{case.pk}/status/", {"status": "pending"})
    assert response.status_code == 302 and response["Location"] == f"/acme/cases/{case.pk}/"
    html = client_a.get(response["Location"]).content.decode()
    assert "Case #7 is now Pending." in html
    assert "Case #7: New → Pending" in html  # the history


def test_an_invalid_status_changes_nothing(org_a: Organization, client_a: Client) -> None:
    case = add_case(org_a, 1)
    response = client_a.post(f"/acme/cases/{case.pk}/status/", {"status": "lost"}, **HTMX)
    assert "not one of the available choices" in response.content.decode()
    assert in_a(org_a, Interaction) == 0


# --- my tasks -------------------------------------------------------------------------------


def test_my_tasks_lists_overdue_first_and_marks_done_in_place(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    customer = add_customer(org_a, "Jane Doe")
    today = timezone.localdate()
    add_task(customer, "Later task", assignee=owner_a, due_date=today + datetime.timedelta(days=3))
    late = add_task(
        customer, "Late task", assignee=owner_a, due_date=today - datetime.timedelta(days=1)
    )
    add_task(customer, "Someone else's task")
    html = client_a.get("/acme/tasks/").content.decode()
    assert html.index("Late task") < html.index("Later task")
    assert "Someone else" not in html and "overdue" in html

    response = client_a.post(f"/acme/tasks/{late.pk}/done/", **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") and "Reopen" in html and "Done: Late task" in html
    with tenant_context(org_a.pk):
        late.refresh_from_db()
        assert late.done_at is not None
    html = client_a.get("/acme/tasks/").content.decode()
    assert "Late task" not in html
    assert "Late task" in client_a.get("/acme/tasks/?show=done").content.decode()

    response = client_a.post(f"/acme/tasks/{late.pk}/reopen/")
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        late.refresh_from_db()
        assert late.done_at is None


def test_my_tasks_empty_state(client_a: Client) -> None:
    assert "Nothing to do." in client_a.get("/acme/tasks/").content.decode()


# --- the timeline and key facts -------------------------------------------------------------


def test_the_customer_page_shows_the_panels(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a, "Jane Doe")
    add_interaction(customer, subject="Asked about tents")
    html = client_a.get(f"/acme/customers/{customer.pk}/").content.decode()
    for text in (
        "Key facts",
        "Timeline",
        "Asked about tents",
        "Log call",
        "More about this customer",
        "Scores and lifetime value — coming with analytics",
        "Journeys — coming with journey maps",
        "Campaign history — coming with campaigns",
        "Recommendations — coming with analytics",
        'hx-trigger="timeline-changed from:body"',
    ):
        assert text in html, text
    assert html.index("Key facts") < html.index("Timeline") < html.index("More about")


def test_a_frequent_returner_is_flagged_on_the_page(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a, "Jane Doe")
    regular = add_customer(org_a, "Regular")
    for day in range(10):
        add_interaction(regular, kind=Kind.PURCHASE, occurred_at=ago(days=day + 5))
    for day in range(4):
        add_interaction(customer, kind=Kind.PURCHASE, occurred_at=ago(days=day + 5))
    for day in range(3):
        add_interaction(customer, kind=Kind.RETURN, occurred_at=ago(days=day + 1))
    html = client_a.get(f"/acme/customers/{customer.pk}/key-facts/").content.decode()
    assert "Frequent returner" in html and "75%" in html


def test_the_timeline_partial_pages_as_you_scroll(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    for index in range(30):
        add_interaction(customer, subject=f"Entry {index:02d}", occurred_at=ago(hours=index))
    url = f"/acme/customers/{customer.pk}/timeline/"
    html = client_a.get(url, **HTMX).content.decode()
    assert html.count('class="timeline-entry') == 25
    assert "Entry 00" in html and "Entry 24" in html and "Entry 25" not in html
    match = re.search(r'hx-get="([^"]+cursor=[^"]+)" hx-trigger="revealed"', html)
    assert match is not None
    next_url = match.group(1).replace("&amp;", "&")
    html = client_a.get(next_url, **HTMX).content.decode()
    assert html.count('class="timeline-entry') == 5
    assert "Entry 25" in html and "Entry 29" in html and 'hx-trigger="revealed"' not in html
    assert "empty-state" not in html


def test_timeline_filters_are_kept_on_the_next_page(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    for index in range(27):
        add_interaction(
            customer, kind=Kind.NOTE, channel=Channel.OTHER, occurred_at=ago(hours=index)
        )
    add_interaction(customer, kind=Kind.CALL, subject="The only call")
    url = f"/acme/customers/{customer.pk}/timeline/"
    html = client_a.get(url, {"kind": "note"}, **HTMX).content.decode()
    assert "The only call" not in html
    match = re.search(r'hx-get="([^"]+cursor=[^"]+)"', html)
    assert match is not None and "kind=note" in match.group(1)
    html = client_a.get(url, {"q": "only"}, **HTMX).content.decode()
    assert "The only call" in html and html.count('class="timeline-entry') == 1
    html = client_a.get(url, {"q": "nothing like it"}, **HTMX).content.decode()
    assert "Nothing on the timeline matches these filters." in html


def test_a_bad_cursor_is_a_bad_request(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    response = client_a.get(f"/acme/customers/{customer.pk}/timeline/?cursor=zzz", **HTMX)
    assert response.status_code == 400


def test_the_full_timeline_page_and_purchase_lines(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a, "Jane Doe")
    tent = add_product(org_a, "TENT-2", "249.00", name="Two-person tent")
    purchase = add_interaction(
        customer,
        kind=Kind.PURCHASE,
        channel=Channel.STORE,
        amount=Decimal("249.00"),
        currency="USD",
    )
    with tenant_context(org_a.pk):
        purchase.lines.create(organization=org_a, product=tent, quantity=1, unit_price=tent.price)
    html = client_a.get(f"/acme/customers/{customer.pk}/timeline/").content.decode()
    assert "<html" in html and "Timeline of Jane Doe" in html
    assert "Two-person tent" in html and "249.00 USD" in html and "Key facts" in html


def test_a_companys_timeline_names_the_person(org_a: Organization, client_a: Client) -> None:
    company = add_company(org_a, "Acme Ltd")
    add_interaction(add_customer(org_a, "Pat Person", company=company), subject="Pat called")
    html = client_a.get(f"/acme/customers/{company.pk}/timeline/", **HTMX).content.decode()
    assert "Pat called" in html and "Pat Person" in html


# --- quick actions --------------------------------------------------------------------------


def test_quick_action_forms_load_with_presets(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    url = f"/acme/customers/{customer.pk}/interactions/new/"
    html = client_a.get(url, {"kind": "meeting"}, **HTMX).content.decode()
    assert "<html" not in html
    assert '<option value="meeting" selected>' in html
    assert '<option value="in_person" selected>' in html
    assert f'hx-target="#quick-action-slot-{customer.pk}"' in html
    assert "data-preset-channel" in html


def test_logging_a_call_via_htmx_updates_the_timeline(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    customer = add_customer(org_a)
    response = client_a.post(
        f"/acme/customers/{customer.pk}/interactions/new/",
        {
            "kind": "call",
            "channel": "phone",
            "direction": "inbound",
            "occurred_at": "2024-03-01T14:30",
            "subject": "Asked about boots",
            "body": "Size 42",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert changed_timeline(response)
    assert "Call logged." in response.content.decode()
    with tenant_context(org_a.pk):
        call = Interaction.objects.get()
    assert (call.kind, call.channel, call.direction) == (
        Kind.CALL,
        Channel.PHONE,
        Direction.INBOUND,
    )
    assert call.user == owner_a and call.subject == "Asked about boots"
    assert call.occurred_at == datetime.datetime(2024, 3, 1, 14, 30, tzinfo=datetime.UTC)
    html = client_a.get(f"/acme/customers/{customer.pk}/timeline/", **HTMX).content.decode()
    assert "Asked about boots" in html


def test_times_are_read_in_the_organizations_time_zone(owner_b: User, org_b: Organization) -> None:
    org_b.timezone = "Europe/Paris"
    org_b.save()
    client = Client()
    client.force_login(owner_b)
    customer = add_customer(org_b)
    client.post(
        f"/bravo/customers/{customer.pk}/interactions/new/",
        {
            "kind": "note",
            "channel": "other",
            "direction": "none",
            "occurred_at": "2024-07-01T10:00",
            "body": "Hi",
        },
        **HTMX,
    )
    with tenant_context(org_b.pk):
        note = Interaction.objects.get()
    assert note.occurred_at == datetime.datetime(2024, 7, 1, 8, 0, tzinfo=datetime.UTC)


def test_an_invalid_quick_action_shows_the_errors_and_saves_nothing(
    org_a: Organization, client_a: Client
) -> None:
    customer = add_customer(org_a)
    response = client_a.post(
        f"/acme/customers/{customer.pk}/interactions/new/",
        {
            "kind": "note",
            "channel": "other",
            "direction": "none",
            "occurred_at": "2099-01-01T10:00",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert "Write the note." in html
    assert in_a(org_a, Interaction) == 0
    response = client_a.post(
        f"/acme/customers/{customer.pk}/interactions/new/",
        {
            "kind": "call",
            "channel": "phone",
            "direction": "none",
            "occurred_at": "2099-01-01T10:00",
        },
        **HTMX,
    )
    assert "This is in the future" in response.content.decode()
    assert in_a(org_a, Interaction) == 0


def test_a_quick_action_without_htmx_redirects_to_the_timeline(
    org_a: Organization, client_a: Client
) -> None:
    customer = add_customer(org_a)
    url = f"/acme/customers/{customer.pk}/interactions/new/"
    assert "<html" in client_a.get(url).content.decode()
    response = client_a.post(
        url,
        {
            "kind": "note",
            "channel": "other",
            "direction": "none",
            "occurred_at": "2024-01-01T10:00",
            "body": "Hello",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/acme/customers/{customer.pk}/timeline/"


def test_recording_a_purchase_with_lines(org_a: Organization, client_a: Client) -> None:
    customer = add_customer(org_a)
    boots = add_product(org_a, "B-1", "100.00")
    socks = add_product(org_a, "S-1", "10.00")
    form = {
        "channel": "store",
        "occurred_at": "2024-01-01T10:00",
        "subject": "Receipt 77",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": boots.pk,
        "lines-0-quantity": "1",
        "lines-0-unit_price": "90.00",
        "lines-1-product": socks.pk,
        "lines-1-quantity": "2",
        "lines-2-product": "",
    }
    response = client_a.post(f"/acme/customers/{customer.pk}/purchases/new/", form, **HTMX)
    assert changed_timeline(response)
    with tenant_context(org_a.pk):
        purchase = Interaction.objects.get()
        assert purchase.amount == Decimal("110.00") and purchase.subject == "Receipt 77"
        assert purchase.lines.count() == 2
    response = client_a.post(
        f"/acme/customers/{customer.pk}/purchases/new/",
        {**form, "lines-0-product": "", "lines-1-product": ""},
        **HTMX,
    )
    assert "Add at least one product." in response.content.decode()


def test_opening_a_case_and_creating_a_follow_up_from_an_entry(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    customer = add_customer(org_a)
    call = add_interaction(customer, subject="Boots leak")
    response = client_a.post(
        f"/acme/customers/{customer.pk}/cases/new/",
        {"subject": "Leaking boots", "priority": "high", "assignee": owner_a.pk},
        **HTMX,
    )
    assert changed_timeline(response)
    assert "Case #1 opened." in response.content.decode()

    url = f"/acme/customers/{customer.pk}/tasks/new/"
    html = client_a.get(
        url, {"interaction": call.pk, "slot": f"followup-{call.pk}"}, **HTMX
    ).content.decode()
    assert 'value="Follow up: Call: Boots leak"' in html
    assert f'name="interaction" value="{call.pk}"' in html
    assert f'hx-target="#followup-{call.pk}"' in html
    response = client_a.post(
        url,
        {
            "title": "Send the repair form",
            "due_date": "2030-01-02",
            "assignee": owner_a.pk,
            "interaction": call.pk,
        },
        **HTMX,
    )
    assert changed_timeline(response)
    with tenant_context(org_a.pk):
        task = Task.objects.get()
        case = Case.objects.get()
    assert task.interaction_id == call.pk and task.assignee_id == owner_a.pk
    assert task.due_date == datetime.date(2030, 1, 2)
    assert (case.priority, case.assignee_id) == ("high", owner_a.pk)
    html = client_a.get(f"/acme/customers/{customer.pk}/timeline/", **HTMX).content.decode()
    assert "Send the repair form" in html and "Case #1 opened: Leaking boots" in html


def test_a_made_up_slot_falls_back_to_the_quick_action_slot(
    org_a: Organization, client_a: Client
) -> None:
    customer = add_customer(org_a)
    html = client_a.get(
        f"/acme/customers/{customer.pk}/tasks/new/", {"slot": 'x" onload="alert(1)'}, **HTMX
    ).content.decode()
    assert f'hx-target="#quick-action-slot-{customer.pk}"' in html and "alert" not in html


# --- products -------------------------------------------------------------------------------


def test_leads_maintain_the_catalog(org_a: Organization, client_a: Client) -> None:
    response = client_a.post(
        "/acme/products/new/",
        {"sku": "TENT-2", "name": "Tent", "category": "Camping", "price": "249", "active": "on"},
    )
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        product = Product.objects.get()
    response = client_a.post(
        f"/acme/products/{product.pk}/edit/",
        {"sku": "TENT-2", "name": "Tent", "category": "Camping", "price": "199"},
    )
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        product.refresh_from_db()
    assert product.price == Decimal("199.00") and not product.active
    response = client_a.post(
        "/acme/products/new/", {"sku": "TENT-2", "name": "Again", "price": "1"}
    )
    assert "Another product already has the SKU TENT-2." in response.content.decode()
    html = client_a.get("/acme/products/?q=tent").content.decode()
    assert "TENT-2" in html


# --- permissions ----------------------------------------------------------------------------


def test_a_viewer_can_read_but_not_write(org_a: Organization) -> None:
    _, viewer = member_client(org_a, Role.VIEWER)
    customer = add_customer(org_a)
    case = add_case(org_a, 1, customer=customer)
    task = add_task(customer)
    product = add_product(org_a)
    for url in (
        f"/acme/customers/{customer.pk}/timeline/",
        f"/acme/customers/{customer.pk}/key-facts/",
        "/acme/cases/",
        f"/acme/cases/{case.pk}/",
        "/acme/tasks/",
        "/acme/products/",
    ):
        assert viewer.get(url).status_code == 200, url
    html = viewer.get(f"/acme/customers/{customer.pk}/").content.decode()
    assert "Key facts" in html and "Log call" not in html and "Follow up" not in html
    for url in (
        f"/acme/customers/{customer.pk}/interactions/new/",
        f"/acme/customers/{customer.pk}/purchases/new/",
        f"/acme/customers/{customer.pk}/cases/new/",
        f"/acme/customers/{customer.pk}/tasks/new/",
        f"/acme/cases/{case.pk}/assign/",
        f"/acme/cases/{case.pk}/status/",
        f"/acme/tasks/{task.pk}/done/",
        "/acme/products/new/",
        f"/acme/products/{product.pk}/edit/",
    ):
        assert (
            viewer.post(url, {"kind": "note", "body": "x", "status": "closed"}).status_code == 403
        ), url
    assert in_a(org_a, Interaction) == 0
    with tenant_context(org_a.pk):
        case.refresh_from_db()
        assert case.status == Case.Status.NEW


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.MANAGER, Role.ADMIN])
def test_staff_who_edit_can_log_and_change_cases(org_a: Organization, role: str) -> None:
    _, client = member_client(org_a, role)
    customer = add_customer(org_a)
    case = add_case(org_a, 1, customer=customer)
    response = client.post(
        f"/acme/customers/{customer.pk}/interactions/new/",
        {
            "kind": "note",
            "channel": "other",
            "direction": "none",
            "occurred_at": "2024-01-01T10:00",
            "body": "Hi",
        },
        **HTMX,
    )
    assert response.status_code == 200 and changed_timeline(response)
    assert client.post(f"/acme/cases/{case.pk}/status/", {"status": "open"}).status_code == 302
    can_manage_products = role in (Role.MANAGER, Role.ADMIN)
    expected = 200 if can_manage_products else 403
    assert client.get("/acme/products/new/").status_code == expected


def test_anonymous_visitors_are_sent_to_sign_in(org_a: Organization) -> None:
    customer = add_customer(org_a)
    response = Client().get(f"/acme/customers/{customer.pk}/timeline/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- query counts ---------------------------------------------------------------------------


def fill(organization: Organization, customer_name: str, count: int, owner: User) -> int:
    """A customer with `count` purchases (with lines), calls, tasks and cases."""
    customer = add_customer(organization, customer_name)
    product = add_product(organization, f"P-{customer_name}")
    with tenant_context(organization.pk):
        for index in range(count):
            purchase = add_interaction(
                customer,
                kind=Kind.PURCHASE,
                occurred_at=ago(days=index),
                amount=Decimal(10),
                user=owner,
            )
            purchase.lines.create(
                organization=organization, product=product, quantity=1, unit_price=10
            )
            add_interaction(customer, kind=Kind.RETURN, occurred_at=ago(days=index, hours=1))
            add_task(customer, f"Task {index}", assignee=owner, created_at=ago(days=index, hours=2))
            case = Case.objects.create(
                organization=organization,
                number=index + 1 + (1000 if count > 10 else 0),
                customer=customer,
                subject="Q",
                assignee=owner if index % 2 else None,
                due_at=ago(days=-index),
            )
            add_interaction(
                customer, kind=Kind.CASE_UPDATE, case=case, occurred_at=ago(days=index, hours=3)
            )
    return customer.pk


def queries_of(client: Client, url: str, htmx: bool) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **(HTMX if htmx else {}))
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize(
    ("url", "htmx", "bound"),
    [
        ("/acme/customers/{pk}/timeline/", True, 9),  # the partial: a page of entries
        ("/acme/customers/{pk}/timeline/", False, 12),  # the full page, with key facts
        ("/acme/customers/{pk}/key-facts/", True, 9),
        ("/acme/cases/?tab=open", False, 9),
        ("/acme/cases/?tab=open", True, 9),
        ("/acme/tasks/", False, 7),
        # The customer page with every panel of this app (its own queries included).
        ("/acme/customers/{pk}/", False, 25),
    ],
)
def test_page_queries_do_not_grow_with_the_data(
    org_a: Organization, owner_a: User, client_a: Client, url: str, htmx: bool, bound: int
) -> None:
    """The same number of queries with 3 or 40 of everything (and within a small bound)."""
    small = fill(org_a, "Small", 3, owner_a)
    client_a.get(f"/acme/customers/{small}/key-facts/")  # warm the return norm cache
    with_small = queries_of(client_a, url.format(pk=small), htmx)
    big = fill(org_a, "Big", 40, owner_a)
    with_big = queries_of(client_a, url.format(pk=big), htmx)
    assert with_small == with_big <= bound
