"""Touchpoints: logging interactions, recording purchases and returns (all idempotent for
events other systems send with an external id)."""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from crm.models import Organization, User
from crm.services import audit_create
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_data, webhook_event_publish
from customers.models import Customer
from interactions.models import (
    DEFAULT_CHANNEL_OF_KIND,
    Case,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
    PurchaseLine,
)
from interactions.services.common import check_choice, check_customer, check_length

# How far in the future an event may claim to have happened (clocks of other systems drift).
FUTURE_TOLERANCE = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class PurchaseLineInput:
    """A product bought: quantity and unit price (the product's price when not given)."""

    product: Product
    quantity: int = 1
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class ReturnLineInput:
    """A quantity of a purchase line given back."""

    purchase_line: PurchaseLine
    quantity: int = 1


def _existing_event(
    organization: Organization, source: str, external_id: str
) -> Interaction | None:
    if not external_id:
        return None
    return Interaction.objects.filter(
        organization=organization, source=source, external_id=external_id
    ).first()


def _validate_interaction_fields(
    *,
    organization: Organization,
    customer: Customer,
    kind: str,
    channel: str,
    direction: str,
    occurred_at: datetime.datetime,
    subject: str,
    source: str,
    external_id: str,
    amount: Decimal | None,
    currency: str,
    case: Case | None,
) -> dict[str, str]:
    errors = check_customer(organization, customer)
    check_choice(errors, "kind", kind, Kind)
    check_choice(errors, "channel", channel, Channel)
    check_choice(errors, "direction", direction, Direction)
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Give a time with its time zone."
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = "This is in the future; log what has happened."
    check_length(errors, "subject", subject, 200)
    check_length(errors, "source", source, 50)
    check_length(errors, "external_id", external_id, 100)
    if amount is not None and amount < 0:
        errors["amount"] = "The amount cannot be negative."
    if currency and (len(currency) != 3 or not currency.isalpha()):
        errors["currency"] = "Use a three-letter ISO 4217 code, e.g. EUR."
    if case is not None and (
        case.organization_id != organization.pk or case.customer_id != customer.pk
    ):
        errors["case"] = "Choose a case of this customer."
    return errors


def create_event(
    interaction: Interaction, *, lines: Sequence[PurchaseLine] = ()
) -> tuple[Interaction, bool]:
    """Insert an interaction and its lines; (stored event, False) when the same event won a race."""
    try:
        with transaction.atomic():
            interaction.save()
            for line in lines:
                line.interaction = interaction
            PurchaseLine.objects.bulk_create(lines)
    except IntegrityError:
        existing = _existing_event(
            interaction.organization, interaction.source, interaction.external_id
        )
        if existing is None:
            raise
        return existing, False
    webhook_event_publish(
        organization=interaction.organization,
        event=webhook_events.INTERACTION_CREATED,
        payload=webhook_data(interaction),
    )
    return interaction, True


