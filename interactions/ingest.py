"""Bulk ingest of touchpoints from other systems (POST /api/v1/interactions/bulk), set-based.

A call carries up to customers.ingest.MAX_RECORDS events. Every event is validated on its own
(the same rules as interactions.services: kinds, channels, time zone, no future, lengths,
amounts, currencies, lines of purchases); the valid ones are written with a handful of
statements whatever the call's size, and every record gets a result: created, unchanged, or
error with the reasons per field, while the other records go in.

- Idempotent: (source, external_id) is required and unique per organization. An event already
  stored, or sent twice in one call, is "unchanged" (with the stored id); nothing is updated,
  since an event that happened does not change. The INSERT ... ON CONFLICT DO NOTHING makes this
  hold under concurrent calls too.
- The customer is found by `customer_external_id`, else `customer_email` (case-insensitive),
  within the organization only; with `create_customers`, customers not found are created
  (named `customer_name`, else their e-mail or external id) and audited one by one.
- Purchases may carry `lines` ({sku, quantity, unit_price}); products are found by SKU in the
  organization, the unit price defaults to the product's, and the amount is the lines' total.
- Events sent by a system have no `user` (the member who logged it): they are the source's.
- Audit: one entry per call that created events (object "bulk", with the count, the ids as
  ranges and the sources), not one per event: a bulk feed of thousands of events a second
  would otherwise double the rows written. The events themselves carry source and external id.
- Webhooks: interaction.created per stored event, as interactions.services sends, when an
  endpoint of the organization subscribes (one query tells; nothing more when none does).

Queries per call, whatever its size: customers (one), products (when lines), the events (COPY
into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING), their
lines (one INSERT ... SELECT FROM unnest), the audit entry, the webhook check; plus one lookup
of stored events when some records were not written (resent, or refused). PostgreSQL
row-level security checks every row written (the tenant setting travels with each statement,
see crm.db). With `create_customers`, calls of one organization take an advisory lock and look
up stored events first, so a resent event never creates its customer again.
"""

import csv
import datetime
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_events_publish_many
from customers.ingest import (
    CREATED,
    ERROR,
    UNCHANGED,
    Errors,
    RecordResult,
    check_batch,
    customer_index,
    customers_bulk_create,
    json_problem,
    lock_customer_creation,
    shown,
    text_value,
)
from customers.models import Customer
from customers.services import normalize_emails
from interactions.models import (
    DEFAULT_CHANNEL_OF_KIND,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
    PurchaseLine,
)
from interactions.services.events import FUTURE_TOLERANCE

RECORD_FIELDS = frozenset(
    {
        "source",
        "external_id",
        "kind",
        "channel",
        "direction",
        "occurred_at",
        "subject",
        "body",
        "amount",
        "currency",
        "metadata",
        "lines",
        "customer_external_id",
        "customer_email",
        "customer_name",
    }
)
LINE_FIELDS = frozenset({"sku", "quantity", "unit_price"})
MAX_LINES = 500
MAX_METADATA_BYTES = 10_000
MAX_AMOUNT = Decimal("9999999999.99")  # numeric(12, 2)
MAX_QUANTITY = 2_147_483_647
_KINDS = frozenset(map(str, Kind.values))
_CHANNELS = frozenset(map(str, Channel.values))
_DIRECTIONS = frozenset(map(str, Direction.values))
_INBOUND_KINDS = frozenset({str(Kind.PURCHASE), str(Kind.RETURN)})
# Plain strings, not enum members: they go into a CSV by the thousand.
_DEFAULT_CHANNEL = {str(kind): str(channel) for kind, channel in DEFAULT_CHANNEL_OF_KIND.items()}
_INBOUND, _NO_DIRECTION = str(Direction.INBOUND), str(Direction.NONE)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class _Line:
    sku: str
    quantity: int
    unit_price: Decimal | None
    product_id: int = 0


@dataclass(slots=True)
class _Event:
    index: int
    source: str
    external_id: str
    kind: str
    channel: str
    direction: str
    occurred_at: datetime.datetime
    subject: str
    body: str
    amount: Decimal | None
    currency: str
    metadata: str
    customer_external_id: str
    customer_email: str
    customer_name: str
    lines: list[_Line] = field(default_factory=list)
    customer_id: int = 0
    new_customer: Customer | None = None


