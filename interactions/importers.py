"""The interactions and purchases CSV importer, registered with customers.imports.

One row is one touchpoint, except purchases: rows of kind "purchase" sharing a source and an
external id are the lines (sku, quantity, unit price) of one purchase. The customer is found
by its external id, else its e-mail. Every event is stored under (source, external id); a row
without an external id gets one derived from its content ("csv-<hash>"), so importing the same
file again finds every event already there and changes nothing. Writes go through
interactions.services, which validate and audit each event.

Register it from InteractionsConfig.ready() with `importers.register()`.
"""

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import Organization, User
from customers.imports import (
    CREATED,
    UNCHANGED,
    BatchResult,
    Importer,
    ImportField,
    SourceRow,
    choice_value,
    register_importer,
)
from customers.models import Customer, ImportJob
from interactions import services
from interactions.models import Channel, Direction, Interaction, Kind, Product

FIELDS = [
    ImportField(
        "customer_external_id",
        "Customer's external id",
        ("customer external id", "customer id", "customer number", "customer ref"),
        "Matched first.",
    ),
    ImportField(
        "customer_email", "Customer's e-mail", ("customer email", "email", "e-mail", "customer")
    ),
    ImportField("kind", "Kind", ("type", "interaction type", "event", "activity")),
    ImportField("channel", "Channel", ("medium",)),
    ImportField("direction", "Direction", ()),
    ImportField(
        "occurred_at",
        "When (ISO date and time)",
        ("occurred at", "date", "time", "timestamp", "datetime", "date time", "when"),
        "e.g. 2024-05-01T14:30:00+02:00; without a time zone, the organization's.",
    ),
    ImportField("subject", "Subject", ("title", "summary")),
    ImportField("body", "Body", ("notes", "note", "description", "details", "text")),
    ImportField("amount", "Amount", ("total", "value"), "Purchases add up their lines instead."),
    ImportField("currency", "Currency", ()),
    ImportField("source", "Source system", ("source", "system")),
    ImportField(
        "external_id",
        "External id",
        ("external id", "event id", "order id", "order number", "transaction id"),
        "Purchase rows with the same source and external id are one purchase.",
    ),
    ImportField("sku", "Product SKU", ("product", "product sku", "item", "article")),
    ImportField("quantity", "Quantity", ("qty", "units")),
    ImportField("unit_price", "Unit price", ("price", "unit price", "item price")),
]
_CUSTOMER_KEYS = ("customer_external_id", "customer_email")


def _is_purchase(row: SourceRow) -> bool:
    return choice_value(row.get("kind"), Kind.choices) == Kind.PURCHASE


def event_key(unit: list[SourceRow]) -> tuple[str, str]:
    """(source, external id) of the event a unit records; derived from the row when absent."""
    head = unit[0]
    external_id = head.get("external_id")
    if not external_id:
        content = "\x1f".join(f"{key}={value}" for key, value in sorted(head.values.items()))
        external_id = "csv-" + hashlib.sha256(content.encode()).hexdigest()[:40]
    return head.get("source"), external_id


@dataclass
class _Batch:
    by_external_id: dict[str, Customer]
    by_email: dict[str, dict[int, Customer]]
    products: dict[str, Product]
    existing: set[tuple[str, str]]
    zone: datetime.tzinfo


class _RowProblem(Exception):
    """A cell that cannot be read; reported on its row and field."""

    def __init__(self, field_key: str, message: str) -> None:
        super().__init__(message)
        self.field_key = field_key
        self.message = message


def _decimal(row: SourceRow, key: str) -> Decimal | None:
    text = row.get(key)
    if not text:
        return None
    try:
        value = Decimal(text.replace(" ", ""))
    except InvalidOperation:
        raise _RowProblem(key, f"“{text}” is not a number; write it like 19.99.") from None
    if not value.is_finite():
        raise _RowProblem(key, f"“{text}” is not a number; write it like 19.99.")
    return value


