"""Builders for interactions tests. Rows are written as the runtime role inside the tenant."""

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.models import Organization
from crm.tenancy import tenant_context
from customers.models import Customer
from interactions.models import Channel, Direction, Interaction, Kind, Product, Task

NOW = timezone.now()


def ago(days: float = 0, hours: float = 0) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days, hours=hours)


def add_customer(organization: Organization, name: str = "Jane Doe", **fields: Any) -> Customer:
    with tenant_context(organization.pk):
        return Customer.objects.create(organization=organization, name=name, **fields)


def add_company(organization: Organization, name: str = "Acme Ltd") -> Customer:
    return add_customer(organization, name, kind=Customer.Kind.COMPANY)


def add_product(
    organization: Organization, sku: str = "SKU-1", price: str = "10.00", **fields: Any
) -> Product:
    with tenant_context(organization.pk):
        return Product.objects.create(
            organization=organization,
            sku=sku,
            name=fields.pop("name", f"Product {sku}"),
            price=Decimal(price),
            **fields,
        )


def add_interaction(
    customer: Customer,
    kind: str = Kind.CALL,
    channel: str = Channel.PHONE,
    occurred_at: datetime.datetime | None = None,
    direction: str = Direction.OUTBOUND,
    **fields: Any,
) -> Interaction:
    with tenant_context(customer.organization_id):
        return Interaction.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            kind=kind,
            channel=channel,
            direction=direction,
            occurred_at=occurred_at or NOW,
            **fields,
        )


def add_task(customer: Customer, title: str = "Call back", **fields: Any) -> Task:
    with tenant_context(customer.organization_id):
        return Task.objects.create(
            organization_id=customer.organization_id, customer=customer, title=title, **fields
        )