def _decimal(errors: Errors, key: str, value: Any) -> Decimal | None:
    """A money value (JSON number or numeric string), at most 2 decimals, not negative."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors[key] = ["Give a number, e.g. 19.99."]
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors[key] = [f"“{shown(value)}” is not a number; write it like 19.99."]
        return None
    if not number.is_finite():
        errors[key] = [f"“{shown(value)}” is not a number; write it like 19.99."]
    elif number < 0:
        errors[key] = ["It cannot be negative."]
    elif number > MAX_AMOUNT:
        errors[key] = [f"It cannot be more than {MAX_AMOUNT}."]
    elif number != number.quantize(_CENT):
        errors[key] = ["Use at most 2 decimal places."]
    else:
        return number.quantize(_CENT)
    return None


def _occurred_at(errors: Errors, value: Any, latest: datetime.datetime) -> datetime.datetime:
    moment: datetime.datetime | None = None
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            errors["occurred_at"] = [
                f"“{shown(value, 40)}” is not a date and time; use ISO 8601, "
                "e.g. 2024-05-01T14:30:00+02:00."
            ]
            return latest
    else:
        errors["occurred_at"] = ["This field is required."]
        return latest
    if moment.utcoffset() is None:
        errors["occurred_at"] = [
            "Give a time with its time zone, e.g. 2024-05-01T14:30:00+02:00 or ...Z."
        ]
    elif moment > latest:
        errors["occurred_at"] = ["This is in the future; send what has happened."]
    return moment


def _choice(errors: Errors, record: Mapping[str, Any], key: str, allowed: frozenset[str]) -> str:
    value = record.get(key)
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value not in allowed:
        errors[key] = [f"“{shown(value)}” is not one of: {', '.join(sorted(allowed))}."]
        return ""
    return value


def _lines(errors: Errors, value: Any) -> list[_Line]:
    if not isinstance(value, list) or not value:
        errors["lines"] = ["Give a list of lines, each {sku, quantity, unit_price}."]
        return []
    if len(value) > MAX_LINES:
        errors["lines"] = [f"Send at most {MAX_LINES} lines (this has {len(value)})."]
        return []
    lines: list[_Line] = []
    for number, item in enumerate(value):
        prefix = f"lines.{number}."
        if not isinstance(item, Mapping):
            errors[f"lines.{number}"] = ["Give each line as an object {sku, quantity, unit_price}."]
            continue
        for key in item:
            if key not in LINE_FIELDS:
                errors[prefix + shown(key)] = ["Unknown field."]
        sku = text_value(
            errors, {prefix + "sku": item.get("sku")}, prefix + "sku", 64, required=True
        )
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            errors[prefix + "quantity"] = ["Give a whole number."]
            quantity = 1
        elif not 1 <= quantity <= MAX_QUANTITY:
            errors[prefix + "quantity"] = ["The quantity must be at least 1."]
        line_errors: Errors = {}
        unit_price = _decimal(line_errors, "unit_price", item.get("unit_price"))
        if line_errors:
            errors[prefix + "unit_price"] = line_errors["unit_price"]
        lines.append(_Line(sku, quantity, unit_price))
    return lines


def _parse(
    index: int, record: Any, latest: datetime.datetime, currency: str
) -> tuple[_Event | None, Errors]:
    """One record as an event ready to store, or its errors (every field is checked)."""
    if not isinstance(record, Mapping):
        return None, {"non_field_errors": ["Send each record as an object."]}
    errors: Errors = {}
    if not RECORD_FIELDS.issuperset(record):
        errors = {shown(key): ["Unknown field."] for key in record if key not in RECORD_FIELDS}
    source = text_value(errors, record, "source", 50, required=True)
    external_id = text_value(errors, record, "external_id", 100, required=True)
    kind = _choice(errors, record, "kind", _KINDS)
    if not kind and "kind" not in errors:
        errors["kind"] = ["This field is required."]
    channel = _choice(errors, record, "channel", _CHANNELS) or _DEFAULT_CHANNEL.get(kind, "other")
    direction = _choice(errors, record, "direction", _DIRECTIONS) or (
        _INBOUND if kind in _INBOUND_KINDS else _NO_DIRECTION
    )
    occurred_at = _occurred_at(errors, record.get("occurred_at"), latest)
    subject = text_value(errors, record, "subject", 200, required=False)
    body = text_value(errors, record, "body", None, required=False)
    amount = _decimal(errors, "amount", record.get("amount"))
    given_currency = text_value(errors, record, "currency", None, required=False).upper()
    if given_currency and (len(given_currency) != 3 or not given_currency.isalpha()):
        errors["currency"] = ["Use a three-letter ISO 4217 code, e.g. EUR."]
    metadata = record.get("metadata")
    metadata_text = "{}"
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            errors["metadata"] = ["Give an object of key: value."]
        else:
            metadata_text, problem = json_problem(metadata)
            if problem:
                errors["metadata"] = [problem]
            elif len(metadata_text) > MAX_METADATA_BYTES:
                errors["metadata"] = [f"Keep it under {MAX_METADATA_BYTES} characters."]
    customer_external_id = text_value(errors, record, "customer_external_id", 100, required=False)
    customer_email = text_value(errors, record, "customer_email", 254, required=False)
    if customer_email and "customer_email" not in errors:
        try:
            customer_email = normalize_emails(customer_email)[0]
        except ValidationError as error:
            errors["customer_email"] = list(error.messages)
    if not customer_external_id and not customer_email and "customer_email" not in errors:
        errors["customer_external_id"] = ["Give the customer's external id or e-mail."]
    customer_name = text_value(errors, record, "customer_name", 200, required=False)
    lines: list[_Line] = []
    if record.get("lines") is not None:
        if kind != Kind.PURCHASE:
            errors["lines"] = ["Only purchases carry lines; send other events with their amount."]
        else:
            lines = _lines(errors, record["lines"])
    if errors:
        return None, errors
    if lines and not subject:
        count = sum(line.quantity for line in lines)
        subject = f"Purchase of {count} item{'s' if count != 1 else ''}"
    event = _Event(
        index=index,
        source=source,
        external_id=external_id,
        kind=kind,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject,
        body=body,
        amount=amount,
        currency=given_currency or (currency if amount is not None or lines else ""),
        metadata=metadata_text,
        customer_external_id=customer_external_id,
        customer_email=customer_email,
        customer_name=customer_name,
        lines=lines,
    )
    return event, {}


def _key(event: _Event) -> tuple[str, str]:
    return event.source, event.external_id


def _stored_ids(
    organization: Organization, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The ids of the organization's events with these (source, external id) keys (one query)."""
    keys = list(keys)
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.id, i.source, i.external_id FROM {Interaction._meta.db_table} i
            WHERE i.organization_id = %s AND i.external_id <> ''
              AND (i.source, i.external_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
            """,  # noqa: S608 - the table name is the model's, not input
            [organization.pk, [key[0] for key in keys], [key[1] for key in keys]],
        )
        return {(source, external_id): pk for pk, source, external_id in cursor.fetchall()}


def _resolve_lines(organization: Organization, events: Sequence[_Event]) -> dict[int, Errors]:
    """Find every line's product by SKU (one query); price and total the purchases."""
    skus = {line.sku for event in events for line in event.lines}
    if not skus:
        return {}
    products = {
        sku: (pk, price)
        for pk, sku, price in Product.objects.filter(
            organization=organization, sku__in=skus
        ).values_list("pk", "sku", "price")
    }
    problems: dict[int, Errors] = {}
    for event in events:
        if not event.lines:
            continue
        errors: Errors = {}
        total = Decimal("0.00")
        for number, line in enumerate(event.lines):
            found = products.get(line.sku)
            if found is None:
                errors[f"lines.{number}.sku"] = [f"No product has the SKU {line.sku}."]
                continue
            line.product_id = found[0]
            if line.unit_price is None:
                line.unit_price = found[1]
            total += line.unit_price * line.quantity
        if not errors and event.amount is not None and event.amount != total:
            errors["amount"] = [
                f"The amount ({event.amount}) is not the total of the lines ({total}); "
                "leave it out or correct it."
            ]
        if not errors and total > MAX_AMOUNT:
            errors["lines"] = [f"The total cannot be more than {MAX_AMOUNT}."]
        if errors:
            problems[event.index] = errors
        else:
            event.amount = total
    return problems


def _resolve_customers(
    organization: Organization, events: Sequence[_Event], create: bool
) -> tuple[dict[int, Errors], list[Customer]]:
    """Point each event at its customer (one query); new customers to create when asked."""
    index = customer_index(
        organization=organization,
        external_ids=(event.customer_external_id for event in events),
        emails=(event.customer_email for event in events),
    )
    problems: dict[int, Errors] = {}
    new_by_external_id: dict[str, Customer] = {}
    new_by_email: dict[str, Customer] = {}
    created: list[Customer] = []
    for event in events:
        emails = [event.customer_email] if event.customer_email else []
        pk, errors = index.match(event.customer_external_id, emails, "customer_email")
        if errors:
            problems[event.index] = errors
            continue
        if pk is not None:
            event.customer_id = pk
            continue
        pending = new_by_external_id.get(event.customer_external_id) or (
            new_by_email.get(event.customer_email) if event.customer_email else None
        )
        if pending is not None and (
            not event.customer_external_id
            or pending.external_id in ("", event.customer_external_id)
        ):
            event.new_customer = pending
            continue
        if not create:
            wanted = [
                f"the external id {event.customer_external_id}" * bool(event.customer_external_id),
                f"the e-mail {event.customer_email}" * bool(event.customer_email),
            ]
            key = "customer_external_id" if event.customer_external_id else "customer_email"
            problems[event.index] = {
                key: [f"No customer has {' or '.join(part for part in wanted if part)}."]
            }
            continue
        customer = Customer(
            name=event.customer_name or event.customer_email or event.customer_external_id,
            emails=emails,
            external_id=event.customer_external_id,
            source=event.source[:100],
        )
        created.append(customer)
        event.new_customer = customer
        if customer.external_id:
            new_by_external_id[customer.external_id] = customer
        if event.customer_email:
            new_by_email.setdefault(event.customer_email, customer)
    return problems, created


# The events of a call are COPYed into this session's temporary table, then moved with one
# INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING. PostgreSQL refuses COPY straight into a
# table with row-level security; the INSERT is checked by the policy like any other. Every CSV
# field is quoted, so no text can pass for NULL; the amount travels as text ('' for none).
_STAGE = "ingest_interaction_stage"
_STAGE_COLUMNS = (
    ("customer_id", "bigint"),
    ("kind", "text"),
    ("channel", "text"),
    ("direction", "text"),
    ("occurred_at", "timestamptz"),
    ("source", "text"),
    ("external_id", "text"),
    ("subject", "text"),
    ("body", "text"),
    ("amount", "text"),
    ("currency", "text"),
    ("metadata", "jsonb"),
)
_STAGE_NAMES = ", ".join(name for name, _ in _STAGE_COLUMNS)
_STAGE_VALUES = _STAGE_NAMES.replace("amount", "NULLIF(amount, '')::numeric")
_STAGE_DEFINITION = ", ".join(f"{name} {kind}" for name, kind in _STAGE_COLUMNS)
_CREATE_STAGE = f"""
    CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ({_STAGE_DEFINITION}) ON COMMIT DELETE ROWS;
    DELETE FROM {_STAGE}
"""  # noqa: S608 - constant names, not input
_COPY_STAGE = f"COPY {_STAGE} ({_STAGE_NAMES}) FROM STDIN WITH (FORMAT csv)"
_MOVE_STAGE = f"""
    INSERT INTO {Interaction._meta.db_table}
        (organization_id, created_at, user_id, case_id, {_STAGE_NAMES})
    SELECT %s, %s, NULL, NULL, {_STAGE_VALUES} FROM {_STAGE}
    ON CONFLICT (organization_id, source, external_id) WHERE external_id <> '' DO NOTHING
    RETURNING id, source, external_id
"""  # noqa: S608 - table and column names are the model's, not input


def _insert_events(
    organization: Organization, events: Sequence[_Event], now: datetime.datetime
) -> dict[tuple[str, str], int]:
    """COPY, then INSERT ... ON CONFLICT DO NOTHING RETURNING: the events stored, by key."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows(
        (
            event.customer_id,
            event.kind,
            event.channel,
            event.direction,
            event.occurred_at.isoformat(),
            event.source,
            event.external_id,
            event.subject,
            event.body,
            "" if event.amount is None else event.amount,
            event.currency,
            event.metadata,
        )
        for event in events
    )
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGE)
        cursor.cursor.copy_expert(_COPY_STAGE, buffer)  # the raw cursor: COPY takes a file
        cursor.execute(_MOVE_STAGE, [organization.pk, now])
        return {(source, external_id): pk for pk, source, external_id in cursor.fetchall()}


def _insert_lines(
    organization: Organization, events: Sequence[_Event], ids: Mapping[tuple[str, str], int]
) -> None:
    interaction_ids: list[int] = []
    product_ids: list[int] = []
    quantities: list[int] = []
    prices: list[Decimal | None] = []
    for event in events:
        pk = ids.get((event.source, event.external_id))
        if pk is None:
            continue
        for line in event.lines:
            interaction_ids.append(pk)
            product_ids.append(line.product_id)
            quantities.append(line.quantity)
            prices.append(line.unit_price)
    if not interaction_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {PurchaseLine._meta.db_table}
                (organization_id, returned_line_id, interaction_id, product_id, quantity,
                 unit_price)
            SELECT %s, NULL, l.* FROM unnest(%s::bigint[], %s::bigint[], %s::int[],
                                             %s::numeric[]) AS l
            """,  # noqa: S608 - the table name is the model's, not input
            [organization.pk, interaction_ids, product_ids, quantities, prices],
        )