def interaction_log(
    *,
    organization: Organization,
    actor: User | None,
    customer: Customer,
    kind: str,
    channel: str = "",
    direction: str = Direction.NONE,
    occurred_at: datetime.datetime | None = None,
    subject: str = "",
    body: str = "",
    amount: Decimal | None = None,
    currency: str = "",
    metadata: dict[str, Any] | None = None,
    source: str = "",
    external_id: str = "",
    case: Case | None = None,
) -> Interaction:
    """Record a touchpoint on the customer's timeline.

    Idempotent for events from other systems: when (source, external_id) is already stored in
    the organization, the stored interaction is returned and nothing is written.
    """
    existing = _existing_event(organization, source, external_id)
    if existing is not None:
        return existing
    occurred_at = occurred_at or timezone.now()
    channel = channel or DEFAULT_CHANNEL_OF_KIND.get(kind, Channel.OTHER)
    currency = currency.upper()
    errors = _validate_interaction_fields(
        organization=organization,
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject,
        source=source,
        external_id=external_id,
        amount=amount,
        currency=currency,
        case=case,
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        interaction, created = create_event(
            Interaction(
                organization=organization,
                customer=customer,
                kind=kind,
                channel=channel,
                direction=direction,
                occurred_at=occurred_at,
                user=actor,
                source=source,
                external_id=external_id,
                subject=subject,
                body=body,
                amount=amount,
                currency=currency or (organization.currency if amount is not None else ""),
                metadata=metadata or {},
                case=case,
            )
        )
        if created:
            audit_create(organization=organization, actor=actor, instance=interaction)
    return interaction


def purchase_record(
    *,
    organization: Organization,
    actor: User | None,
    customer: Customer,
    lines: Sequence[PurchaseLineInput],
    channel: str = Channel.STORE,
    direction: str = Direction.INBOUND,
    occurred_at: datetime.datetime | None = None,
    subject: str = "",
    body: str = "",
    currency: str = "",
    metadata: dict[str, Any] | None = None,
    source: str = "",
    external_id: str = "",
) -> Interaction:
    """Record a purchase with its lines; the amount is the sum of the lines. Idempotent."""
    existing = _existing_event(organization, source, external_id)
    if existing is not None:
        return existing
    occurred_at = occurred_at or timezone.now()
    line_objects: list[PurchaseLine] = []
    line_errors: list[str] = []
    if not lines:
        line_errors.append("Add at least one product.")
    for number, item in enumerate(lines, start=1):
        product = item.product
        unit_price = item.unit_price if item.unit_price is not None else product.price
        if product.organization_id != organization.pk:
            line_errors.append(f"Line {number}: choose a product of this organization.")
        elif item.quantity < 1:
            line_errors.append(f"Line {number}: the quantity must be at least 1.")
        elif unit_price < 0:
            line_errors.append(f"Line {number}: the unit price cannot be negative.")
        line_objects.append(
            PurchaseLine(
                organization=organization,
                product=product,
                quantity=item.quantity,
                unit_price=unit_price,
            )
        )
    amount = sum((line.total for line in line_objects), Decimal("0.00"))
    currency = currency.upper()
    errors = _validate_interaction_fields(
        organization=organization,
        customer=customer,
        kind=Kind.PURCHASE,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject,
        source=source,
        external_id=external_id,
        amount=amount,
        currency=currency,
        case=None,
    )
    if line_errors:
        errors["lines"] = " ".join(line_errors)
    if errors:
        raise ValidationError(errors)
    count = sum(line.quantity for line in line_objects)
    with transaction.atomic():
        interaction, created = create_event(
            Interaction(
                organization=organization,
                customer=customer,
                kind=Kind.PURCHASE,
                channel=channel,
                direction=direction,
                occurred_at=occurred_at,
                user=actor,
                source=source,
                external_id=external_id,
                subject=subject or f"Purchase of {count} item{'s' if count != 1 else ''}",
                body=body,
                amount=amount,
                currency=currency or organization.currency,
                metadata=metadata or {},
            ),
            lines=line_objects,
        )
        if created:
            audit_create(organization=organization, actor=actor, instance=interaction)
    return interaction


def return_record(
    *,
    organization: Organization,
    actor: User | None,
    customer: Customer,
    lines: Sequence[ReturnLineInput],
    channel: str = Channel.STORE,
    occurred_at: datetime.datetime | None = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    source: str = "",
    external_id: str = "",
) -> Interaction:
    """Record a return of purchased lines; each return line points to the line it gives back.

    A line cannot be returned more often than it was bought (counting earlier returns); the
    amount is what the returned quantities cost. Idempotent like every event.
    """
    existing = _existing_event(organization, source, external_id)
    if existing is not None:
        return existing
    occurred_at = occurred_at or timezone.now()
    errors = check_customer(organization, customer)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ids = [item.purchase_line.pk for item in lines]
        # Lock the purchase lines so two returns of the same line cannot both pass the check.
        originals = {
            line.pk: line
            for line in PurchaseLine.objects.select_for_update(of=("self",))
            .select_related("interaction")
            .filter(organization=organization, pk__in=ids)
        }
        already = dict(
            PurchaseLine.objects.filter(organization=organization, returned_line_id__in=ids)
            .values_list("returned_line_id")
            .annotate(total=Sum("quantity"))
            .values_list("returned_line_id", "total")
        )
        line_errors: list[str] = []
        if not lines:
            line_errors.append("Choose at least one purchased product to return.")
        requested: dict[int, int] = {}
        line_objects: list[PurchaseLine] = []
        for number, item in enumerate(lines, start=1):
            original = originals.get(item.purchase_line.pk)
            if (
                original is None
                or original.interaction.kind != Kind.PURCHASE
                or original.interaction.customer_id != customer.pk
            ):
                line_errors.append(f"Line {number}: choose a line of this customer's purchases.")
                continue
            requested[original.pk] = requested.get(original.pk, 0) + item.quantity
            returnable = original.quantity - already.get(original.pk, 0)
            if item.quantity < 1:
                line_errors.append(f"Line {number}: the quantity must be at least 1.")
            elif requested[original.pk] > returnable:
                line_errors.append(
                    f"Line {number}: only {returnable} of this line can still be returned."
                )
            line_objects.append(
                PurchaseLine(
                    organization=organization,
                    product_id=original.product_id,
                    quantity=item.quantity,
                    unit_price=original.unit_price,
                    returned_line=original,
                )
            )
        amount = sum((line.total for line in line_objects), Decimal("0.00"))
        errors = _validate_interaction_fields(
            organization=organization,
            customer=customer,
            kind=Kind.RETURN,
            channel=channel,
            direction=Direction.INBOUND,
            occurred_at=occurred_at,
            subject="",
            source=source,
            external_id=external_id,
            amount=amount,
            currency="",
            case=None,
        )
        if line_errors:
            errors["lines"] = " ".join(line_errors)
        if errors:
            raise ValidationError(errors)
        count = sum(line.quantity for line in line_objects)
        currency = next(iter(originals.values())).interaction.currency or organization.currency
        interaction, created = create_event(
            Interaction(
                organization=organization,
                customer=customer,
                kind=Kind.RETURN,
                channel=channel,
                direction=Direction.INBOUND,
                occurred_at=occurred_at,
                user=actor,
                source=source,
                external_id=external_id,
                subject=f"Return of {count} item{'s' if count != 1 else ''}",
                body=reason,
                amount=amount,
                currency=currency,
                metadata=metadata or {},
            ),
            lines=line_objects,
        )
        if created:
            audit_create(organization=organization, actor=actor, instance=interaction)
    return interaction
