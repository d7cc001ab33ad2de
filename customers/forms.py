"""Forms of the customer pages: input parsing and choices only; the services hold the rules."""

import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from crm.models import Organization, User
from customers import services
from customers.filters import active_members
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition
from customers.selectors import companies

CUSTOM_PREFIX = "cf_"
_LIST_SEPARATORS = re.compile(r"[\n\r,;]+")


def split_lines(value: str) -> list[str]:
    """One item per line (commas and semicolons also separate)."""
    return [item.strip() for item in _LIST_SEPARATORS.split(value or "") if item.strip()]


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class CustomerForm(forms.Form):
    """A person or company. Company and owner choices are this organization's only."""

    kind = forms.ChoiceField(
        choices=Customer.Kind.choices, initial=Customer.Kind.PERSON, widget=forms.RadioSelect
    )
    name = forms.CharField(max_length=200)
    company = forms.ModelChoiceField(
        queryset=Customer.all_tenants.none(),  # set per organization in __init__
        required=False,
        empty_label="No company",
        help_text="The company account this person belongs to.",
    )
    emails = forms.CharField(
        label="E-mail addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line; the first is the primary address.",
    )
    phones = forms.CharField(
        label="Phone numbers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, e.g. +44 20 7946 0958; the first is the primary number.",
    )
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    region = forms.CharField(max_length=100, required=False)
    country = forms.CharField(
        max_length=2, required=False, help_text="Two-letter code, e.g. GB or US."
    )
    lifecycle_stage = forms.ChoiceField(
        label="Stage", choices=Customer.LifecycleStage.choices, initial="prospect"
    )
    owner = OwnerChoiceField(queryset=User.objects.none(), required=False, empty_label="No owner")
    tags = forms.CharField(
        max_length=500, required=False, help_text="Comma-separated, e.g. vip, newsletter."
    )
    source = forms.CharField(
        max_length=100, required=False, help_text="Where they came from, e.g. web or store."
    )
    preferred_channel = forms.ChoiceField(
        choices=[("", "No preference"), *Channel.choices], required=False
    )

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        definitions: Sequence[CustomFieldDefinition],
        customer: Customer | None = None,
        **kwargs: Any,
    ) -> None:
        if customer is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(customer)
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.definitions = list(definitions)
        company_queryset: QuerySet[Customer] = companies(organization=organization)
        if customer is not None and customer.pk:
            company_queryset = company_queryset.exclude(pk=customer.pk)
        self.fields["company"].queryset = company_queryset  # type: ignore[attr-defined]
        owners = active_members(organization=organization)
        if customer is not None and customer.owner_id:
            # Keep showing a current owner who has since left, so an edit need not reassign.
            owners = User.objects.filter(
                Q(pk__in=owners.values("pk")) | Q(pk=customer.owner_id)
            ).order_by("full_name", "email")
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        for definition in self.definitions:
            self.fields[CUSTOM_PREFIX + definition.key] = custom_form_field(definition)

    @staticmethod
    def initial_from(customer: Customer) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(customer, name)
            for name in (
                "kind",
                "name",
                "street",
                "city",
                "postal_code",
                "region",
                "country",
                "lifecycle_stage",
                "source",
                "preferred_channel",
            )
        }
        initial.update(
            company=customer.company_id,
            owner=customer.owner_id,
            emails="\n".join(customer.emails),
            phones="\n".join(customer.phones),
            tags=", ".join(customer.tags),
        )
        for key, value in (customer.custom_fields or {}).items():
            initial[CUSTOM_PREFIX + key] = value
        return initial

    def custom_fields_data(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(CUSTOM_PREFIX + definition.key)
            if value not in (None, ""):
                values[definition.key] = value
        return values

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data in the shape customer_create / customer_update take."""
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "name": data["name"],
            "company": data.get("company"),
            "emails": split_lines(data.get("emails", "")),
            "phones": split_lines(data.get("phones", "")),
            "street": data.get("street", ""),
            "city": data.get("city", ""),
            "postal_code": data.get("postal_code", ""),
            "region": data.get("region", ""),
            "country": data.get("country", ""),
            "lifecycle_stage": data["lifecycle_stage"],
            "owner": data.get("owner"),
            "tags": data.get("tags", ""),
            "source": data.get("source", ""),
            "preferred_channel": data.get("preferred_channel", ""),
            "custom_fields": self.custom_fields_data(),
        }

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's errors on the fields they name ("custom_fields.<key>" included)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            field = key
            if key.startswith("custom_fields."):
                field = CUSTOM_PREFIX + key.split(".", 1)[1]
            if field not in self.fields:
                field_label = key.replace("_", " ")
                for message in messages:
                    self.add_error(None, f"{field_label}: {message}")
                continue
            for message in messages:
                self.add_error(field, message)

    @property
    def custom_field_names(self) -> list[str]:
        return [CUSTOM_PREFIX + definition.key for definition in self.definitions]

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.custom_field_names]


def custom_form_field(definition: CustomFieldDefinition) -> forms.Field:
    """The typed input of one custom field definition."""
    common: dict[str, Any] = {"label": definition.label, "required": definition.required}
    field_type = definition.field_type
    if field_type == CustomFieldDefinition.FieldType.NUMBER:
        return forms.DecimalField(**common, widget=forms.NumberInput(attrs={"step": "any"}))
    if field_type == CustomFieldDefinition.FieldType.DATE:
        return forms.DateField(
            **common,
            input_formats=["%Y-%m-%d"],
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            help_text="YYYY-MM-DD",
        )
    if field_type == CustomFieldDefinition.FieldType.CHOICE:
        return forms.ChoiceField(
            **common, choices=[("", "—"), *((choice, choice) for choice in definition.choices)]
        )
    return forms.CharField(**common, max_length=500)


class ConsentForm(forms.Form):
    """A consent change on one channel, as the customer gave it."""

    channel = forms.ChoiceField(choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label="Consent",
        choices=[("yes", "Granted"), ("no", "Withdrawn")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(label="How", choices=ConsentEvent.Method.choices)
    note = forms.CharField(max_length=300, required=False)
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


class CustomFieldDefinitionForm(forms.Form):
    """A custom field: its key is fixed once created (values are stored under it)."""

    label = forms.CharField(max_length=100)
    key = forms.SlugField(
        max_length=50,
        required=False,
        help_text="Stored name, e.g. loyalty_number. Leave empty to derive it from the label.",
    )
    field_type = forms.ChoiceField(
        label="Type", choices=CustomFieldDefinition.FieldType.choices, initial="text"
    )
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For the Choice type: one choice per line.",
    )
    required = forms.BooleanField(required=False)
    position = forms.IntegerField(
        required=False, min_value=0, help_text="Fields are shown in this order."
    )

    def __init__(
        self, *args: Any, definition: CustomFieldDefinition | None = None, **kwargs: Any
    ) -> None:
        if definition is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "label": definition.label,
                "key": definition.key,
                "field_type": definition.field_type,
                "choices": "\n".join(definition.choices),
                "required": definition.required,
                "position": definition.position,
            }
        super().__init__(*args, **kwargs)
        self.definition = definition
        if definition is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "Values are stored under this name; it cannot change."

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {
            "label": data["label"],
            "field_type": data["field_type"],
            "choices": split_choice_lines(data.get("choices", "")),
            "required": data.get("required", False),
            "position": data.get("position"),
        }
        if self.definition is None:
            fields["key"] = data.get("key", "")
        return fields

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def split_choice_lines(value: str) -> list[str]:
    """Choices are one per line (a choice may contain commas)."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


# --- Imports -------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    """The CSV file to import and what it holds (the kinds the member may import)."""

    kind = forms.ChoiceField(label="What the file holds", widget=forms.RadioSelect)
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 text with a header row naming the columns; at most 10 MB and 50,000 rows.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(
        self, *args: Any, kinds: Sequence[tuple[str, str]], max_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["kind"].choices = list(kinds)  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{self.max_bytes // 1024 // 1024} MB. Split it into smaller files."
            )
        return upload


class ImportMappingForm(forms.Form):
    """One select per CSV column: the field it fills, or nothing."""

    def __init__(
        self,
        *args: Any,
        headers: Sequence[str],
        fields: Sequence[Any],
        mapping: dict[str, str],
        samples: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        self.samples = samples or {}
        choices = [("", "— Do not import —"), *((item.key, item.label) for item in fields)]
        for position, header in enumerate(self.headers):
            self.fields[f"column_{position}"] = forms.ChoiceField(
                label=header, choices=choices, required=False, initial=mapping.get(header, "")
            )

    def columns(self) -> list[tuple[str, forms.BoundField, list[str]]]:
        """(header, its select, a few sample values) per column, for the page."""
        return [
            (header, self[f"column_{position}"], self.samples.get(header, []))
            for position, header in enumerate(self.headers)
        ]

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"column_{position}") or ""
            for position, header in enumerate(self.headers)
        }


# --- Merge ---------------------------------------------------------------------------------------

_MERGE_LABELS = {
    "name": "Name",
    "company": "Company",
    "street": "Street",
    "city": "City",
    "postal_code": "Postal code",
    "region": "Region",
    "country": "Country",
    "lifecycle_stage": "Stage",
    "owner": "Owner",
    "source": "Source",
    "preferred_channel": "Preferred channel",
    "external_id": "External id",
}


def _shown(customer: Customer, name: str) -> tuple[Any, str]:
    """(value compared, value shown) of one merge field."""
    if name == "company":
        return customer.company_id, customer.company.name if customer.company else ""
    if name == "owner":
        return customer.owner_id, customer.owner.display_name if customer.owner else ""
    if name == "lifecycle_stage":
        return customer.lifecycle_stage, customer.get_lifecycle_stage_display()
    if name == "preferred_channel":
        return customer.preferred_channel, customer.get_preferred_channel_display()
    value = getattr(customer, name)
    return value, str(value or "")


class MergeForm(forms.Form):
    """Side by side: a radio per field whose values differ, to keep one or the other.

    `rows` lists every compared field for the page: label, the kept customer's value, the
    other's value, its radio (when there is a choice) and a note (e.g. "Both kept").
    """

    def __init__(
        self,
        *args: Any,
        source: Customer,
        target: Customer,
        definitions: Sequence[CustomFieldDefinition],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        for name in _MERGE_LABELS:
            if name == "company" and target.kind == Customer.Kind.COMPANY:
                continue
            target_value, target_shown = _shown(target, name)
            source_value, source_shown = _shown(source, name)
            self._add_row(
                name, _MERGE_LABELS[name], target_value, source_value, target_shown, source_shown
            )
        for name, label in (("emails", "E-mail"), ("phones", "Phone"), ("tags", "Tags")):
            kept = [
                *getattr(target, name),
                *(item for item in getattr(source, name) if item not in getattr(target, name)),
            ]
            self.rows.append(
                {
                    "label": label,
                    "target": ", ".join(getattr(target, name)),
                    "source": ", ".join(getattr(source, name)),
                    "field": None,
                    "note": "Both kept: " + ", ".join(kept) if kept else "",
                }
            )
        for definition in definitions:
            target_value = (target.custom_fields or {}).get(definition.key)
            source_value = (source.custom_fields or {}).get(definition.key)
            self._add_row(
                services.CUSTOM_CHOICE_PREFIX + definition.key,
                definition.label,
                target_value,
                source_value,
                "" if target_value is None else str(target_value),
                "" if source_value is None else str(source_value),
            )

    def _add_row(
        self,
        name: str,
        label: str,
        target_value: Any,
        source_value: Any,
        target_shown: str,
        source_shown: str,
    ) -> None:
        row: dict[str, Any] = {
            "label": label,
            "target": target_shown,
            "source": source_shown,
            "field": None,
            "note": "",
        }
        blank = (None, "")
        if target_value != source_value and source_value not in blank:
            if target_value in blank:
                row["note"] = "Filled in from the other record."
                if not name.startswith(services.CUSTOM_CHOICE_PREFIX):
                    self.fields["keep_" + name] = self._radio(
                        label, target_shown, source_shown, "source"
                    )
                    row["field"] = self["keep_" + name]
                    row["note"] = ""
            else:
                self.fields["keep_" + name] = self._radio(
                    label, target_shown, source_shown, "target"
                )
                row["field"] = self["keep_" + name]
        self.rows.append(row)

    @staticmethod
    def _radio(label: str, target_shown: str, source_shown: str, initial: str) -> forms.ChoiceField:
        return forms.ChoiceField(
            label=label,
            choices=[("target", target_shown or "(empty)"), ("source", source_shown or "(empty)")],
            initial=initial,
            widget=forms.RadioSelect,
        )

    def field_choices(self) -> dict[str, str]:
        """The service's field_choices: field -> "source" or "target"."""
        return {
            name.removeprefix("keep_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("keep_")
        }
