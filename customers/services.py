"""Writes on customers, their consent and the custom fields an organization defines.

Every function takes the organization and the acting user explicitly, validates (raising
ValidationError with a dict naming the field), saves, and records the audit trail in the same
transaction.
"""

import datetime
import decimal
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Func, JSONField, ProtectedError, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.text import slugify

from crm.models import AuditEntry, Membership, Organization, User
from crm.registry import customer_merge_handlers
from crm.services import (
    audit_create,
    audit_delete,
    audit_diff,
    audit_record,
    audit_snapshot,
    audit_update,
)
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_data, webhook_event_publish
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition
from customers.selectors import customer_relations, is_people_relation

# --- Normalization ------------------------------------------------------------------------------

CUSTOMER_FIELDS = frozenset(
    {
        "kind",
        "name",
        "company",
        "emails",
        "phones",
        "street",
        "city",
        "postal_code",
        "region",
        "country",
        "lifecycle_stage",
        "owner",
        "tags",
        "source",
        "preferred_channel",
        "custom_fields",
        "external_id",
    }
)
_TEXT_FIELDS = ("name", "street", "city", "postal_code", "region", "source", "external_id")
# Fields the update audit compares: the search document is derived and updated_at always moves.
_AUDITED_FIELDS = tuple(sorted(CUSTOMER_FIELDS))

_email_validator = EmailValidator()
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()]")
PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15
CUSTOM_TEXT_MAX = 500
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def normalize_emails(values: str | Iterable[str] | None) -> list[str]:
    """Stripped, lowercased, validated and de-duplicated (first occurrence wins)."""
    result: list[str] = []
    for raw in _as_list(values):
        email = str(raw).strip().lower()
        if not email:
            continue
        try:
            _email_validator(email)
        except ValidationError:
            raise ValidationError(f"“{email}” is not a valid e-mail address.") from None
        if email not in result:
            result.append(email)
    return result


def normalize_phone(raw: str) -> str:
    """'+1 (415) 555-0123' -> '+14155550123': an optional leading + and 6 to 15 digits."""
    text = str(raw).strip()
    compact = _PHONE_PUNCTUATION.sub("", text)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isascii() or not digits.isdigit():
        raise ValidationError(
            f"“{text}” is not a valid phone number: use digits, spaces, dashes, dots, "
            "parentheses and an optional leading +."
        )
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise ValidationError(
            f"“{text}” is not a valid phone number: it needs {PHONE_MIN_DIGITS} to "
            f"{PHONE_MAX_DIGITS} digits."
        )
    return ("+" if plus else "") + digits


def normalize_phones(values: str | Iterable[str] | None) -> list[str]:
    result: list[str] = []
    for raw in _as_list(values):
        if not str(raw).strip():
            continue
        phone = normalize_phone(raw)
        if phone not in result:
            result.append(phone)
    return result


def normalize_tags(values: str | Iterable[str] | None) -> list[str]:
    """Stripped, lowercased, de-duplicated; a string is read as comma-separated."""
    items = values.split(",") if isinstance(values, str) else _as_list(values)
    result: list[str] = []
    for raw in items:
        tag = str(raw).strip().lower()
        if not tag:
            continue
        if len(tag) > 50:
            raise ValidationError(f"“{tag[:20]}…” is too long: a tag has at most 50 characters.")
        if tag not in result:
            result.append(tag)
    return result


def build_search_document(
    *, name: str, emails: Sequence[str], phones: Sequence[str], tags: Sequence[str]
) -> str:
    """The text behind Customer.search_vector (PostgreSQL 'simple' configuration).

    Each e-mail appears whole, then its local part and its domain, side by side, so a typed
    prefix of an address matches; each phone appears as its digits and every suffix of 4 or
    more digits, so typing the last digits of a number finds it.
    """
    parts: list[str] = [name.lower()]
    for email in emails:
        local, _, domain = email.lower().partition("@")
        parts.extend(item for item in (email.lower(), local, domain) if item)
    for phone in phones:
        digits = "".join(ch for ch in phone if ch.isdigit())
        parts.extend(digits[start:] for start in range(0, max(len(digits) - 3, 1)))
    parts.extend(tag.lower() for tag in tags)
    return " ".join(part for part in parts if part)


