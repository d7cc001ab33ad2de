"""Interactions, purchases and returns, products, cases and tasks over the API."""

from decimal import Decimal

import pytest

from crm.models import AuditEntry
from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions.models import Case, Interaction, Product, PurchaseLine, Task
from tests.api.helpers import API, all_pages, key_client, make_key, results
from tests.conftest import member_client
from tests.factories import make_member
from tests.interactions.helpers import add_customer, add_interaction, add_product, add_task

pytestmark = pytest.mark.django_db


def fields_of(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def rows(organization, model):
    with tenant_context(organization.pk):
        return model.objects.count()


def test_log_an_interaction_through_the_service(api_a, org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    response = api_a.post(
        API + "interactions/",
        {
            "customer": ann.pk,
            "kind": "call",
            "direction": "inbound",
            "subject": "Asked about sizes",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == "phone"  # the kind's usual channel
    assert body["user"] == owner_a.pk
    assert body["lines"] == []
    with tenant_context(org_a.pk):
        assert AuditEntry.objects.filter(
            object_type="interactions.interaction", object_id=str(body["id"])
        ).exists()
    assert api_a.get(API + f"interactions/{body['id']}/").json() == body


def test_an_event_sent_twice_is_stored_once(api_a, org_a):
    ann = add_customer(org_a, "Ann")
    event = {
        "customer": ann.pk,
        "kind": "web_visit",
        "source": "website",
        "external_id": "visit-1",
        "occurred_at": "2026-01-05T10:00:00Z",
    }
    first = api_a.post(API + "interactions/", event, format="json")
    again = api_a.post(API + "interactions/", event, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert rows(org_a, Interaction) == 1


def test_a_purchase_with_lines_and_its_return(api_a, org_a):
    ann = add_customer(org_a, "Ann")
    shoes = add_product(org_a, "SHOE-1", "80.00")
    socks = add_product(org_a, "SOCK-1", "5.00")
    purchase = api_a.post(
        API + "interactions/",
        {
            "customer": ann.pk,
            "kind": "purchase",
            "channel": "web",
            "source": "webshop",
            "external_id": "order-1",
            "currency": "EUR",
            "lines": [
                {"product": shoes.pk},
                {"product": socks.pk, "quantity": 3, "unit_price": "4.50"},
            ],
        },
        format="json",
    )
    assert purchase.status_code == 201, purchase.content
    body = purchase.json()
    assert Decimal(body["amount"]) == Decimal("93.50")
    assert body["currency"] == "EUR"
    assert [(line["product"], line["quantity"]) for line in body["lines"]] == [
        (shoes.pk, 1),
        (socks.pk, 3),
    ]
    socks_line = body["lines"][1]["id"]
    returned = api_a.post(
        API + "interactions/",
        {
            "customer": ann.pk,
            "kind": "return",
            "body": "Too small",
            "lines": [{"returned_line": socks_line, "quantity": 2}],
        },
        format="json",
    )
    assert returned.status_code == 201, returned.content
    assert Decimal(returned.json()["amount"]) == Decimal("9.00")
    too_many = api_a.post(
        API + "interactions/",
        {
            "customer": ann.pk,
            "kind": "return",
            "lines": [{"returned_line": socks_line, "quantity": 2}],
        },
        format="json",
    )
    assert "lines" in fields_of(too_many)
    lines = results(api_a.get(API + "purchase-lines/", {"returned_line": socks_line}))
    assert [line["quantity"] for line in lines] == [2]
    assert len(results(api_a.get(API + "purchase-lines/", {"customer": ann.pk}))) == 3


def test_purchase_lines_need_a_product_of_the_organization(api_a, org_a, org_b):
    ann = add_customer(org_a, "Ann")
    theirs = add_product(org_b, "B-1")
    response = api_a.post(
        API + "interactions/",
        {"customer": ann.pk, "kind": "purchase", "lines": [{"product": theirs.pk}, {}]},
        format="json",
    )
    assert fields_of(response) == {
        "lines.0.product": [f'Invalid pk "{theirs.pk}" - object does not exist.']
    }
    assert rows(org_a, Interaction) == 0 and rows(org_a, PurchaseLine) == 0


def test_interactions_are_filtered(api_a, org_a):
    ann = add_customer(org_a, "Ann")
    bob = add_customer(org_a, "Bob")
    add_interaction(ann, kind="call", channel="phone")
    add_interaction(ann, kind="email_sent", channel="email")
    add_interaction(bob, kind="call", channel="phone", source="pbx", external_id="c-1")

    def count(**params):
        return len(results(api_a.get(API + "interactions/", params)))

    assert count(customer=ann.pk) == 2
    assert count(kind="call") == 2
    assert count(kind=["call", "email_sent"], customer=ann.pk) == 2
    assert count(channel="email") == 1
    assert count(source="pbx", external_id="c-1") == 1
    assert count(occurred_after="2999-01-01T00:00:00Z") == 0


def test_products_are_managed_by_leads_and_never_deleted(api_a, org_a):
    created = api_a.post(
        API + "products/", {"sku": "HAT-1", "name": "Hat", "price": "20.00"}, format="json"
    )
    assert created.status_code == 201, created.content
    url = API + f"products/{created.json()['id']}/"
    assert api_a.patch(url, {"active": False}, format="json").json()["active"] is False
    duplicate = api_a.post(
        API + "products/", {"sku": "HAT-1", "name": "Other", "price": "1.00"}, format="json"
    )
    assert list(fields_of(duplicate)) == ["sku"]
    assert api_a.delete(url).status_code == 405
    assert [p["sku"] for p in results(api_a.get(API + "products/", {"active": "false"}))] == [
        "HAT-1"
    ]
    _, sales = member_client(org_a, Role.SALES)
    response = sales.post(
        API + "products/",
        {"sku": "X", "name": "X", "price": "1.00"},
        content_type="application/json",
        HTTP_X_ORGANIZATION=org_a.slug,
    )
    assert response.status_code == 403
    assert rows(org_a, Product) == 1


def test_cases_are_opened_assigned_and_moved_through_services(api_a, org_a):
    ann = add_customer(org_a, "Ann")
    agent = make_member(org_a, Role.SERVICE)
    complaint = add_interaction(ann, kind="complaint")
    opened = api_a.post(
        API + "cases/",
        {
            "customer": ann.pk,
            "subject": "Broken zip",
            "priority": "high",
            "interaction": complaint.pk,
        },
        format="json",
    )
    assert opened.status_code == 201, opened.content
    case = opened.json()
    assert case["number"] == 1 and case["status"] == "new" and case["due_at"]
    url = API + f"cases/{case['id']}/"
    assigned = api_a.post(url + "assign/", {"assignee": agent.pk}, format="json")
    assert assigned.json()["assignee"] == agent.pk
    moved = api_a.post(url + "status/", {"status": "resolved"}, format="json")
    assert moved.json()["status"] == "resolved" and moved.json()["resolved_at"]
    patched = api_a.patch(url, {"status": "open", "assignee": None}, format="json")
    assert (patched.json()["status"], patched.json()["assignee"]) == ("open", None)
    other = add_customer(org_a, "Other")
    assert fields_of(api_a.patch(url, {"customer": other.pk}, format="json")) == {
        "customer": ["A case stays with the customer (and the interaction) it was opened for."]
    }
    assert fields_of(api_a.post(url + "status/", {"status": "lost"}, format="json")) == {
        "status": ['"lost" is not a valid choice.']
    }
    assert [c["number"] for c in results(api_a.get(API + "cases/", {"status": "open"}))] == [1]
    with tenant_context(org_a.pk):
        updates = Interaction.objects.filter(kind="case_update", case_id=case["id"]).count()
        assert updates == 5  # opened, assigned, resolved, reopened, unassigned
        assert Interaction.objects.get(pk=complaint.pk).case_id == case["id"]


def test_case_assignees_must_be_members_who_may_take_cases(api_a, org_a, org_b):
    ann = add_customer(org_a, "Ann")
    viewer = make_member(org_a, Role.VIEWER)
    outsider = make_member(org_b, Role.SERVICE)
    for assignee, message in ((viewer.pk, "cannot take this"), (outsider.pk, "does not exist")):
        response = api_a.post(
            API + "cases/",
            {"customer": ann.pk, "subject": "S", "assignee": assignee},
            format="json",
        )
        assert message in fields_of(response)["assignee"][0]
    assert rows(org_a, Case) == 0


def test_tasks_are_created_completed_and_reopened(api_a, org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    created = api_a.post(
        API + "tasks/",
        {
            "customer": ann.pk,
            "title": "Call back",
            "due_date": "2026-02-01",
            "assignee": owner_a.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["done"] is False and task["created_by"] == owner_a.pk
    url = API + f"tasks/{task['id']}/"
    done = api_a.post(url + "complete/")
    assert done.json()["done"] is True and done.json()["done_at"]
    assert api_a.post(url + "reopen/").json()["done"] is False
    assert api_a.patch(url, {"done": True}, format="json").json()["done"] is True
    assert [t["id"] for t in results(api_a.get(API + "tasks/", {"done": "true"}))] == [task["id"]]
    assert results(api_a.get(API + "tasks/", {"done": "false"})) == []
    other = add_customer(org_a, "Other")
    assert list(fields_of(api_a.patch(url, {"customer": other.pk}, format="json"))) == ["customer"]
    assert api_a.delete(url).status_code == 204
    assert rows(org_a, Task) == 0


def test_a_viewer_key_reads_but_cannot_log(org_a):
    ann = add_customer(org_a, "Ann")
    viewer = make_member(org_a, Role.VIEWER)
    _, key = make_key(org_a, viewer)
    client = key_client(key)
    assert client.get(API + "interactions/").status_code == 200
    response = client.post(
        API + "interactions/", {"customer": ann.pk, "kind": "note"}, format="json"
    )
    assert response.status_code == 403
    assert (
        client.post(API + "tasks/", {"customer": ann.pk, "title": "T"}, format="json").status_code
        == 403
    )
    assert rows(org_a, Interaction) == 0 and rows(org_a, Task) == 0


def test_another_organizations_ids_get_404_in_urls_and_400_in_bodies(api_a, org_a, org_b):
    theirs = add_customer(org_b, "Bob of B")
    mine = add_customer(org_a, "Ann")
    their_interaction = add_interaction(theirs)
    their_task = add_task(theirs)
    their_product = add_product(org_b, "B-1")
    for path in (
        f"interactions/{their_interaction.pk}/",
        f"tasks/{their_task.pk}/",
        f"products/{their_product.pk}/",
    ):
        assert api_a.get(API + path).status_code == 404
    assert api_a.post(API + f"tasks/{their_task.pk}/complete/").status_code == 404
    assert (
        api_a.patch(API + f"products/{their_product.pk}/", {"name": "X"}, format="json").status_code
        == 404
    )
    bodies = [
        ("interactions/", {"customer": theirs.pk, "kind": "note"}, "customer"),
        (
            "tasks/",
            {"customer": mine.pk, "title": "T", "interaction": their_interaction.pk},
            "interaction",
        ),
        ("cases/", {"customer": theirs.pk, "subject": "S"}, "customer"),
    ]
    for path, body, field in bodies:
        assert list(fields_of(api_a.post(API + path, body, format="json"))) == [field]
    with tenant_context(org_a.pk):
        assert not Interaction.objects.exists() and not Task.objects.exists()
    with tenant_context(org_b.pk):
        assert Task.objects.get(pk=their_task.pk).done_at is None
        assert Product.objects.get(pk=their_product.pk).name == "Product B-1"


def test_interactions_page_through_newest_first(api_a, org_a):
    ann = add_customer(org_a, "Ann")
    from tests.interactions.helpers import ago

    for day in range(5):
        add_interaction(ann, occurred_at=ago(days=day))
    listed = all_pages(api_a, API + "interactions/", page_size=2)
    stamps = [row["occurred_at"] for row in listed]
    assert len(listed) == 5 and stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize(
    "path", ["interactions/", "purchase-lines/", "products/", "cases/", "tasks/"]
)
def test_list_queries_do_not_grow_with_the_rows(
    api_a, org_a, owner_a, django_assert_max_num_queries, path
):
    def add(count):
        for number in range(count):
            customer = add_customer(org_a, "Person")
            product = add_product(org_a, f"SKU-{path}-{count}-{number}")
            purchase = add_interaction(customer, kind="purchase", amount=Decimal("10"))
            with tenant_context(org_a.pk):
                PurchaseLine.objects.create(
                    organization=org_a, interaction=purchase, product=product, unit_price=10
                )
                Case.objects.create(
                    organization=org_a,
                    number=Case.objects.count() + 1,
                    customer=customer,
                    subject="S",
                    assignee=owner_a,
                    due_at=purchase.occurred_at,
                )
            add_task(customer, assignee=owner_a, interaction=purchase)

    add(3)
    with django_assert_max_num_queries(8) as small:
        assert api_a.get(API + path).status_code == 200
    add(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert api_a.get(API + path).status_code == 200