def _occurred_at(row: SourceRow, zone: datetime.tzinfo) -> datetime.datetime:
    text = row.get("occurred_at")
    if not text:
        raise _RowProblem("occurred_at", "Give the date and time it happened.")
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _RowProblem(
            "occurred_at",
            f"“{text}” is not a date and time; use ISO 8601, e.g. 2024-05-01T14:30:00+02:00.",
        ) from None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=zone)
    return value


class InteractionImporter(Importer):
    kind = ImportJob.Kind.INTERACTIONS
    label = "Interactions and purchases"
    permission = "interactions.log"

    def fields(self, *, organization: Organization) -> list[ImportField]:
        return list(FIELDS)

    def mapping_problems(self, *, mapped: set[str]) -> list[str]:
        problems = []
        if not mapped & set(_CUSTOMER_KEYS):
            problems.append("Choose a column for the customer's external id or e-mail.")
        if "kind" not in mapped:
            problems.append("Choose the column that says what happened (the kind).")
        if "occurred_at" not in mapped:
            problems.append("Choose the column that says when it happened.")
        return problems

    def units(self, rows: list[SourceRow]) -> list[list[SourceRow]]:
        """A purchase's rows (same source and external id) form one unit, where it starts."""
        units: list[list[SourceRow]] = []
        purchases: dict[tuple[str, str], list[SourceRow]] = {}
        for row in rows:
            if _is_purchase(row) and row.get("external_id"):
                key = (row.get("source"), row.get("external_id"))
                if key in purchases:
                    purchases[key].append(row)
                    continue
                purchases[key] = [row]
                units.append(purchases[key])
            else:
                units.append([row])
        return units

    def _lookups(self, organization: Organization, units: list[list[SourceRow]]) -> _Batch:
        rows = [row for unit in units for row in unit]
        external_ids = {row.get("customer_external_id") for row in rows} - {""}
        emails = {row.get("customer_email").lower() for row in rows} - {""}
        by_external_id: dict[str, Customer] = {}
        by_email: dict[str, dict[int, Customer]] = {}
        if external_ids or emails:
            condition = Q(external_id__in=external_ids) | Q(emails__overlap=sorted(emails))
            for customer in Customer.objects.filter(condition, organization=organization):
                if customer.external_id:
                    by_external_id[customer.external_id] = customer
                for email in customer.emails:
                    by_email.setdefault(email, {})[customer.pk] = customer
        skus = {row.get("sku") for row in rows} - {""}
        products = (
            {p.sku: p for p in Product.objects.filter(organization=organization, sku__in=skus)}
            if skus
            else {}
        )
        keys = {event_key(unit) for unit in units}
        existing = set(
            Interaction.objects.filter(
                organization=organization,
                source__in={source for source, _ in keys},
                external_id__in={external_id for _, external_id in keys},
            ).values_list("source", "external_id")
        )
        return _Batch(by_external_id, by_email, products, existing, organization.tzinfo)

    def import_units(
        self,
        *,
        organization: Organization,
        actor: User | None,
        units: list[list[SourceRow]],
        result: BatchResult,
    ) -> None:
        batch = self._lookups(organization, units)
        for unit in units:
            key = event_key(unit)
            if key in batch.existing:
                result.record(unit, UNCHANGED)
                continue
            try:
                with transaction.atomic():
                    self._import_unit(organization, actor, batch, unit, key, result)
            except (IntegrityError, DataError) as error:
                message = f"The database refused this row: {str(error).splitlines()[0]}"
                self._fail_unit(unit, unit[0], "", message, result)
            else:
                if all(result.outcomes.get(row.number) == CREATED for row in unit):
                    batch.existing.add(key)

    @staticmethod
    def _fail_unit(
        unit: list[SourceRow], row: SourceRow, field_key: str, message: str, result: BatchResult
    ) -> None:
        """An error on one row fails its whole purchase: the other lines say why."""
        result.fail(row, field_key, message)
        for other in unit:
            if other.number != row.number and other.number not in result.outcomes:
                result.fail(
                    other,
                    "external_id",
                    f"Not imported: another line of this purchase (row {row.number}) has an error.",
                )

    def _customer(self, batch: _Batch, row: SourceRow) -> Customer:
        external_id = row.get("customer_external_id")
        email = row.get("customer_email").lower()
        if external_id:
            customer = batch.by_external_id.get(external_id)
            if customer is None:
                raise _RowProblem(
                    "customer_external_id", f"No customer has the external id {external_id}."
                )
            return customer
        if not email:
            raise _RowProblem("customer_email", "Give the customer's external id or e-mail.")
        found = batch.by_email.get(email, {})
        if not found:
            raise _RowProblem("customer_email", f"No customer has the e-mail {email}.")
        if len(found) > 1:
            raise _RowProblem(
                "customer_email",
                f"{len(found)} customers have the e-mail {email}; use their external id instead.",
            )
        return next(iter(found.values()))

    def _import_unit(
        self,
        organization: Organization,
        actor: User | None,
        batch: _Batch,
        unit: list[SourceRow],
        key: tuple[str, str],
        result: BatchResult,
    ) -> None:
        head = unit[0]
        lines: list[services.PurchaseLineInput] = []
        try:
            customer = self._customer(batch, head)
            kind = choice_value(head.get("kind"), Kind.choices)
            if kind is None:
                raise _RowProblem("kind", f"“{head.get('kind')}” is not a kind of interaction.")
            common: dict[str, Any] = {
                "organization": organization,
                "actor": actor,
                "customer": customer,
                "occurred_at": _occurred_at(head, batch.zone),
                "subject": head.get("subject"),
                "body": head.get("body"),
                "currency": head.get("currency"),
                "source": key[0],
                "external_id": key[1],
            }
            for name, choices in (("channel", Channel.choices), ("direction", Direction.choices)):
                if head.get(name):
                    value = choice_value(head.get(name), choices)
                    if value is None:
                        raise _RowProblem(name, f"“{head.get(name)}” is not a {name}.")
                    common[name] = value
            amount = _decimal(head, "amount")
        except _RowProblem as problem:
            self._fail_unit(unit, head, problem.field_key, problem.message, result)
            return
        if kind == Kind.PURCHASE:
            for row in unit:
                try:
                    lines.append(self._line(batch, row, head))
                except _RowProblem as problem:
                    self._fail_unit(unit, row, problem.field_key, problem.message, result)
                    return
        customer_field = (
            "customer_external_id" if head.get("customer_external_id") else ("customer_email")
        )
        try:
            if kind == Kind.PURCHASE:
                services.purchase_record(lines=lines, **common)
            else:
                services.interaction_log(kind=kind, amount=amount, **common)
        except ValidationError as error:
            result.fail_with(head, error, {"customer": customer_field, "lines": "sku"})
            for other in unit[1:]:
                result.fail(
                    other,
                    "external_id",
                    f"Not imported: the purchase on row {head.number} has an error.",
                )
            return
        result.record(unit, CREATED)

    def _line(self, batch: _Batch, row: SourceRow, head: SourceRow) -> services.PurchaseLineInput:
        for name in _CUSTOMER_KEYS:
            if row.get(name) != head.get(name):
                raise _RowProblem(
                    name, f"A purchase's lines must be for one customer (see row {head.number})."
                )
        sku = row.get("sku")
        if not sku:
            raise _RowProblem("sku", "Give the product's SKU on every line of a purchase.")
        product = batch.products.get(sku)
        if product is None:
            raise _RowProblem("sku", f"No product has the SKU {sku}.")
        quantity_text = row.get("quantity") or "1"
        try:
            quantity = int(quantity_text)
        except ValueError:
            raise _RowProblem("quantity", f"“{quantity_text}” is not a whole number.") from None
        if quantity < 1:
            raise _RowProblem("quantity", "The quantity must be at least 1.")
        unit_price = _decimal(row, "unit_price")
        if unit_price is not None and unit_price < 0:
            raise _RowProblem("unit_price", "The unit price cannot be negative.")
        return services.PurchaseLineInput(product=product, quantity=quantity, unit_price=unit_price)


IMPORTER = InteractionImporter()


def register() -> None:
    """Make interactions importable (from InteractionsConfig.ready(); idempotent)."""
    register_importer(ImportJob.Kind.INTERACTIONS, IMPORTER)
