"""Model invariants and registrations: what the database refuses, cheap properties, panels."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Organization
from crm.registry import customer_panels, demo_loaders
from interactions.demo import load_demo_interactions
from interactions.models import Case, Interaction, Kind, Product, PurchaseLine
from tests.interactions.helpers import add_customer, add_interaction, add_product, add_task, ago

pytestmark = pytest.mark.django_db


def test_case_numbers_are_unique_per_organization(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    Case.objects.create(
        organization=in_org_a, number=1, customer=customer, subject="A", due_at=ago()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(
            organization=in_org_a, number=1, customer=customer, subject="B", due_at=ago()
        )


def test_skus_are_unique_per_organization(in_org_a: Organization) -> None:
    add_product(in_org_a, "SKU-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        add_product(in_org_a, "SKU-1")


def test_cheap_properties(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    product = add_product(in_org_a, price="12.50")
    purchase = add_interaction(customer, kind=Kind.PURCHASE, subject="Order 7")
    line = PurchaseLine.objects.create(
        organization=in_org_a,
        interaction=purchase,
        product=product,
        quantity=3,
        unit_price=Decimal("12.50"),
    )
    assert line.total == Decimal("37.50")
    assert str(purchase) == "Purchase: Order 7"
    assert str(add_interaction(customer, kind=Kind.NOTE)) == "Note"
    assert add_interaction(customer, kind=Kind.CASE_UPDATE).is_internal
    assert str(product) == "Product SKU-1 (SKU-1)"
    late = Case(status=Case.Status.OPEN, due_at=timezone.now() - datetime.timedelta(minutes=1))
    assert late.is_open and late.is_overdue
    assert not Case(status=Case.Status.RESOLVED, due_at=late.due_at).is_overdue
    today = datetime.date(2024, 5, 10)
    task = add_task(customer, due_date=datetime.date(2024, 5, 9))
    assert task.is_overdue_on(today) and not task.is_overdue_on(datetime.date(2024, 5, 9))
    task.done_at = timezone.now()
    assert task.is_done and not task.is_overdue_on(today)


def test_deleting_a_customer_takes_their_history_but_keeps_products(in_org_a: Organization) -> None:
    customer = add_customer(in_org_a)
    product = add_product(in_org_a)
    purchase = add_interaction(customer, kind=Kind.PURCHASE)
    purchase.lines.create(organization=in_org_a, product=product, quantity=1, unit_price=1)
    add_task(customer, interaction=purchase)
    customer.delete()
    assert Interaction.objects.count() == 0 and PurchaseLine.objects.count() == 0
    assert Product.objects.count() == 1


def test_the_app_registers_its_panels_and_demo_loader() -> None:
    panels = {panel.key: panel for panel in customer_panels}
    assert (panels["key_facts"].order, panels["key_facts"].title) == (10, "Key facts")
    assert (panels["timeline"].order, panels["timeline"].title) == (20, "Timeline")
    assert (panels["more"].order, panels["more"].title) == (90, "More about this customer")
    assert panels["timeline"].permission == "interactions.view"
    loader = next(loader for loader in demo_loaders if loader.key == "interactions")
    assert loader.load is load_demo_interactions and loader.order == 20
    customers_loader = next(loader for loader in demo_loaders if loader.key == "customers")
    assert customers_loader.order < loader.order
