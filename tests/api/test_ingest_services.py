"""The set-based bulk ingest services: interactions_ingest and customers_upsert."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.utils import ProgrammingError
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.tenancy import tenant_context
from crm.webhooks import events as webhook_events
from crm.webhooks import services as webhook_services
from crm.webhooks.models import WebhookDelivery
from customers.ingest import MAX_RECORDS, customers_upsert
from customers.models import Customer
from interactions import ingest as ingest_module
from interactions.ingest import id_ranges, interactions_ingest
from interactions.models import Interaction, Kind, PurchaseLine
from tests.customers.helpers import add_customer, add_field
from tests.interactions.helpers import add_product

pytestmark = pytest.mark.django_db

WHEN = "2026-01-15T10:30:00+01:00"


def event(external_id: str = "e1", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": "webshop",
        "external_id": external_id,
        "kind": "web_visit",
        "occurred_at": WHEN,
        "customer_external_id": "C-1",
    }
    record.update(fields)
    return {key: value for key, value in record.items() if value is not None}


def ingest(
    organization: Organization, records: list[Any], actor: User | None = None, **options: Any
) -> list[dict[str, Any]]:
    with tenant_context(organization.pk):
        return [
            result.as_dict()
            for result in interactions_ingest(
                organization=organization, actor=actor, records=records, **options
            )
        ]


def upsert(
    organization: Organization, records: list[Any], actor: User | None = None
) -> list[dict[str, Any]]:
    with tenant_context(organization.pk):
        return [
            result.as_dict()
            for result in customers_upsert(organization=organization, actor=actor, records=records)
        ]


def interactions(organization: Organization) -> list[Interaction]:
    with tenant_context(organization.pk):
        return list(Interaction.objects.order_by("id"))


@pytest.fixture
def jane(org_a: Organization) -> Customer:
    return add_customer(org_a, "Jane Doe", external_id="C-1", emails=["Jane@Example.com"])


# --- interactions: created / unchanged / error ------------------------------------------------


def test_created_then_unchanged_when_sent_again(
    org_a: Organization, owner_a: User, jane: Customer
) -> None:
    first = ingest(org_a, [event("e1"), event("e2", kind="call")], owner_a)
    assert [r["status"] for r in first] == ["created", "created"]
    stored = interactions(org_a)
    assert [r["id"] for r in first] == [i.pk for i in stored]
    call = stored[1]
    assert call.customer_id == jane.pk
    assert call.channel == "phone"  # the kind's default channel
    assert call.direction == "none"
    assert call.occurred_at == datetime.datetime.fromisoformat(WHEN)
    assert call.source == "webshop" and call.external_id == "e2"
    assert call.user_id is None  # sent by a system, not logged by a member

    again = ingest(org_a, [event("e1"), event("e2", kind="call")], owner_a)
    assert again == [
        {"index": 0, "status": "unchanged", "id": first[0]["id"]},
        {"index": 1, "status": "unchanged", "id": first[1]["id"]},
    ]
    assert len(interactions(org_a)) == 2


def test_a_partial_batch_stores_the_good_records_and_reports_the_bad_exactly(
    org_a: Organization, jane: Customer
) -> None:
    future = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    records = [
        event("ok-1"),
        event("bad-time", occurred_at="2026-01-15T10:30:00"),
        event("bad-kind", kind="telepathy"),
        event("ok-2", channel="chat", direction="inbound", subject="Hi", metadata={"page": "/x"}),
        event("future", occurred_at=future),
        event("", subject="x" * 201),
        "not an object",
        event("bad-amount", amount="-3"),
        event("bad-currency", amount="3.5", currency="EURO"),
        event("unknown", colour="red"),
        event("nobody", customer_external_id=None),
    ]
    results = ingest(org_a, records)
    assert [r["status"] for r in results] == [
        "created",
        "error",
        "error",
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
    ]
    errors = {r["index"]: r["errors"] for r in results if r["status"] == "error"}
    assert set(errors[1]) == {"occurred_at"} and "time zone" in errors[1]["occurred_at"][0]
    assert set(errors[2]) == {"kind"} and "“telepathy” is not one of" in errors[2]["kind"][0]
    assert set(errors[4]) == {"occurred_at"} and "future" in errors[4]["occurred_at"][0]
    assert set(errors[5]) == {"external_id", "subject"}
    assert errors[5]["subject"] == ["Use at most 200 characters (it has 201)."]
    assert errors[6] == {"non_field_errors": ["Send each record as an object."]}
    assert errors[7] == {"amount": ["It cannot be negative."]}
    assert set(errors[8]) == {"currency"}
    assert errors[9] == {"colour": ["Unknown field."]}
    assert errors[10] == {"customer_external_id": ["Give the customer's external id or e-mail."]}
    stored = interactions(org_a)
    assert [i.external_id for i in stored] == ["ok-1", "ok-2"]
    assert stored[1].metadata == {"page": "/x"} and stored[1].direction == "inbound"


def test_the_same_event_twice_in_one_call_is_stored_once(
    org_a: Organization, jane: Customer
) -> None:
    results = ingest(org_a, [event("dup"), event("dup", kind="call"), event("bad", kind="x")])
    assert results[0]["status"] == "created"
    assert results[1] == {"index": 1, "status": "unchanged", "id": results[0]["id"]}
    assert len(interactions(org_a)) == 1


def test_the_call_as_a_whole_is_refused_when_too_big_or_not_a_list(org_a: Organization) -> None:
    with tenant_context(org_a.pk):
        for records in ([event(str(n)) for n in range(MAX_RECORDS + 1)], [], {"a": 1}):
            with pytest.raises(ValidationError) as raised:
                interactions_ingest(organization=org_a, actor=None, records=records)
            assert "records" in raised.value.message_dict
    assert interactions(org_a) == []


# --- interactions: customers ------------------------------------------------------------------


def test_customers_are_matched_by_external_id_or_by_email_case_insensitively(
    org_a: Organization, jane: Customer
) -> None:
    bob = add_customer(org_a, "Bob", emails=["bob@example.com", "robert@work.example"])
    results = ingest(
        org_a,
        [
            event("1"),
            event("2", customer_external_id=None, customer_email=" JANE@example.COM "),
            event("3", customer_external_id=None, customer_email="Bob@Example.com"),
            event("4", customer_external_id="C-404"),
            event("5", customer_external_id=None, customer_email="nobody@example.com"),
            event("6", customer_external_id=None, customer_email="Robert@Work.example"),
        ],
    )
    assert [r["status"] for r in results] == ["created"] * 3 + ["error"] * 2 + ["created"]
    assert results[3]["errors"] == {
        "customer_external_id": ["No customer has the external id C-404."]
    }
    assert results[4]["errors"] == {
        "customer_email": ["No customer has the e-mail nobody@example.com."]
    }
    assert [i.customer_id for i in interactions(org_a)] == [jane.pk, jane.pk, bob.pk, bob.pk]


def test_an_email_shared_by_two_customers_is_ambiguous(org_a: Organization) -> None:
    add_customer(org_a, "One", emails=["shared@example.com"])
    add_customer(org_a, "Two", emails=["shared@example.com"])
    results = ingest(
        org_a, [event("1", customer_external_id=None, customer_email="shared@example.com")]
    )
    assert results[0]["status"] == "error"
    assert "2 different customers" in results[0]["errors"]["customer_email"][0]


def test_customers_are_created_when_asked_once_per_customer_and_audited(
    org_a: Organization, owner_a: User, jane: Customer
) -> None:
    results = ingest(
        org_a,
        [
            event("1", customer_external_id="NEW-1", customer_email="New@Example.com"),
            event("2", customer_external_id="NEW-1"),
            event("3", customer_external_id=None, customer_email="new@example.com"),
            event("4", customer_external_id=None, customer_email="other@example.com"),
            event("5", customer_external_id="NEW-2", customer_name="Nina New"),
            event("6"),  # Jane, who exists
        ],
        owner_a,
        create_customers=True,
    )
    assert [r["status"] for r in results] == ["created"] * 6
    with tenant_context(org_a.pk):
        created = {c.external_id or c.emails[0]: c for c in Customer.objects.exclude(pk=jane.pk)}
        assert set(created) == {"NEW-1", "other@example.com", "NEW-2"}
        assert created["NEW-1"].emails == ["new@example.com"]
        assert created["NEW-1"].name == "new@example.com"
        assert created["NEW-2"].name == "Nina New"
        assert created["NEW-1"].source == "webshop"
        assert "new@example.com" in created["NEW-1"].search_document
        by_event = {i.external_id: i.customer_id for i in Interaction.objects.all()}
        assert by_event["1"] == by_event["2"] == by_event["3"] == created["NEW-1"].pk
        assert by_event["6"] == jane.pk
        audited = AuditEntry.objects.filter(
            object_type="customers.customer",
            action="create",
            object_id__in=[str(c.pk) for c in created.values()],
        )
        assert {e.actor_id for e in audited} == {owner_a.pk} and len(audited) == 3
    # Sent again: nothing new, not even customers.
    again = ingest(
        org_a,
        [event("4", customer_external_id=None, customer_email="x@y.com")],
        owner_a,
        create_customers=True,
    )
    assert again[0]["status"] == "unchanged"
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 4


def test_another_organizations_customer_is_never_matched(
    org_a: Organization, org_b: Organization
) -> None:
    add_customer(org_b, "Bravo's", external_id="C-1", emails=["b@example.com"])
    results = ingest(
        org_a,
        [event("1"), event("2", customer_external_id=None, customer_email="b@example.com")],
    )
    assert [r["status"] for r in results] == ["error", "error"]
    results = ingest(org_a, [event("1")], create_customers=True)
    assert results[0]["status"] == "created"
    with tenant_context(org_a.pk):
        mine = Customer.objects.get(external_id="C-1")
    assert interactions(org_a)[0].customer_id == mine.pk
    with tenant_context(org_b.pk):
        assert Interaction.objects.count() == 0


def test_the_same_source_and_external_id_in_two_organizations_are_two_events(
    org_a: Organization, org_b: Organization, jane: Customer
) -> None:
    add_customer(org_b, "Bravo's", external_id="C-1")
    assert ingest(org_a, [event("e1")])[0]["status"] == "created"
    assert ingest(org_b, [event("e1")])[0]["status"] == "created"
    assert len(interactions(org_a)) == len(interactions(org_b)) == 1


def test_rls_refuses_writing_into_another_tenant(
    org_a: Organization, org_b: Organization, jane: Customer
) -> None:
    """Called for organization B while the tenant in context is A: PostgreSQL shows none of B's
    rows to match, and refuses every row the ingest would write for B."""
    add_customer(org_b, "Bravo's", external_id="C-1")
    with tenant_context(org_a.pk):
        results = interactions_ingest(organization=org_b, actor=None, records=[event("x")])
        assert results[0].status == "error"  # B's customer is invisible under A
        with pytest.raises(ProgrammingError, match="row-level security"):
            interactions_ingest(
                organization=org_b, actor=None, records=[event("x")], create_customers=True
            )
        # The events' INSERT itself, pointed at B's organization, is refused as well.
        parsed = ingest_module._parse(0, event("y"), timezone.now(), "EUR")[0]
        assert parsed is not None
        parsed.customer_id = jane.pk
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            ingest_module._insert_events(org_b, [parsed], timezone.now())
    assert interactions(org_b) == []
    with tenant_context(org_b.pk):
        assert Customer.objects.count() == 1


# --- interactions: purchases, lines, audit ------------------------------------------------------


def test_purchases_with_lines_by_sku(org_a: Organization, jane: Customer) -> None:
    mug = add_product(org_a, "MUG", "8.50")
    add_product(org_a, "TEE", "20.00")
    results = ingest(
        org_a,
        [
            event(
                "o1",
                kind="purchase",
                lines=[{"sku": "MUG", "quantity": 2}, {"sku": "TEE", "unit_price": "15.00"}],
            ),
            event("o2", kind="purchase", lines=[{"sku": "NOPE"}], amount="1"),
            event("o3", kind="purchase", amount="99.00", lines=[{"sku": "MUG"}]),
            event("o4", kind="call", lines=[{"sku": "MUG"}]),
            event("o5", kind="purchase", lines=[{"sku": "MUG", "quantity": 0, "colour": 1}]),
            event("o6", kind="purchase", amount=12.5),
        ],
    )
    assert [r["status"] for r in results] == [
        "created",
        "error",
        "error",
        "error",
        "error",
        "created",
    ]
    assert results[1]["errors"] == {"lines.0.sku": ["No product has the SKU NOPE."]}
    assert "not the total of the lines (8.50)" in results[2]["errors"]["amount"][0]
    assert "Only purchases carry lines" in results[3]["errors"]["lines"][0]
    assert set(results[4]["errors"]) == {"lines.0.quantity", "lines.0.colour"}
    with tenant_context(org_a.pk):
        order = Interaction.objects.get(external_id="o1")
        assert order.amount == Decimal("32.00")
        assert order.currency == org_a.currency
        assert order.direction == "inbound" and order.channel == "store"
        assert order.subject == "Purchase of 3 items"
        lines = list(PurchaseLine.objects.filter(interaction=order).order_by("id"))
        assert [(line.product_id, line.quantity, line.unit_price) for line in lines] == [
            (mug.pk, 2, Decimal("8.50")),
            (lines[1].product_id, 1, Decimal("15.00")),
        ]
        assert Interaction.objects.get(external_id="o6").amount == Decimal("12.50")
    # Sent again: no second set of lines.
    assert (
        ingest(org_a, [event("o1", kind="purchase", lines=[{"sku": "MUG"}])])[0]["status"]
        == "unchanged"
    )
    with tenant_context(org_a.pk):
        assert PurchaseLine.objects.count() == 2


def test_one_audit_entry_per_call(org_a: Organization, owner_a: User, jane: Customer) -> None:
    results = ingest(org_a, [event(str(n)) for n in range(5)] + [event("bad", kind="?")], owner_a)
    ids = [r["id"] for r in results[:5]]
    with tenant_context(org_a.pk):
        entries = list(AuditEntry.objects.filter(object_type="interactions.interaction"))
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor_id == owner_a.pk and entry.action == "create"
    assert entry.changes["created"] == [None, 5]
    assert entry.changes["ids"] == [None, id_ranges(ids)]
    assert entry.changes["sources"] == [None, ["webshop"]]
    ingest(org_a, [event("0")], owner_a)  # unchanged: no entry
    with tenant_context(org_a.pk):
        assert AuditEntry.objects.filter(object_type="interactions.interaction").count() == 1


def test_id_ranges() -> None:
    assert id_ranges([9, 3, 4, 5, 11, 12]) == "3-5, 9, 11-12"
    assert id_ranges([]) == ""


def test_a_batch_takes_a_bounded_number_of_queries(
    org_a: Organization, jane: Customer, django_assert_max_num_queries: Any
) -> None:
    add_product(org_a, "MUG", "8.50")
    for size in (10, 30):
        records = [
            event(f"{size}-{n}", kind="purchase", lines=[{"sku": "MUG"}]) for n in range(size)
        ]
        with django_assert_max_num_queries(9):
            results = ingest(org_a, records)
        assert {r["status"] for r in results} == {"created"}


def test_kinds_all_ingest(org_a: Organization, jane: Customer) -> None:
    results = ingest(org_a, [event(kind, kind=kind) for kind in Kind.values])
    assert {r["status"] for r in results} == {"created"}


# --- customers upsert -------------------------------------------------------------------------


def test_customers_upsert_creates_updates_and_reports_unchanged(
    org_a: Organization, owner_a: User, jane: Customer
) -> None:
    add_field(org_a, key="tier", label="Tier", field_type="choice", choices=["gold", "silver"])
    records = [
        {"external_id": "C-1", "phones": ["+44 20 7946 0000"], "custom_fields": {"tier": "gold"}},
        {
            "name": "Nina New",
            "external_id": "N-1",
            "emails": ["Nina@Example.com"],
            "lifecycle_stage": "lead",
            "tags": "vip, Web",
            "country": "gb",
            "owner_email": "OWNER@acme.test",
        },
        {"emails": ["jane@example.com"], "city": "Leeds", "external_id": "C-1"},
    ]
    results = upsert(org_a, records[:2], owner_a)
    assert [r["status"] for r in results] == ["updated", "created"]
    assert results[0]["id"] == jane.pk
    with tenant_context(org_a.pk):
        jane.refresh_from_db()
        nina = Customer.objects.get(pk=results[1]["id"])
        assert jane.phones == ["+442079460000"] and jane.custom_fields == {"tier": "gold"}
        assert jane.emails == ["jane@example.com"]  # untouched
        assert "79460000" in jane.search_document
        assert (nina.name, nina.emails, nina.tags, nina.country, nina.owner_id) == (
            "Nina New",
            ["nina@example.com"],
            ["vip", "web"],
            "GB",
            owner_a.pk,
        )
        audit = AuditEntry.objects.get(object_id=str(jane.pk), action="update")
        assert audit.changes["phones"] == [[], ["+442079460000"]]
        assert AuditEntry.objects.filter(object_id=str(nina.pk), action="create").exists()
    again = upsert(org_a, records[:2], owner_a)
    assert [r["status"] for r in again] == ["unchanged", "unchanged"]
    third = upsert(org_a, records[2:], owner_a)
    assert third[0]["status"] == "updated"


def test_customers_upsert_errors_name_the_field_and_change_nothing_of_that_record(
    org_a: Organization, jane: Customer
) -> None:
    add_customer(org_a, "Also Jane", emails=["jane2@example.com"])
    results = upsert(
        org_a,
        [
            {"emails": ["no-name@example.com"]},
            {"name": "X", "emails": ["not an email"]},
            {"name": "X", "kind": "robot", "country": "Britain"},
            {"name": "X", "custom_fields": {"nope": 1}},
            {"name": "X", "owner_email": "stranger@example.com"},
            {"emails": ["jane@example.com", "jane2@example.com"]},
            {"name": "Fine", "external_id": "F-1"},
            {"external_id": "F-1", "city": "York"},
            {"name": ""},
            {"external_id": "OTHER", "emails": ["jane@example.com"]},
        ],
    )
    statuses = [r["status"] for r in results]
    assert statuses == ["error"] * 6 + ["created", "error", "error", "error"]
    errors = {r["index"]: r["errors"] for r in results if r["status"] == "error"}
    assert "Enter a name" in errors[0]["name"][0]
    assert "not a valid e-mail" in errors[1]["emails"][0]
    assert set(errors[2]) == {"kind", "country"}
    assert errors[3] == {"custom_fields.nope": ["Unknown custom field."]}
    assert set(errors[4]) == {"owner_email"}
    assert "2 different customers" in errors[5]["emails"][0]
    assert "Record 6 of this call is for the same customer" in errors[7]["non_field_errors"][0]
    assert errors[8] == {"name": ["Enter a name."]}
    assert "another external id (C-1)" in errors[9]["emails"][0]
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 3


def test_customers_upsert_matches_within_the_organization_only(
    org_a: Organization, org_b: Organization
) -> None:
    theirs = add_customer(org_b, "Bravo's", external_id="C-9", emails=["b@example.com"])
    results = upsert(org_a, [{"external_id": "C-9", "emails": ["b@example.com"], "name": "Mine"}])
    assert results[0]["status"] == "created" and results[0]["id"] != theirs.pk
    with tenant_context(org_b.pk):
        theirs.refresh_from_db()
    assert theirs.name == "Bravo's"


def test_webhooks_are_published_per_object_only_when_subscribed(
    org_a: Organization,
    owner_a: User,
    jane: Customer,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(webhook_services, "_enqueue", lambda **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(org_a, [event("quiet")], owner_a)
    with tenant_context(org_a.pk):
        assert WebhookDelivery.objects.count() == 0
        endpoint = webhook_services.webhook_endpoint_create(
            organization=org_a,
            actor=owner_a,
            url="https://hooks.example.com/touchpoint",
            events=[webhook_events.INTERACTION_CREATED, webhook_events.CUSTOMER_CREATED],
        )
    with django_capture_on_commit_callbacks(execute=True):
        results = ingest(
            org_a,
            [event("a"), event("b", customer_external_id="NEW-9"), event("quiet")],
            owner_a,
            create_customers=True,
        )
    with tenant_context(org_a.pk):
        sent = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))
    assert sorted(d.event for d in sent) == [
        "customer.created",
        "interaction.created",
        "interaction.created",
    ]
    created_ids = {r["id"] for r in results if r["status"] == "created"}
    assert {
        d.payload["data"]["id"] for d in sent if d.event == "interaction.created"
    } == created_ids