def id_ranges(ids: Iterable[int]) -> str:
    """'3-5, 9' for [3, 4, 5, 9]: how the audit entry of a bulk call lists what it created."""
    parts: list[str] = []
    start = previous = None
    for pk in sorted(ids):
        if previous is not None and pk == previous + 1:
            previous = pk
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = pk
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def _audit_batch(
    organization: Organization, actor: User | None, events: Sequence[_Event], ids: Sequence[int]
) -> None:
    sources = sorted({event.source for event in events})
    AuditEntry.objects.create(
        organization=organization,
        actor=actor,
        action=AuditEntry.Action.CREATE,
        object_type=Interaction._meta.label_lower,
        object_id="bulk",
        object_repr=f"Bulk ingest of {len(ids)} interactions ({', '.join(sources)})"[:200],
        changes={
            "created": [None, len(ids)],
            "ids": [None, id_ranges(ids)],
            "sources": [None, sources],
        },
    )


def interactions_ingest(
    *,
    organization: Organization,
    actor: User | None,
    records: Sequence[Any],
    create_customers: bool = False,
) -> list[RecordResult]:
    """Store up to MAX_RECORDS events; one result per record, in the records' order.

    Raises ValidationError only for the call as a whole (not a list, empty, too many records).
    """
    records = check_batch(list(records) if isinstance(records, tuple) else records)
    now = timezone.now()
    latest = now + FUTURE_TOLERANCE
    results: list[RecordResult | None] = [None] * len(records)
    first_of_key: dict[tuple[str, str], int] = {}
    duplicates: list[tuple[int, int]] = []  # (index, index of the first with its key)
    events: list[_Event] = []
    for index, record in enumerate(records):
        event, errors = _parse(index, record, latest, organization.currency)
        if event is None:
            results[index] = RecordResult(index, ERROR, errors=errors)
            continue
        key = (event.source, event.external_id)
        if key in first_of_key:
            duplicates.append((index, first_of_key[key]))
            continue
        first_of_key[key] = index
        events.append(event)
    with transaction.atomic():
        stored: dict[tuple[str, str], int] = {}
        if create_customers and events:
            # Events stored before must not create their customers again: settle them first.
            lock_customer_creation(organization)
            stored = _stored_ids(organization, first_of_key)
            events = [event for event in events if _key(event) not in stored]
        problems, new_customers = _resolve_customers(organization, events, create_customers)
        problems.update(_resolve_lines(organization, events))
        ready = [event for event in events if event.index not in problems]
        needed = {id(event.new_customer) for event in ready if event.new_customer is not None}
        customers_bulk_create(
            organization=organization,
            actor=actor,
            customers=[customer for customer in new_customers if id(customer) in needed],
        )
        for event in ready:
            if event.new_customer is not None:
                event.customer_id = event.new_customer.pk
        inserted = _insert_events(organization, ready, now) if ready else {}
        _insert_lines(organization, ready, inserted)
        # Not written: stored before (or by a concurrent call meanwhile), or refused for its
        # customer or lines. An event already stored is "unchanged", whatever else it says.
        missing = [_key(event) for event in events if _key(event) not in inserted]
        if missing:
            stored.update(_stored_ids(organization, missing))
        for event in events:
            key = _key(event)
            if key in inserted:
                results[event.index] = RecordResult(event.index, CREATED, inserted[key])
            elif key in stored:
                results[event.index] = RecordResult(event.index, UNCHANGED, stored[key])
            else:
                results[event.index] = RecordResult(
                    event.index, ERROR, errors=problems[event.index]
                )
        for key, pk in stored.items():
            position = first_of_key[key]
            if results[position] is None:
                results[position] = RecordResult(position, UNCHANGED, pk)
        if inserted:
            webhook_events_publish_many(
                organization=organization,
                event=webhook_events.INTERACTION_CREATED,
                instances=lambda: Interaction.objects.filter(
                    organization=organization, pk__in=list(inserted.values())
                ).order_by("pk"),
            )
            _audit_batch(
                organization,
                actor,
                [event for event in ready if _key(event) in inserted],
                list(inserted.values()),
            )
    for index, first in duplicates:
        earlier = results[first]
        assert earlier is not None
        if earlier.status == ERROR:
            results[index] = RecordResult(
                index,
                ERROR,
                errors={
                    "external_id": [
                        f"Record {first} of this call has the same source and external id "
                        "and was refused."
                    ]
                },
            )
        else:
            results[index] = RecordResult(index, UNCHANGED, earlier.id)
    return [result for result in results if result is not None]
