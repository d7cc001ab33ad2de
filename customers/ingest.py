"""Bulk upsert of customers for integrators (POST /api/v1/customers/bulk), set-based.

A call carries up to MAX_RECORDS records. Each is validated on its own; the valid ones are
written together (a few queries per call, whatever its size) and every record gets a result:
created, updated, unchanged, or error with the reasons per field, while the other records go in.

A record matches an existing customer by its external id, else by any of its e-mail addresses
(lowercased); it updates the match the way a CSV import does (customers.importers): only the
fields it carries, e-mails, phones and tags added to the customer's (never removed), custom
values set per key. So sending the same record again changes nothing ("unchanged").

The customer matching and bulk creation here are shared with interactions.ingest, which can
create the customers its events name. Audit: every customer created or updated gets its own
audit entry (the same before/after as a change made on a page), inserted with one statement.
Webhooks: customer.created / customer.updated per customer, as for a page, when an endpoint of
the organization subscribes (one query tells; nothing more is done when none does).
Concurrent bulk writes that may create customers in one organization take a transaction-level
advisory lock, so two calls never create the same customer twice.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.services import audit_diff, audit_snapshot
from crm.text import text_problem
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_events_publish_many
from customers.models import Channel, Customer, CustomFieldDefinition
from customers.services import (
    CUSTOMER_FIELDS,
    build_search_document,
    custom_field_definitions,
    customer_changes,
    normalize_emails,
    normalize_phones,
    normalize_tags,
    validate_custom_fields,
)

MAX_RECORDS = 5_000
CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"
# pg_advisory_xact_lock(class, organization id): serializes bulk customer creation per tenant.
CUSTOMER_CREATE_LOCK = 7_431

Errors = dict[str, list[str]]


@dataclass
class RecordResult:
    """What happened to one record of a bulk call (its position in the call is `index`)."""

    index: int
    status: str
    id: int | None = None
    errors: Errors = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        if self.status == ERROR:
            return {"index": self.index, "status": self.status, "errors": self.errors}
        return {"index": self.index, "status": self.status, "id": self.id}


def check_batch(records: Any) -> list[Any]:
    """The call as a whole: a list of at most MAX_RECORDS records, else a ValidationError."""
    if not isinstance(records, list):
        raise ValidationError({"records": ["Send a list of records."]})
    if not records:
        raise ValidationError({"records": ["Send at least one record."]})
    if len(records) > MAX_RECORDS:
        raise ValidationError(
            {"records": [f"Send at most {MAX_RECORDS} records a call (this has {len(records)})."]}
        )
    return records


_JSON = json.JSONEncoder(ensure_ascii=False)
_DJANGO_JSON = DjangoJSONEncoder(ensure_ascii=False)


def shown(value: Any, limit: int = 60) -> str:
    """A value of the request as an answer may quote it: cut short, NUL characters and unpaired
    surrogates escaped (they could not be stored, e.g. with an Idempotency-Key's answer)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")


def json_problem(value: Any) -> tuple[str, str | None]:
    """A JSON value as text for a jsonb column, and why PostgreSQL would refuse it, if it would."""
    try:
        text = _JSON.encode(value)
    except TypeError:  # values a caller in Python passed (dates, decimals), not parsed JSON
        text = _DJANGO_JSON.encode(value)
    if "\\u0000" in text:
        return text, "Remove the NUL characters (\\u0000)."
    return text, text_problem(text)


def text_value(
    errors: Errors, record: Mapping[str, Any], key: str, limit: int | None, *, required: bool
) -> str:
    """A stripped text field of a record ("" when absent), with its errors noted."""
    value = record.get(key)
    if type(value) is str and value.isascii() and "\x00" not in value:  # the usual case, fast
        value = value.strip()
        if value and (limit is None or len(value) <= limit):
            return value
    if value is None or value == "":
        if required:
            errors[key] = ["This field is required."]
        return ""
    if not isinstance(value, str):
        errors[key] = ["Give text."]
        return ""
    problem = text_problem(value)
    if problem:
        errors[key] = [problem]
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = ["This field is required."]
    elif limit is not None and len(value) > limit:
        errors[key] = [f"Use at most {limit} characters (it has {len(value)})."]
    return value


def lock_customer_creation(organization: Organization) -> None:
    """Make concurrent bulk calls of one organization create customers one at a time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [CUSTOMER_CREATE_LOCK, organization.pk]
        )


@dataclass
class CustomerIndex:
    """The customers a call names, found with one query, by external id and by e-mail."""

    external_ids: dict[int, str] = field(default_factory=dict)
    by_external_id: dict[str, int] = field(default_factory=dict)
    by_email: dict[str, set[int]] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)

    def add(self, pk: int, external_id: str, emails: Iterable[str]) -> None:
        self.external_ids[pk] = external_id
        if external_id:
            self.by_external_id[external_id] = pk
        for email in emails:
            self.by_email.setdefault(email, set()).add(pk)

    def match(
        self, external_id: str, emails: Sequence[str], email_field: str
    ) -> tuple[int | None, Errors]:
        """The customer (pk) a record names, None for no match, or why the match is unclear."""
        if external_id and external_id in self.by_external_id:
            return self.by_external_id[external_id], {}
        found: set[int] = set()
        for email in emails:
            found |= self.by_email.get(email, set())
        if len(found) > 1:
            return None, {
                email_field: [
                    f"These e-mail addresses belong to {len(found)} different customers; "
                    "send the customer's external id to say which one."
                ]
            }
        if not found:
            return None, {}
        pk = found.pop()
        other = self.external_ids[pk]
        if external_id and other and other != external_id:
            return None, {
                email_field: [
                    f"The e-mail address belongs to a customer with another external id ({other})."
                ]
            }
        return pk, {}


# The customers a call names. By external id: one probe of the unique index per id (LATERAL
# ... LIMIT 1 keeps the planner from scanning the organization's customers instead). By e-mail:
# the GIN index on emails cannot serve the runtime role, since row-level security keeps
# non-leakproof operators such as && out of index conditions; so the organization's customers
# are read once, testing the first e-mail (most have one) against a hashed list and only the
# others with && -- several times faster than && on every row, and only when a record gives an
# e-mail.
_MATCH_BY_EXTERNAL_ID = f"""
    SELECT c.id, c.external_id, c.emails FROM unnest(%s::text[]) AS k(external_id)
    CROSS JOIN LATERAL (
        SELECT id, external_id, emails FROM {Customer._meta.db_table}
        WHERE organization_id = %s AND external_id = k.external_id AND external_id <> ''
        LIMIT 1
    ) AS c
"""  # noqa: S608 - the table name is the model's, not input
_MATCH_BY_EMAIL = f"""
    SELECT id, external_id, emails FROM {Customer._meta.db_table}
    WHERE organization_id = %s AND (
        emails[1] = ANY(%s::text[]) OR (cardinality(emails) > 1 AND emails[2:] && %s::varchar[])
    )
"""  # noqa: S608 - the table name is the model's, not input


def customer_index(
    *,
    organization: Organization,
    external_ids: Iterable[str],
    emails: Iterable[str],
    full: bool = False,
) -> CustomerIndex:
    """Look up the customers with any of these external ids or e-mails (one query).

    With `full`, the Customer objects are loaded too (a second query), to update them; matching
    needs only ids, external ids and e-mails.
    """
    index = CustomerIndex()
    external_ids = sorted(set(external_ids) - {""})
    emails = sorted(set(emails) - {""})
    if not external_ids and not emails:
        return index
    branches: list[str] = []
    params: list[Any] = []
    if external_ids:
        branches.append(_MATCH_BY_EXTERNAL_ID)
        params += [external_ids, organization.pk]
    if emails:
        branches.append(_MATCH_BY_EMAIL)
        params += [organization.pk, emails, emails]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ".join(branches), params)
        for pk, external_id, customer_emails in cursor.fetchall():
            index.add(pk, external_id, customer_emails)
    if full and index.external_ids:
        index.customers = {
            customer.pk: customer
            for customer in Customer.objects.filter(
                organization=organization, pk__in=list(index.external_ids)
            )
        }
    return index


def _audit_entries(
    organization: Organization,
    actor: User | None,
    action: str,
    changes: Sequence[tuple[Customer, dict[str, list[Any]]]],
) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(
            organization=organization,
            actor=actor,
            action=action,
            object_type=Customer._meta.label_lower,
            object_id=str(customer.pk),
            object_repr=str(customer)[:200],
            changes=diff,
        )
        for customer, diff in changes
    )


def customers_bulk_create(
    *, organization: Organization, actor: User | None, customers: Sequence[Customer]
) -> None:
    """Insert validated, unsaved customers with one statement and audit each (sets their pk)."""
    if not customers:
        return
    now = timezone.now()
    for customer in customers:
        customer.organization = organization
        customer.created_at = customer.updated_at = now
        customer.search_document = build_search_document(
            name=customer.name, emails=customer.emails, phones=customer.phones, tags=customer.tags
        )
    Customer.objects.bulk_create(customers)
    webhook_events_publish_many(
        organization=organization, event=webhook_events.CUSTOMER_CREATED, instances=customers
    )
    _audit_entries(
        organization,
        actor,
        AuditEntry.Action.CREATE,
        [(customer, audit_diff({}, audit_snapshot(customer))) for customer in customers],
    )


# --- The customers upsert ------------------------------------------------------------------------

_TEXT_FIELDS = ("name", "street", "city", "postal_code", "region", "source", "external_id")
_CHOICE_FIELDS = {
    "kind": Customer.Kind,
    "lifecycle_stage": Customer.LifecycleStage,
    "preferred_channel": Channel,
}
_LIST_FIELDS = {"emails": normalize_emails, "phones": normalize_phones, "tags": normalize_tags}
RECORD_FIELDS = frozenset(
    {*_TEXT_FIELDS, *_CHOICE_FIELDS, *_LIST_FIELDS, "country", "custom_fields", "owner_email"}
)
_AUDITED = tuple(sorted(CUSTOMER_FIELDS))


def _max_length(name: str) -> int | None:
    return getattr(Customer._meta.get_field(name), "max_length", None)


def _parse_customer(record: Any, owners: Mapping[str, User]) -> tuple[dict[str, Any], Errors]:
    """A record's fields in stored form (only those it carries), and its errors."""
    if not isinstance(record, Mapping):
        return {}, {"non_field_errors": ["Send each record as an object."]}
    errors: Errors = {shown(key): ["Unknown field."] for key in record if key not in RECORD_FIELDS}
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if name in record:
            fields[name] = text_value(errors, record, name, _max_length(name), required=False)
    if "name" in record and not fields.get("name"):
        errors["name"] = ["Enter a name."]
    for name, choices in _CHOICE_FIELDS.items():
        if name in record:
            value = text_value(errors, record, name, None, required=False)
            if value and value not in choices.values:
                errors[name] = [f"“{shown(value)}” is not one of: {', '.join(choices.values)}."]
            fields[name] = value
    if fields.get("kind") == "":
        errors["kind"] = ["This field is required."]
    if "country" in record:
        country = text_value(errors, record, "country", None, required=False).upper()
        if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
            errors["country"] = ["Use a two-letter ISO 3166 code, e.g. GB or US."]
        fields["country"] = country
    for name, normalize in _LIST_FIELDS.items():
        raw = record.get(name)
        if raw is None:
            continue
        if not isinstance(raw, str | list) or not all(isinstance(item, str) for item in raw):
            errors[name] = ["Give a list of text values."]
            continue
        problem = next(
            filter(None, map(text_problem, [raw] if isinstance(raw, str) else raw)), None
        )
        if problem:
            errors[name] = [problem]
            continue
        try:
            fields[name] = normalize(raw)
        except ValidationError as error:
            errors[name] = list(error.messages)
    for email in fields.get("emails", []):
        if len(email) > 254:
            errors["emails"] = [f"“{email[:40]}…” is too long for an e-mail address."]
    if "custom_fields" in record:
        if not isinstance(record["custom_fields"], Mapping):
            errors["custom_fields"] = ["Give custom fields as an object of key: value."]
        elif problem := json_problem(record["custom_fields"])[1]:
            errors["custom_fields"] = [problem]
        else:
            fields["custom_fields"] = dict(record["custom_fields"])
    if record.get("owner_email"):
        owner_email = text_value(errors, record, "owner_email", None, required=False).lower()
        owner = owners.get(owner_email)
        if owner is None and "owner_email" not in errors:
            errors["owner_email"] = [f"No active member has the e-mail {owner_email}."]
        fields["owner"] = owner
    return fields, errors


def _custom_fields(
    organization: Organization,
    definitions: Sequence[CustomFieldDefinition],
    current: Mapping[str, Any],
    given: Mapping[str, Any],
    errors: Errors,
) -> dict[str, Any] | None:
    """The customer's custom values with the record's set per key, checked as a whole."""
    try:
        return validate_custom_fields(
            organization=organization, values={**current, **given}, definitions=definitions
        )
    except ValidationError as error:
        errors.update(error.message_dict)
        return None


def _owners(organization: Organization, records: Sequence[Any]) -> dict[str, User]:
    emails = {
        record["owner_email"].strip().lower()
        for record in records
        if isinstance(record, Mapping) and isinstance(record.get("owner_email"), str)
    } - {""}
    if not emails:
        return {}
    members = User.objects.filter(
        email__in=emails,
        is_active=True,
        memberships__organization=organization,
        memberships__is_active=True,
    )
    return {user.email.lower(): user for user in members}


def customers_upsert(
    *, organization: Organization, actor: User | None, records: Sequence[Any]
) -> list[RecordResult]:
    """Create or update customers from up to MAX_RECORDS records; one result per record.

    A record without a match needs a name (it creates a customer); two records of one call may
    not be for the same customer (the later one is reported, send one record per customer).
    Raises ValidationError only for the call as a whole (not a list, too many records).
    """
    records = check_batch(list(records) if isinstance(records, tuple) else records)
    results: list[RecordResult | None] = [None] * len(records)
    owners = _owners(organization, records)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for index, record in enumerate(records):
        fields, errors = _parse_customer(record, owners)
        if errors:
            results[index] = RecordResult(index, ERROR, errors=errors)
        else:
            parsed.append((index, fields))
    now = timezone.now()
    with transaction.atomic():
        lock_customer_creation(organization)
        definitions = custom_field_definitions(organization=organization)
        customers = customer_index(
            organization=organization,
            external_ids=(fields.get("external_id", "") for _, fields in parsed),
            emails=(email for _, fields in parsed for email in fields.get("emails", [])),
            full=True,
        )
        claimed: dict[Any, int] = {}  # a customer's pk, external id or e-mail -> first index
        to_create: list[tuple[int, Customer]] = []
        to_update: list[tuple[int, Customer, dict[str, Any], dict[str, Any]]] = []
        for index, fields in parsed:
            external_id = fields.get("external_id", "")
            pk, errors = customers.match(external_id, fields.get("emails", []), "emails")
            keys: list[Any] = [pk, external_id, *fields.get("emails", [])]
            first = next((claimed[key] for key in keys if key and key in claimed), None)
            if first is not None:
                errors["non_field_errors"] = [
                    f"Record {first} of this call is for the same customer; "
                    "send one record per customer."
                ]
            if pk is None and not errors:
                customer = Customer(
                    **{name: value for name, value in fields.items() if name != "custom_fields"}
                )
                if not customer.name:
                    errors["name"] = [
                        "Enter a name: no customer has this external id or e-mail, so one is "
                        "created."
                    ]
                custom = _custom_fields(
                    organization, definitions, {}, fields.get("custom_fields", {}), errors
                )
                if not errors:
                    customer.custom_fields = custom or {}
                    to_create.append((index, customer))
            elif pk is not None and not errors:
                customer = customers.customers[pk]
                changes = customer_changes(
                    customer, {k: v for k, v in fields.items() if k != "custom_fields"}
                )
                if "custom_fields" in fields:
                    custom = _custom_fields(
                        organization,
                        definitions,
                        customer.custom_fields or {},
                        fields["custom_fields"],
                        errors,
                    )
                    if custom is not None and custom != (customer.custom_fields or {}):
                        changes["custom_fields"] = custom
                if (
                    changes.get("kind", Customer.Kind.COMPANY) != Customer.Kind.COMPANY
                    and customer.kind == Customer.Kind.COMPANY
                    and Customer.objects.filter(organization=organization, company_id=pk).exists()
                ):
                    errors["kind"] = [
                        "This company has people linked to it; move them to another company first."
                    ]
                if not errors:
                    to_update.append((index, customer, changes, audit_snapshot(customer, _AUDITED)))
            if errors:
                results[index] = RecordResult(index, ERROR, errors=errors)
                continue
            for key in keys:
                if key:
                    claimed[key] = index
        customers_bulk_create(
            organization=organization, actor=actor, customers=[c for _, c in to_create]
        )
        for index, customer in to_create:
            results[index] = RecordResult(index, CREATED, customer.pk)
        changed_fields: set[str] = set()
        audited: list[tuple[Customer, dict[str, list[Any]]]] = []
        for index, customer, changes, before in to_update:
            if not changes:
                results[index] = RecordResult(index, UNCHANGED, customer.pk)
                continue
            for name, value in changes.items():
                setattr(customer, name, value)
            customer.updated_at = now
            customer.search_document = build_search_document(
                name=customer.name,
                emails=customer.emails,
                phones=customer.phones,
                tags=customer.tags,
            )
            changed_fields.update(changes)
            audited.append((customer, audit_diff(before, audit_snapshot(customer, before))))
            results[index] = RecordResult(index, UPDATED, customer.pk)
        if audited:
            Customer.objects.bulk_update(
                [customer for customer, _ in audited],
                sorted(changed_fields | {"search_document", "updated_at"}),
                batch_size=500,
            )
            _audit_entries(organization, actor, AuditEntry.Action.UPDATE, audited)
            webhook_events_publish_many(
                organization=organization,
                event=webhook_events.CUSTOMER_UPDATED,
                instances=[customer for customer, _ in audited],
            )
    return [result for result in results if result is not None]