def customer_changes(customer: Customer, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What `fields` change on a customer, for imports and bulk upserts: e-mails, phones and
    tags gain the new items (never lose any), other fields are replaced."""
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("emails", "phones", "tags"):
            current = list(getattr(customer, name))
            merged = [*current, *(item for item in value if item not in current)]
            if merged != current:
                changes[name] = merged
        elif name == "owner":
            if value.pk != customer.owner_id:
                changes["owner"] = value
        elif getattr(customer, name) != value:
            changes[name] = value
    return changes


# --- Custom fields -------------------------------------------------------------------------------


def custom_field_definitions(*, organization: Organization) -> list[CustomFieldDefinition]:
    return list(
        CustomFieldDefinition.objects.filter(organization=organization).order_by("position", "id")
    )


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_custom_field_value(definition: CustomFieldDefinition, value: Any) -> str:
    """One value, checked against its definition and returned in its stored form (a string)."""
    field_type = definition.field_type
    if field_type == CustomFieldDefinition.FieldType.TEXT:
        if not isinstance(value, str | int | decimal.Decimal) or isinstance(value, bool):
            raise ValidationError("Enter text.")
        text = str(value).strip()
        if len(text) > CUSTOM_TEXT_MAX:
            raise ValidationError(f"Use at most {CUSTOM_TEXT_MAX} characters (it has {len(text)}).")
        return text
    if field_type == CustomFieldDefinition.FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, str | int | float | decimal.Decimal):
            raise ValidationError("Enter a number.")
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValidationError("Enter a number.") from None
        if not number.is_finite():
            raise ValidationError("Enter a number.")
        stored = format(number, "f")
        if len(stored) > 40:
            raise ValidationError("This number is too long.")
        return stored
    if field_type == CustomFieldDefinition.FieldType.DATE:
        if isinstance(value, datetime.datetime):
            raise ValidationError("Enter a date as YYYY-MM-DD.")
        if isinstance(value, datetime.date):
            return value.isoformat()
        text = str(value).strip()
        if not _ISO_DATE.match(text):
            raise ValidationError("Enter a date as YYYY-MM-DD.")
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValidationError("Enter a real date as YYYY-MM-DD.") from None
    if field_type == CustomFieldDefinition.FieldType.CHOICE:
        text = str(value).strip()
        if text not in definition.choices:
            raise ValidationError(
                f"“{text}” is not one of the choices: {', '.join(definition.choices)}."
            )
        return text
    raise ValidationError(f"Unknown field type {field_type!r}.")


def validate_custom_fields(
    *,
    organization: Organization,
    values: Mapping[str, Any] | None,
    definitions: Sequence[CustomFieldDefinition] | None = None,
) -> dict[str, str]:
    """Clean a full set of custom values: unknown keys rejected, required ones enforced.

    Errors are keyed "custom_fields.<key>". Blank values are dropped, not stored.
    """
    if definitions is None:
        definitions = custom_field_definitions(organization=organization)
    if values is not None and not isinstance(values, Mapping):
        raise ValidationError({"custom_fields": ["Give custom fields as an object of key: value."]})
    values = dict(values or {})
    by_key = {definition.key: definition for definition in definitions}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for key in values:
        if key not in by_key:
            errors[f"custom_fields.{key}"] = ["Unknown custom field."]
    for key, definition in by_key.items():
        value = values.get(key)
        if _is_blank(value):
            if definition.required:
                errors[f"custom_fields.{key}"] = ["This field is required."]
            continue
        try:
            cleaned[key] = clean_custom_field_value(definition, value)
        except ValidationError as error:
            errors[f"custom_fields.{key}"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Customers -----------------------------------------------------------------------------------


def _as_id(value: Any) -> int | None:
    try:
        return int(value.pk if isinstance(value, Customer | User) else value)
    except (TypeError, ValueError):
        return None


def _resolve_company(*, organization: Organization, company: Any) -> Customer | None:
    if company is None or company == "":
        return None
    company_id = _as_id(company)
    found = (
        Customer.objects.filter(organization=organization, pk=company_id).first()
        if company_id is not None
        else None
    )
    if found is None:
        raise ValidationError("Choose a company of this organization.")
    if found.kind != Customer.Kind.COMPANY:
        raise ValidationError(f"“{found.name}” is a person, not a company.")
    return found


def _resolve_owner(*, organization: Organization, owner: Any) -> User | None:
    if owner is None or owner == "":
        return None
    owner_id = _as_id(owner)
    membership = (
        Membership.objects.filter(
            organization=organization, user_id=owner_id, is_active=True, user__is_active=True
        )
        .select_related("user")
        .first()
        if owner_id is not None
        else None
    )
    if membership is None:
        raise ValidationError("The owner must be an active member of this organization.")
    return membership.user


def _apply_customer_fields(
    *,
    customer: Customer,
    organization: Organization,
    fields: Mapping[str, Any],
    creating: bool,
) -> None:
    """Normalize and check `fields`, set them on `customer`, raise every error at once."""
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    was_company = not creating and customer.kind == Customer.Kind.COMPANY

    def attempt(name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for key, messages in error.message_dict.items():
                    errors.setdefault(key, []).extend(messages)
            else:
                errors.setdefault(name, []).extend(error.messages)
            return None

    for name in _TEXT_FIELDS:
        if name in fields:
            setattr(customer, name, str(fields[name] or "").strip())
    if "name" in fields and not customer.name:
        errors["name"] = ["Enter a name."]
    for name in ("kind", "lifecycle_stage", "preferred_channel"):
        if name in fields:
            setattr(customer, name, str(fields[name] or "").strip())
    if "country" in fields:
        customer.country = str(fields["country"] or "").strip().upper()
        if customer.country and not _COUNTRY.match(customer.country):
            errors["country"] = ["Use a two-letter ISO 3166 code, e.g. GB or US."]
    if "emails" in fields:
        emails = attempt("emails", normalize_emails, fields["emails"])
        if emails is not None:
            customer.emails = emails
    if "phones" in fields:
        phones = attempt("phones", normalize_phones, fields["phones"])
        if phones is not None:
            customer.phones = phones
    if "tags" in fields:
        tags = attempt("tags", normalize_tags, fields["tags"])
        if tags is not None:
            customer.tags = tags
    if "custom_fields" in fields:
        custom = attempt(
            "custom_fields",
            validate_custom_fields,
            organization=organization,
            values=fields["custom_fields"],
        )
        if custom is not None:
            customer.custom_fields = custom

    if "owner" in fields:
        owner = fields["owner"]
        # Keeping an owner who has since left is allowed; assigning one requires a member.
        if creating or _as_id(owner) != customer.owner_id:
            resolved = attempt("owner", _resolve_owner, organization=organization, owner=owner)
            if "owner" not in errors:
                customer.owner = resolved

    if "company" in fields:
        company = attempt(
            "company", _resolve_company, organization=organization, company=fields["company"]
        )
        if "company" not in errors:
            if company is not None and not creating and company.pk == customer.pk:
                errors["company"] = ["A company cannot belong to itself."]
            else:
                customer.company = company
    if customer.company_id is not None and customer.kind == Customer.Kind.COMPANY:
        errors.setdefault("company", []).append(
            "A company cannot belong to another company; leave this empty."
        )
    if (
        was_company
        and customer.kind != Customer.Kind.COMPANY
        and Customer.objects.filter(organization=organization, company_id=customer.pk).exists()
    ):
        errors.setdefault("kind", []).append(
            "This company has people linked to it; move them to another company first."
        )

    exclude = {"organization", "company", "owner", "search_document", "custom_fields"}
    exclude.update(errors)
    try:
        customer.full_clean(
            exclude=sorted(exclude), validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if customer.external_id and "external_id" not in errors:
        duplicates = Customer.objects.filter(
            organization=organization, external_id=customer.external_id
        )
        if not creating:
            duplicates = duplicates.exclude(pk=customer.pk)
        if duplicates.exists():
            errors["external_id"] = ["Another customer already has this external id."]
    if errors:
        raise ValidationError(errors)
    customer.search_document = build_search_document(
        name=customer.name, emails=customer.emails, phones=customer.phones, tags=customer.tags
    )


@contextmanager
def _restored_on_error(instance: models.Model) -> Iterator[None]:
    """Put back the instance's field values if validation fails, so callers see it unchanged."""
    saved = {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}
    try:
        yield
    except ValidationError:
        for attname, value in saved.items():
            setattr(instance, attname, value)
        raise


def customer_create(*, organization: Organization, actor: User | None, **fields: Any) -> Customer:
    """Create a person or company from the given fields (see CUSTOMER_FIELDS)."""
    now = timezone.now()
    customer = Customer(organization=organization, created_at=now, updated_at=now)
    _apply_customer_fields(
        customer=customer, organization=organization, fields=fields, creating=True
    )
    with transaction.atomic():
        customer.save(force_insert=True)
        audit_create(organization=organization, actor=actor, instance=customer)
        webhook_event_publish(
            organization=organization,
            event=webhook_events.CUSTOMER_CREATED,
            payload=webhook_data(customer),
        )
    return customer


def customer_update(
    *, customer: Customer, organization: Organization, actor: User | None, **fields: Any
) -> Customer:
    """Change the given fields only; fields not passed keep their value."""
    if customer.organization_id != organization.pk:
        raise ValidationError("This customer belongs to another organization.")
    before = audit_snapshot(customer, _AUDITED_FIELDS)
    with _restored_on_error(customer):
        _apply_customer_fields(
            customer=customer, organization=organization, fields=fields, creating=False
        )
    customer.updated_at = timezone.now()
    update_fields = list(fields)
    for name in ("kind", "search_document", "updated_at"):
        if name not in update_fields:
            update_fields.append(name)
    with transaction.atomic():
        customer.save(update_fields=update_fields)
        if audit_update(organization=organization, actor=actor, instance=customer, before=before):
            webhook_event_publish(
                organization=organization,
                event=webhook_events.CUSTOMER_UPDATED,
                payload=webhook_data(customer),
            )
    return customer


def customer_delete(*, customer: Customer, organization: Organization, actor: User | None) -> None:
    """Delete a customer and its consent history; a company's people are unlinked, audited."""
    if customer.organization_id != organization.pk:
        raise ValidationError("This customer belongs to another organization.")
    with transaction.atomic():
        people = list(
            Customer.objects.filter(organization=organization, company_id=customer.pk).only(
                "id", "name", "company_id", "updated_at", "organization_id"
            )
        )
        now = timezone.now()
        for person in people:
            before = audit_snapshot(person, ["company"])
            person.company = None
            person.updated_at = now
            audit_update(organization=organization, actor=actor, instance=person, before=before)
        if people:
            Customer.objects.filter(pk__in=[person.pk for person in people]).update(
                company=None, updated_at=now
            )
        audit_delete(organization=organization, actor=actor, instance=customer)
        try:
            customer.delete()
        except ProtectedError:
            raise ValidationError(
                "This customer has records that must be removed before it can be deleted."
            ) from None


# --- Consent -------------------------------------------------------------------------------------


def consent_record(
    *,
    customer: Customer,
    organization: Organization,
    actor: User | None,
    channel: str,
    granted: bool,
    method: str,
    note: str = "",
    occurred_at: datetime.datetime | None = None,
) -> ConsentEvent:
    """Append a consent change; the history is never edited, so the latest per channel counts."""
    if customer.organization_id != organization.pk:
        raise ValidationError("This customer belongs to another organization.")
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = f"Choose one of: {', '.join(Channel.values)}."
    if method not in ConsentEvent.Method.values:
        errors["method"] = f"Choose one of: {', '.join(ConsentEvent.Method.values)}."
    if not isinstance(granted, bool):
        errors["granted"] = "Say whether consent was granted or withdrawn."
    note = (note or "").strip()
    if len(note) > 300:
        errors["note"] = f"Use at most 300 characters (it has {len(note)})."
    now = timezone.now()
    if occurred_at is None:
        occurred_at = now
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Give a date and time with a time zone."
    elif occurred_at > now + datetime.timedelta(minutes=5):
        errors["occurred_at"] = "A consent change cannot be in the future."
    if errors:
        raise ValidationError(errors)
    event = ConsentEvent(
        organization=organization,
        customer=customer,
        channel=channel,
        granted=granted,
        method=method,
        note=note,
        occurred_at=occurred_at,
        recorded_by=actor,
    )
    with transaction.atomic():
        event.save(force_insert=True)
        audit_create(organization=organization, actor=actor, instance=event)
    return event


# --- Custom field definitions ---------------------------------------------------------------

_DEFINITION_FIELDS = frozenset({"key", "label", "field_type", "choices", "required", "position"})


def suggest_custom_field_key(label: str) -> str:
    return slugify(label).replace("-", "_")[:50]


def _apply_definition_fields(
    *,
    definition: CustomFieldDefinition,
    organization: Organization,
    fields: Mapping[str, Any],
    creating: bool,
) -> None:
    unknown = set(fields) - _DEFINITION_FIELDS
    if unknown:
        raise TypeError(f"Unknown custom field definition fields: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    if "label" in fields:
        definition.label = str(fields["label"] or "").strip()
    if "key" in fields:
        key = str(fields["key"] or "").strip()
        if not creating and key != definition.key:
            errors["key"] = ["The key cannot change once values are stored under it."]
        else:
            definition.key = key
    if creating and not definition.key and definition.label:
        definition.key = suggest_custom_field_key(definition.label)
    if "field_type" in fields:
        definition.field_type = str(fields["field_type"] or "")
    if "choices" in fields:
        raw = fields["choices"]
        items = raw.splitlines() if isinstance(raw, str) else list(raw or [])
        choices: list[str] = []
        for item in items:
            text = str(item).strip()
            if text and text not in choices:
                choices.append(text)
        definition.choices = choices
    if "required" in fields:
        definition.required = bool(fields["required"])
    if "position" in fields and fields["position"] not in (None, ""):
        try:
            definition.position = int(fields["position"])
        except (TypeError, ValueError):
            errors["position"] = ["Enter a whole number."]
    if not definition.label:
        errors["label"] = ["Enter a label."]
    if definition.field_type == CustomFieldDefinition.FieldType.CHOICE and not definition.choices:
        errors["choices"] = ["List the choices, one per line."]
    if definition.field_type != CustomFieldDefinition.FieldType.CHOICE:
        definition.choices = []
    try:
        definition.full_clean(
            exclude=["organization", *errors], validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if "key" not in errors and definition.key:
        clashes = CustomFieldDefinition.objects.filter(
            organization=organization, key=definition.key
        )
        if not creating:
            clashes = clashes.exclude(pk=definition.pk)
        if clashes.exists():
            errors["key"] = [f"A custom field with the key “{definition.key}” already exists."]
    if errors:
        raise ValidationError(errors)


def _stored_values(*, organization: Organization, key: str) -> list[Any]:
    return list(
        Customer.objects.filter(organization=organization, custom_fields__has_key=key)
        .values_list(f"custom_fields__{key}", flat=True)
        .iterator()
    )


def custom_field_definition_create(
    *, organization: Organization, actor: User | None, **fields: Any
) -> CustomFieldDefinition:
    """Add a field every customer of the organization can carry; appended last by default."""
    definition = CustomFieldDefinition(organization=organization)
    if fields.get("position") in (None, ""):
        last = (
            CustomFieldDefinition.objects.filter(organization=organization)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        definition.position = 0 if last is None else last + 1
    _apply_definition_fields(
        definition=definition, organization=organization, fields=fields, creating=True
    )
    try:
        with transaction.atomic():
            definition.save(force_insert=True)
            audit_create(organization=organization, actor=actor, instance=definition)
    except IntegrityError:
        raise ValidationError(
            {"key": [f"A custom field with the key “{definition.key}” already exists."]}
        ) from None
    return definition


def _check_stored_values_fit(
    *, definition: CustomFieldDefinition, organization: Organization, before: dict[str, Any]
) -> None:
    """A new type or choice list must still accept every value customers already have."""
    type_changed = definition.field_type != before["field_type"]
    if not type_changed and definition.choices == before["choices"]:
        return
    invalid = 0
    for value in _stored_values(organization=organization, key=definition.key):
        try:
            clean_custom_field_value(definition, value)
        except ValidationError:
            invalid += 1
    if invalid:
        raise ValidationError(
            {
                "field_type" if type_changed else "choices": [
                    f"{invalid} customer(s) have a value that would no longer be valid; "
                    "change those values first."
                ]
            }
        )


def custom_field_definition_update(
    *,
    definition: CustomFieldDefinition,
    organization: Organization,
    actor: User | None,
    **fields: Any,
) -> CustomFieldDefinition:
    """Change a definition; a new type or choice list must still fit every stored value."""
    if definition.organization_id != organization.pk:
        raise ValidationError("This field belongs to another organization.")
    before = audit_snapshot(definition)
    with _restored_on_error(definition):
        _apply_definition_fields(
            definition=definition, organization=organization, fields=fields, creating=False
        )
        _check_stored_values_fit(definition=definition, organization=organization, before=before)
    with transaction.atomic():
        definition.save(update_fields=[name for name in _DEFINITION_FIELDS if name != "key"])
        audit_update(organization=organization, actor=actor, instance=definition, before=before)
    return definition


class _JsonbDeleteKey(Func):
    """custom_fields - 'key' (PostgreSQL jsonb): drop one key from every row in one UPDATE."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = JSONField()


def custom_field_definition_delete(
    *, definition: CustomFieldDefinition, organization: Organization, actor: User | None
) -> int:
    """Delete a definition and the values stored under its key; returns how many were removed."""
    if definition.organization_id != organization.pk:
        raise ValidationError("This field belongs to another organization.")
    with transaction.atomic():
        removed = Customer.objects.filter(
            organization=organization, custom_fields__has_key=definition.key
        ).update(
            custom_fields=_JsonbDeleteKey("custom_fields", Cast(Value(definition.key), TextField()))
        )
        audit_delete(organization=organization, actor=actor, instance=definition)
        definition.delete()
    return removed


# --- Merging duplicates --------------------------------------------------------------------------

# Fields where the user picks the source's or the target's value; e-mails, phones and tags are
# unioned, custom values filled in where the target has none (or picked per key).
MERGE_CHOICE_FIELDS = (
    "name",
    "company",
    "street",
    "city",
    "postal_code",
    "region",
    "country",
    "lifecycle_stage",
    "owner",
    "source",
    "preferred_channel",
    "external_id",
)
MERGE_UNION_FIELDS = ("emails", "phones", "tags")
CUSTOM_CHOICE_PREFIX = "custom_fields."
_FOREIGN_KEY_CHOICES = {"company": "company_id", "owner": "owner_id"}


def merge_problems(*, source: Customer, target: Customer) -> list[str]:
    """Why these two cannot be merged at all (empty when they can)."""
    if source.pk == target.pk:
        return ["A customer cannot be merged with itself."]
    if source.organization_id != target.organization_id:
        return ["These customers belong to different organizations."]
    if source.kind != target.kind:
        return [
            f"“{source.name}” is a {source.get_kind_display().lower()} and “{target.name}” a "
            f"{target.get_kind_display().lower()}: only two people or two companies can be merged."
        ]
    return []


def _merged_union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return [*first, *(item for item in second if item not in first)]


def _merge_fields(
    *, source: Customer, target: Customer, field_choices: Mapping[str, str]
) -> dict[str, Any]:
    """The service fields that turn `target` into the merged customer."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    custom = dict(target.custom_fields or {})
    for key, value in (source.custom_fields or {}).items():
        if _is_blank(custom.get(key)):
            custom[key] = value
    for name, choice in field_choices.items():
        if choice not in ("source", "target"):
            errors[name] = ["Choose the value of one of the two customers."]
        elif name.startswith(CUSTOM_CHOICE_PREFIX):
            key = name[len(CUSTOM_CHOICE_PREFIX) :]
            if choice == "source" and key in (source.custom_fields or {}):
                custom[key] = source.custom_fields[key]
        elif name not in MERGE_CHOICE_FIELDS:
            errors[name] = ["This field cannot be chosen in a merge."]
        elif choice == "source":
            fields[name] = getattr(source, _FOREIGN_KEY_CHOICES.get(name, name))
    if errors:
        raise ValidationError(errors)
    for name in MERGE_UNION_FIELDS:
        merged = _merged_union(getattr(target, name), getattr(source, name))
        if merged != getattr(target, name):
            fields[name] = merged
    if custom != (target.custom_fields or {}):
        fields["custom_fields"] = custom
    return fields


def _move_related_rows(
    *, organization: Organization, source: Customer, target: Customer
) -> dict[str, int]:
    """Re-point every row that references `source` to `target`; counts per model moved.

    Generic over customer_relations(), so interactions, cases, tasks, consents and the rows of
    apps added later move without this module importing them. An auto-created many-to-many
    table first drops the source's links the target already has; any other unique clash is
    refused with a clear error (an app resolves it with a merge handler in crm.registry).
    """
    moved: dict[str, int] = {}
    for relation in customer_relations():
        if is_people_relation(relation):
            continue  # people of a company move with their own audit entries
        model = relation.related_model
        attname = relation.field.attname
        rows = model._base_manager.all()
        if any(field.name == "organization" for field in model._meta.concrete_fields):
            rows = rows.filter(organization_id=organization.pk)
        if model._meta.auto_created:
            other = next(
                field.attname
                for field in model._meta.concrete_fields
                if field.is_relation and field.attname != attname and field.name != "organization"
            )
            rows.filter(
                **{attname: source.pk},
                **{f"{other}__in": rows.filter(**{attname: target.pk}).values(other)},
            ).delete()
        try:
            with transaction.atomic():
                count = rows.filter(**{attname: source.pk}).update(**{attname: target.pk})
        except IntegrityError:
            raise ValidationError(
                f"Both customers have {model._meta.verbose_name_plural} that cannot be combined "
                "automatically; resolve them first."
            ) from None
        if count:
            moved[model._meta.label_lower] = moved.get(model._meta.label_lower, 0) + count
    return moved


def _move_people(
    *, organization: Organization, actor: User | None, source: Customer, target: Customer
) -> int:
    """People of a source company join the target company, each change audited."""
    people = list(
        Customer.objects.filter(organization=organization, company_id=source.pk).only(
            "id", "name", "company_id", "updated_at", "organization_id"
        )
    )
    now = timezone.now()
    for person in people:
        before = audit_snapshot(person, ["company"])
        person.company_id = target.pk
        audit_update(organization=organization, actor=actor, instance=person, before=before)
    if people:
        Customer.objects.filter(organization=organization, company_id=source.pk).update(
            company_id=target.pk, updated_at=now
        )
    return len(people)


def customer_merge(
    *,
    organization: Organization,
    actor: User | None,
    source: Customer,
    target: Customer,
    field_choices: Mapping[str, str] | None = None,
) -> Customer:
    """Fold `source` into `target` and delete `source`; returns the merged target.

    `field_choices` maps a field of MERGE_CHOICE_FIELDS (or "custom_fields.<key>") to "source"
    or "target"; fields not named keep the target's value. E-mails, phones and tags are
    unioned (the target's first), custom values filled in where the target lacks them. Every
    row pointing at the source (interactions, cases, tasks, consent history, a company's
    people, anything a later app adds) moves to the target. All in one transaction, audited:
    an update of the target carrying "merged_from", and a delete of the source.
    """
    if source.organization_id != organization.pk or target.organization_id != organization.pk:
        raise ValidationError("These customers belong to another organization.")
    problems = merge_problems(source=source, target=target)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        locked = {
            customer.pk: customer
            for customer in Customer.objects.select_for_update()
            .filter(organization=organization, pk__in=[source.pk, target.pk])
            .order_by("pk")
        }
        if len(locked) != 2:
            raise ValidationError("One of these customers no longer exists.")
        source, target = locked[source.pk], locked[target.pk]
        problems = merge_problems(source=source, target=target)
        if problems:
            raise ValidationError(problems)
        fields = _merge_fields(source=source, target=target, field_choices=field_choices or {})
        before = audit_snapshot(target, _AUDITED_FIELDS)
        source_before = audit_snapshot(source)
        if fields.get("external_id") and fields["external_id"] == source.external_id:
            # The external id is unique: the source gives it up before the target takes it.
            Customer.objects.filter(organization=organization, pk=source.pk).update(external_id="")
        for handler in customer_merge_handlers:
            handler.handle(organization=organization, actor=actor, source=source, target=target)
        moved = _move_related_rows(organization=organization, source=source, target=target)
        people = _move_people(organization=organization, actor=actor, source=source, target=target)
        if people:
            moved["people"] = people
        with _restored_on_error(target):
            _apply_customer_fields(
                customer=target, organization=organization, fields=fields, creating=False
            )
        target.updated_at = timezone.now()
        target.save(update_fields=[*fields, "kind", "search_document", "updated_at"])
        changes: dict[str, list[Any]] = audit_diff(before, audit_snapshot(target, before.keys()))
        changes["merged_from"] = [None, source.pk]
        changes["merged_name"] = [None, source.name]
        if moved:
            changes["moved_rows"] = [None, moved]
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=target,
            changes=changes,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.DELETE,
            instance=source,
            changes={
                **{name: [value, None] for name, value in source_before.items()},
                "merged_into": [None, target.pk],
            },
        )
        webhook_event_publish(
            organization=organization,
            event=webhook_events.CUSTOMER_MERGED,
            payload={**webhook_data(target), "merged_from_id": source.pk},
        )
        source.delete()
    return target
