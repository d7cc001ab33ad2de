"""The customers CSV importer: each row creates a customer or updates the one it matches.

A row matches an existing customer by external id, else by any of its e-mail addresses; a
row with neither matches by its exact name a customer that has neither either. A
match is updated only where the row says something new: blank cells change nothing, e-mails,
phones and tags are added to the customer's (never removed), custom values set per key. So
importing the same file twice changes nothing the second time. Writes go through
customers.services, which validate and audit each row as if it were typed on the page.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q

from crm.models import Organization, User
from customers import services
from customers.imports import (
    CREATED,
    UNCHANGED,
    UPDATED,
    BatchResult,
    Importer,
    ImportField,
    SourceRow,
    choice_value,
    register_importer,
)
from customers.models import Channel, Customer, CustomFieldDefinition, ImportJob

CUSTOM_PREFIX = services.CUSTOM_CHOICE_PREFIX  # "custom_fields."
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")
_PHONE_SEPARATORS = re.compile(r"[\n\r,;]+")

FIELDS = [
    ImportField(
        "name", "Name", ("full name", "customer name", "customer", "contact", "contact name")
    ),
    ImportField("kind", "Kind (person or company)", ("type", "customer type")),
    ImportField(
        "emails",
        "E-mail addresses",
        ("email", "e-mail", "email address", "e-mail address", "mail", "emails"),
        "Several separated by commas, semicolons or spaces.",
    ),
    ImportField(
        "phones",
        "Phone numbers",
        ("phone", "telephone", "tel", "mobile", "phone number", "cell"),
        "Several separated by commas or semicolons.",
    ),
    ImportField("street", "Street", ("address", "street address", "address 1", "address line 1")),
    ImportField("city", "City", ("town",)),
    ImportField("postal_code", "Postal code", ("postcode", "zip", "zip code", "post code")),
    ImportField("region", "Region", ("state", "province", "county")),
    ImportField("country", "Country (ISO code)", ("country code",)),
    ImportField("lifecycle_stage", "Stage", ("stage", "lifecycle stage", "lifecycle")),
    ImportField(
        "owner_email",
        "Owner's e-mail",
        ("owner", "owner email", "account owner", "sales rep"),
        "The e-mail of an active member.",
    ),
    ImportField("tags", "Tags", ("tag", "labels"), "Separated by commas."),
    ImportField("source", "Source", ("lead source", "origin")),
    ImportField("preferred_channel", "Preferred channel", ("contact preference",)),
    ImportField(
        "external_id",
        "External id",
        ("external id", "customer id", "customer number", "account number", "reference"),
        "Your other system's id; matched first.",
    ),
]
_TEXT_FIELDS = ("name", "street", "city", "postal_code", "region", "source", "external_id")
_CHOICE_FIELDS = {
    "kind": Customer.Kind.choices,
    "lifecycle_stage": Customer.LifecycleStage.choices,
    "preferred_channel": Channel.choices,
}
# Service error keys that are not the importer's field keys.
_RENAME = {"owner": "owner_email"}


@dataclass
class _Batch:
    """What a batch looks up once: its customers by external id and e-mail, owners, fields."""

    definitions: dict[str, CustomFieldDefinition]
    owners: dict[str, User]
    by_external_id: dict[str, Customer] = field(default_factory=dict)
    by_email: dict[str, dict[int, Customer]] = field(default_factory=dict)
    # Customers known by their name only (no e-mail, no external id): what a row that gives
    # neither can match, so re-importing a file of names adds nobody twice.
    by_name: dict[str, dict[int, Customer]] = field(default_factory=dict)

    def index(self, customer: Customer) -> None:
        if customer.external_id:
            self.by_external_id[customer.external_id] = customer
        for email in customer.emails:
            self.by_email.setdefault(email, {})[customer.pk] = customer
        for known in self.by_name.values():
            known.pop(customer.pk, None)
        if not customer.external_id and not customer.emails:
            self.by_name.setdefault(customer.name, {})[customer.pk] = customer


class CustomerImporter(Importer):
    kind = ImportJob.Kind.CUSTOMERS
    label = "Customers"
    permission = "customers.change"

    def fields(self, *, organization: Organization) -> list[ImportField]:
        custom = [
            ImportField(CUSTOM_PREFIX + definition.key, definition.label, (definition.key,))
            for definition in services.custom_field_definitions(organization=organization)
        ]
        return [*FIELDS, *custom]

    def mapping_problems(self, *, mapped: set[str]) -> list[str]:
        if not mapped & {"name", "external_id", "emails"}:
            return [
                "Choose a column for the name (to add customers), or for the external id or "
                "the e-mail addresses (to update the customers they match)."
            ]
        return []

    # --- batch ---------------------------------------------------------------------------

    def _lookups(self, organization: Organization, rows: list[SourceRow]) -> _Batch:
        external_ids = {row.get("external_id") for row in rows} - {""}
        emails = {
            part.lower()
            for row in rows
            for part in _EMAIL_SEPARATORS.split(row.get("emails"))
            if "@" in part
        }
        owner_emails = {row.get("owner_email").lower() for row in rows} - {""}
        batch = _Batch(
            definitions={
                definition.key: definition
                for definition in services.custom_field_definitions(organization=organization)
            },
            owners={
                user.email.lower(): user
                for user in User.objects.filter(
                    email__in=owner_emails,
                    is_active=True,
                    memberships__organization=organization,
                    memberships__is_active=True,
                )
            }
            if owner_emails
            else {},
        )
        names = {
            row.get("name") for row in rows if not row.get("external_id") and not row.get("emails")
        } - {""}
        condition = Q()
        if external_ids or emails:
            condition |= Q(external_id__in=external_ids) | Q(emails__overlap=sorted(emails))
        if names:
            condition |= Q(name__in=names, emails=[], external_id="")
        if condition:
            for customer in Customer.objects.filter(condition, organization=organization):
                batch.index(customer)
        return batch

    def import_units(
        self,
        *,
        organization: Organization,
        actor: User | None,
        units: list[list[SourceRow]],
        result: BatchResult,
    ) -> None:
        rows = [row for unit in units for row in unit]
        batch = self._lookups(organization, rows)
        for row in rows:
            try:
                with transaction.atomic():
                    self._import_row(organization, actor, batch, row, result)
            except (IntegrityError, DataError) as error:
                result.fail(row, "", f"The database refused this row: {str(error).splitlines()[0]}")

    # --- one row -------------------------------------------------------------------------

    def _parse(
        self, batch: _Batch, row: SourceRow, result: BatchResult
    ) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The row's values in service form, and its custom values; None after errors."""
        fields: dict[str, Any] = {}
        custom: dict[str, str] = {}
        failed = False

        def fail(key: str, message: str) -> None:
            nonlocal failed
            failed = True
            result.fail(row, key, message)

        for key in _TEXT_FIELDS:
            if row.get(key):
                fields[key] = row.get(key)
        if row.get("country"):
            fields["country"] = row.get("country").upper()
        for key, choices in _CHOICE_FIELDS.items():
            if row.get(key):
                value = choice_value(row.get(key), choices)
                if value is None:
                    allowed = ", ".join(str(stored) for stored, _ in choices)
                    fail(key, f"“{row.get(key)}” is not one of: {allowed}.")
                else:
                    fields[key] = value
        parsers = (
            ("emails", services.normalize_emails, _EMAIL_SEPARATORS),
            ("phones", services.normalize_phones, _PHONE_SEPARATORS),
        )
        for key, normalize, separators in parsers:
            if row.get(key):
                try:
                    fields[key] = normalize(separators.split(row.get(key)))
                except ValidationError as error:
                    fail(key, " ".join(error.messages))
        if row.get("tags"):
            try:
                fields["tags"] = services.normalize_tags(row.get("tags"))
            except ValidationError as error:
                fail("tags", " ".join(error.messages))
        if row.get("owner_email"):
            owner = batch.owners.get(row.get("owner_email").lower())
            if owner is None:
                fail("owner_email", f"No active member has the e-mail {row.get('owner_email')}.")
            else:
                fields["owner"] = owner
        for key, value in row.values.items():
            if not key.startswith(CUSTOM_PREFIX):
                continue
            definition = batch.definitions.get(key[len(CUSTOM_PREFIX) :])
            if definition is None:
                fail(key, "This custom field no longer exists.")
                continue
            try:
                custom[definition.key] = services.clean_custom_field_value(definition, value)
            except ValidationError as error:
                fail(key, " ".join(error.messages))
        return None if failed else (fields, custom)

    def _match(
        self, batch: _Batch, row: SourceRow, fields: dict[str, Any]
    ) -> Customer | str | None:
        """The customer the row updates, None to create one, or why the row is ambiguous."""
        external_id = fields.get("external_id", "")
        if external_id and external_id in batch.by_external_id:
            return batch.by_external_id[external_id]
        found: dict[int, Customer] = {}
        for email in fields.get("emails", []):
            found.update(batch.by_email.get(email, {}))
        if not external_id and not fields.get("emails") and fields.get("name"):
            found = batch.by_name.get(fields["name"], {})
            if len(found) > 1:
                return (
                    f"{len(found)} customers are named “{fields['name']}” and have no e-mail "
                    "or external id; add an e-mail or external id column to say which one "
                    "this row is."
                )
        if len(found) > 1:
            return (
                f"These e-mail addresses belong to {len(found)} different customers; "
                "add an external id column to say which one this row is."
            )
        if not found:
            return None
        match = next(iter(found.values()))
        if external_id and match.external_id and match.external_id != external_id:
            return (
                f"The e-mail address belongs to a customer with another external id "
                f"({match.external_id})."
            )
        return match

    def _import_row(
        self,
        organization: Organization,
        actor: User | None,
        batch: _Batch,
        row: SourceRow,
        result: BatchResult,
    ) -> None:
        parsed = self._parse(batch, row, result)
        if parsed is None:
            return
        fields, custom = parsed
        match = self._match(batch, row, fields)
        if isinstance(match, str):
            result.fail(row, "emails" if fields.get("emails") else "name", match)
            return
        try:
            if match is None:
                fields.setdefault("name", "")
                fields["custom_fields"] = custom  # required custom fields are enforced
                customer = services.customer_create(
                    organization=organization, actor=actor, **fields
                )
                batch.index(customer)
                result.record([row], CREATED)
                return
            changes = self._changes(match, fields, custom)
            if not changes:
                result.record([row], UNCHANGED)
                return
            services.customer_update(
                customer=match, organization=organization, actor=actor, **changes
            )
            batch.index(match)
            result.record([row], UPDATED)
        except ValidationError as error:
            result.fail_with(row, error, _RENAME)

    @staticmethod
    def _changes(
        customer: Customer, fields: dict[str, Any], custom: dict[str, str]
    ) -> dict[str, Any]:
        """Only what differs: list fields gain the row's new items, custom values per key."""
        changes = services.customer_changes(customer, fields)
        merged_custom = {**(customer.custom_fields or {}), **custom}
        if merged_custom != (customer.custom_fields or {}):
            changes["custom_fields"] = merged_custom
        return changes


IMPORTER = CustomerImporter()


def register() -> None:
    """Make customers importable (called from CustomersConfig.ready(); idempotent)."""
    register_importer(ImportJob.Kind.CUSTOMERS, IMPORTER)
