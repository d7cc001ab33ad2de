"""Business actions: idempotent events, purchases and returns, case numbering and due times,
case changes on the timeline and in the audit trail, tasks, products, and field-named errors."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions import services
from interactions.models import Case, CaseCounter, Channel, Direction, Interaction, Kind, Task
from interactions.services.events import create_event
from tests.factories import make_member, make_organization
from tests.interactions.helpers import add_customer, add_interaction, add_product, ago

pytestmark = pytest.mark.django_db


def audit_of(instance: object) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            object_type=instance._meta.label_lower,  # type: ignore[attr-defined]
            object_id=str(instance.pk),  # type: ignore[attr-defined]
        ).order_by("id")
    )


# --- interactions ---------------------------------------------------------------------------


def test_logging_an_interaction_stores_it_and_audits(in_org_a: Organization, owner_a: User) -> None:
    customer = add_customer(in_org_a)
    interaction = services.interaction_log(
        organization=in_org_a,
        actor=owner_a,
        customer=customer,
        kind=Kind.CALL,
        direction=Direction.INBOUND,
        subject="Asked about boots",
        body="Wants size 42.",
    )
    interaction.refresh_from_db()
    assert interaction.channel == Channel.PHONE  # preset by the kind
    assert interaction.user == owner_a
    assert interaction.subject == "Asked about boots"
    [entry] = audit_of(interaction)
    assert entry.action == "create" and entry.actor == owner_a
    assert entry.changes["subject"] == [None, "Asked about boots"]


def test_the_same_external_event_is_stored_once(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    first = services.interaction_log(
        organization=in_org_a,
        actor=None,
        customer=customer,
        kind=Kind.EMAIL_OPENED,
        source="mailer",
        external_id="evt-1",
        occurred_at=ago(days=1),
    )
    again = services.interaction_log(
        organization=in_org_a,
        actor=None,
        customer=customer,
        kind=Kind.EMAIL_OPENED,
        source="mailer",
        external_id="evt-1",
        subject="different payload",
    )
    assert again.pk == first.pk
    assert Interaction.objects.filter(external_id="evt-1").count() == 1
    assert len(audit_of(first)) == 1
    # The same id from another system is another event.
    other = services.interaction_log(
        organization=in_org_a,
        actor=None,
        customer=customer,
        kind=Kind.EMAIL_OPENED,
        source="shop",
        external_id="evt-1",
    )
    assert other.pk != first.pk


def test_external_ids_are_unique_per_organization_only(
    org_a: Organization, org_b: Organization
) -> None:
    alice = add_customer(org_a, "Alice")
    bob = add_customer(org_b, "Bob")
    for customer in (alice, bob):
        add_interaction(customer, source="shop", external_id="o-1")
    with tenant_context(org_a.pk):
        # Empty external ids never clash.
        add_interaction(alice, source="shop")
        add_interaction(alice, source="shop")
        with pytest.raises(IntegrityError), transaction.atomic():
            add_interaction(alice, source="shop", external_id="o-1")


def test_a_concurrent_duplicate_returns_the_stored_event(in_org_a: Organization) -> None:
    """When the lookup misses but the insert hits the unique constraint, the winner is returned."""
    customer = add_customer(in_org_a)
    stored = add_interaction(customer, source="shop", external_id="o-9")
    duplicate = Interaction(
        organization=in_org_a,
        customer=customer,
        kind=Kind.CALL,
        channel=Channel.PHONE,
        source="shop",
        external_id="o-9",
    )
    with transaction.atomic():
        result, created = create_event(duplicate)
    assert (result.pk, created) == (stored.pk, False)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "telepathy"}, "kind"),
        ({"channel": "pigeon"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"occurred_at": timezone.now() + datetime.timedelta(days=2)}, "occurred_at"),
        ({"subject": "x" * 201}, "subject"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"currency": "EURO"}, "currency"),
    ],
)
def test_invalid_interactions_name_the_field(
    in_org_a: Organization, changes: dict[str, object], field: str
) -> None:
    customer = add_customer(in_org_a)
    fields: dict[str, object] = {"kind": Kind.CALL, **changes}
    with pytest.raises(ValidationError) as error:
        services.interaction_log(organization=in_org_a, actor=None, customer=customer, **fields)  # type: ignore[arg-type]
    assert field in error.value.message_dict
    assert Interaction.objects.count() == 0


def test_an_interaction_for_another_tenants_customer_is_refused(
    org_a: Organization, org_b: Organization
) -> None:
    bob = add_customer(org_b, "Bob")
    with tenant_context(org_a.pk), pytest.raises(ValidationError) as error:
        services.interaction_log(organization=org_a, actor=None, customer=bob, kind=Kind.NOTE)
    assert "customer" in error.value.message_dict


# --- purchases and returns ------------------------------------------------------------------


def test_a_purchase_records_its_lines_and_total(in_org_a: Organization, owner_a: User) -> None:
    customer = add_customer(in_org_a)
    boots = add_product(in_org_a, "B-1", "100.00")
    socks = add_product(in_org_a, "S-1", "9.50")
    purchase = services.purchase_record(
        organization=in_org_a,
        actor=owner_a,
        customer=customer,
        lines=[
            services.PurchaseLineInput(product=boots, quantity=1, unit_price=Decimal("80.00")),
            services.PurchaseLineInput(product=socks, quantity=3),
        ],
        source="pos",
        external_id="r-1",
    )
    lines = list(purchase.lines.order_by("id"))
    assert [(line.product_id, line.quantity, line.unit_price) for line in lines] == [
        (boots.pk, 1, Decimal("80.00")),
        (socks.pk, 3, Decimal("9.50")),
    ]
    assert purchase.amount == Decimal("108.50")
    assert purchase.currency == in_org_a.currency
    assert purchase.kind == Kind.PURCHASE and purchase.subject == "Purchase of 4 items"
    again = services.purchase_record(
        organization=in_org_a,
        actor=owner_a,
        customer=customer,
        lines=[services.PurchaseLineInput(product=boots)],
        source="pos",
        external_id="r-1",
    )
    assert again.pk == purchase.pk and Interaction.objects.count() == 1


def test_purchase_errors_name_the_lines(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    boots = add_product(in_org_a)
    with pytest.raises(ValidationError) as error:
        services.purchase_record(organization=in_org_a, actor=None, customer=customer, lines=[])
    assert "lines" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.purchase_record(
            organization=in_org_a,
            actor=None,
            customer=customer,
            lines=[services.PurchaseLineInput(product=boots, quantity=0)],
        )
    assert "Line 1" in error.value.message_dict["lines"][0]
    assert Interaction.objects.count() == 0


def test_a_return_points_to_the_lines_it_gives_back(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    boots = add_product(in_org_a, "B-1", "100.00")
    socks = add_product(in_org_a, "S-1", "10.00")
    purchase = services.purchase_record(
        organization=in_org_a,
        actor=None,
        customer=customer,
        lines=[
            services.PurchaseLineInput(product=boots),
            services.PurchaseLineInput(product=socks, quantity=3),
        ],
        occurred_at=ago(days=10),
    )
    boots_line, socks_line = purchase.lines.order_by("id")
    returned = services.return_record(
        organization=in_org_a,
        actor=None,
        customer=customer,
        lines=[services.ReturnLineInput(purchase_line=socks_line, quantity=2)],
        reason="Too small",
    )
    [line] = returned.lines.all()
    assert line.returned_line == socks_line
    assert (line.product_id, line.quantity, line.unit_price) == (socks.pk, 2, Decimal("10.00"))
    assert returned.kind == Kind.RETURN and returned.amount == Decimal("20.00")
    assert returned.body == "Too small"
    assert list(socks_line.returns.all()) == [line]
    # Only one pair of socks is left to return.
    with pytest.raises(ValidationError) as error:
        services.return_record(
            organization=in_org_a,
            actor=None,
            customer=customer,
            lines=[services.ReturnLineInput(purchase_line=socks_line, quantity=2)],
        )
    assert "only 1" in error.value.message_dict["lines"][0]
    # Another customer cannot return these lines.
    other = add_customer(in_org_a, "Other")
    with pytest.raises(ValidationError) as error:
        services.return_record(
            organization=in_org_a,
            actor=None,
            customer=other,
            lines=[services.ReturnLineInput(purchase_line=boots_line)],
        )
    assert "lines" in error.value.message_dict
    assert Interaction.objects.filter(kind=Kind.RETURN).count() == 1


# --- cases ----------------------------------------------------------------------------------


def test_cases_are_numbered_per_organization(org_a: Organization, org_b: Organization) -> None:
    alice = add_customer(org_a, "Alice")
    bob = add_customer(org_b, "Bob")
    with tenant_context(org_a.pk):
        numbers_a = [
            services.case_open(
                organization=org_a, actor=None, customer=alice, subject=f"A{i}"
            ).number
            for i in range(3)
        ]
        assert CaseCounter.objects.get().last_number == 3
    with tenant_context(org_b.pk):
        numbers_b = [
            services.case_open(organization=org_b, actor=None, customer=bob, subject="B").number
        ]
    assert numbers_a == [1, 2, 3]
    assert numbers_b == [1]


@pytest.mark.parametrize(
    ("priority", "hours"), [("urgent", 4), ("high", 24), ("normal", 72), ("low", 168)]
)
def test_a_case_is_due_by_its_prioritys_target(
    in_org_a: Organization, priority: str, hours: int
) -> None:
    customer = add_customer(in_org_a)
    case = services.case_open(
        organization=in_org_a, actor=None, customer=customer, subject="Help", priority=priority
    )
    assert case.due_at - case.created_at == datetime.timedelta(hours=hours)


@override_settings(INTERACTIONS_CASE_DUE_HOURS={"urgent": 1})
def test_due_targets_can_be_configured(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    case = services.case_open(
        organization=in_org_a, actor=None, customer=customer, subject="Help", priority="urgent"
    )
    assert case.due_at - case.created_at == datetime.timedelta(hours=1)
    assert services.case_due_hours("low") == 168


def test_opening_a_case_is_on_the_timeline_and_audited(
    in_org_a: Organization, owner_a: User
) -> None:
    customer = add_customer(in_org_a)
    complaint = add_interaction(customer, kind=Kind.COMPLAINT, subject="Zip broke")
    case = services.case_open(
        organization=in_org_a,
        actor=owner_a,
        customer=customer,
        subject="Broken zip",
        priority="high",
        assignee=owner_a,
        interaction=complaint,
    )
    assert case.status == Case.Status.NEW and case.opened_by == owner_a
    complaint.refresh_from_db()
    assert complaint.case == case
    update = Interaction.objects.get(kind=Kind.CASE_UPDATE)
    assert update.case == case and update.customer == customer and update.user == owner_a
    assert update.subject == "Case #1 opened: Broken zip"
    assert [entry.action for entry in audit_of(case)] == ["create"]


def test_status_changes_are_timeline_entries_and_audited(
    in_org_a: Organization, owner_a: User
) -> None:
    customer = add_customer(in_org_a)
    case = services.case_open(organization=in_org_a, actor=owner_a, customer=customer, subject="X")
    case = services.case_change_status(
        organization=in_org_a, actor=owner_a, case=case, status=Case.Status.RESOLVED
    )
    assert case.status == "resolved" and case.resolved_at is not None
    update = Interaction.objects.filter(kind=Kind.CASE_UPDATE).order_by("-id").first()
    assert update is not None
    assert update.subject == "Case #1: New → Resolved"
    assert update.metadata["status_from"] == "new" and update.metadata["status_to"] == "resolved"
    assert update.case == case and update.customer == customer
    entry = audit_of(case)[-1]
    assert entry.action == "update" and entry.actor == owner_a
    assert entry.changes["status"] == ["new", "resolved"]
    # Reopening clears the resolution; the same status again changes nothing.
    case = services.case_change_status(
        organization=in_org_a, actor=owner_a, case=case, status=Case.Status.OPEN
    )
    assert case.resolved_at is None
    count = Interaction.objects.count()
    services.case_change_status(organization=in_org_a, actor=owner_a, case=case, status="open")
    assert Interaction.objects.count() == count
    with pytest.raises(ValidationError) as error:
        services.case_change_status(organization=in_org_a, actor=owner_a, case=case, status="gone")
    assert "status" in error.value.message_dict


def test_assignment_is_a_timeline_entry_audited_and_limited_to_staff(
    org_a: Organization, owner_a: User
) -> None:
    agent = make_member(org_a, Role.SERVICE, full_name="Sam Service")
    viewer = make_member(org_a, Role.VIEWER)
    outsider = make_member(make_organization(), Role.SERVICE)
    customer = add_customer(org_a)
    with tenant_context(org_a.pk):
        case = services.case_open(organization=org_a, actor=owner_a, customer=customer, subject="X")
        case = services.case_assign(organization=org_a, actor=owner_a, case=case, assignee=agent)
        assert case.assignee == agent
        update = Interaction.objects.filter(kind=Kind.CASE_UPDATE).order_by("-id").first()
        assert update is not None and update.subject == "Case #1 assigned to Sam Service"
        entry = audit_of(case)[-1]
        assert entry.changes["assignee"] == [None, agent.pk]
        for wrong in (viewer, outsider):
            with pytest.raises(ValidationError) as error:
                services.case_assign(organization=org_a, actor=owner_a, case=case, assignee=wrong)
            assert "assignee" in error.value.message_dict
        case = services.case_assign(organization=org_a, actor=owner_a, case=case, assignee=None)
        assert case.assignee is None
        assert Interaction.objects.filter(subject="Case #1 unassigned").exists()


def test_opening_a_case_validates_every_field(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    other = add_customer(in_org_a, "Other")
    foreign = add_interaction(other)
    with pytest.raises(ValidationError) as error:
        services.case_open(
            organization=in_org_a,
            actor=None,
            customer=customer,
            subject=" ",
            priority="whenever",
            interaction=foreign,
        )
    assert set(error.value.message_dict) == {"subject", "priority", "interaction"}
    assert Case.objects.count() == 0 and CaseCounter.objects.count() == 0


# --- tasks ----------------------------------------------------------------------------------


def test_tasks_are_created_from_an_interaction_completed_and_reopened(
    in_org_a: Organization, owner_a: User
) -> None:
    customer = add_customer(in_org_a)
    call = add_interaction(customer)
    task = services.task_create(
        organization=in_org_a,
        actor=owner_a,
        customer=customer,
        title="  Call back  ",
        due_date=datetime.date(2030, 1, 1),
        assignee=owner_a,
        interaction=call,
    )
    assert task.title == "Call back" and task.interaction == call and task.created_by == owner_a
    task = services.task_complete(organization=in_org_a, actor=owner_a, task=task)
    done_at = task.done_at
    assert done_at is not None
    # Completing twice keeps the first time.
    assert (
        services.task_complete(organization=in_org_a, actor=owner_a, task=task).done_at == done_at
    )
    task = services.task_reopen(organization=in_org_a, actor=owner_a, task=task)
    assert task.done_at is None
    assert [entry.action for entry in audit_of(task)] == ["create", "update", "update"]


def test_task_errors_name_the_field(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    viewer = make_member(in_org_a, Role.VIEWER)
    not_theirs = add_interaction(add_customer(in_org_a, "Someone else"))
    with pytest.raises(ValidationError) as error:
        services.task_create(
            organization=in_org_a,
            actor=None,
            customer=customer,
            title="",
            assignee=viewer,
            interaction=not_theirs,
        )
    assert set(error.value.message_dict) == {"title", "assignee", "interaction"}
    assert Task.objects.count() == 0


# --- products -------------------------------------------------------------------------------


def test_products_have_unique_skus_and_are_audited(in_org_a: Organization, owner_a: User) -> None:
    product = services.product_create(
        organization=in_org_a, actor=owner_a, sku="TENT-2", name="Tent", price=Decimal("249")
    )
    with pytest.raises(ValidationError) as error:
        services.product_create(
            organization=in_org_a, actor=owner_a, sku="TENT-2", name="Other", price=Decimal("1")
        )
    assert "sku" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.product_create(
            organization=in_org_a, actor=owner_a, sku="X", name="", price=Decimal("-1")
        )
    assert set(error.value.message_dict) == {"name", "price"}
    product = services.product_update(
        organization=in_org_a, actor=owner_a, product=product, price=Decimal("199"), active=False
    )
    product.refresh_from_db()
    assert product.price == Decimal("199.00") and not product.active
    changes = audit_of(product)[-1].changes
    assert set(changes) == {"price", "active"} and changes["active"] == [True, False]
    with pytest.raises(ValidationError) as error:
        services.product_update(organization=in_org_a, actor=owner_a, product=product, id=5)
    assert "id" in error.value.message_dict


def test_skus_may_repeat_across_organizations(org_a: Organization, org_b: Organization) -> None:
    for organization in (org_a, org_b):
        with tenant_context(organization.pk):
            services.product_create(
                organization=organization, actor=None, sku="SAME", name="Same", price=Decimal(1)
            )


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_concurrent_case_openings_never_share_a_number(org_a: Organization) -> None:
    """Threads with their own connections open cases at once: numbers stay 1..n, unique."""
    import threading

    from django.db import connection

    customer = add_customer(org_a)
    barrier = threading.Barrier(4)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def open_cases() -> None:
        try:
            with tenant_context(org_a.pk):
                barrier.wait()
                for _ in range(5):
                    case = services.case_open(
                        organization=org_a, actor=None, customer=customer, subject="Rush"
                    )
                    numbers.append(case.number)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_cases) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
    with tenant_context(org_a.pk):
        assert CaseCounter.objects.get().last_number == 20
