"""Forms of the interactions pages: validation only (the services do the writing).

Fields pointing at users, products or interactions get their querysets in __init__, limited to
the organization (and customer), so another tenant's id fails as "Select a valid choice".
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Organization, User
from customers.models import Customer
from interactions.models import (
    DEFAULT_CHANNEL_OF_KIND,
    Case,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
)
from interactions.selectors import TASK_FILTER, assignable_members

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

# What the quick actions can log, and how each is preset.
LOGGABLE_KINDS = [
    Kind.CALL,
    Kind.NOTE,
    Kind.EMAIL_SENT,
    Kind.MEETING,
    Kind.STORE_VISIT,
    Kind.COMPLAINT,
]
DEFAULT_DIRECTION_OF_KIND: dict[str, str] = {
    Kind.CALL: Direction.OUTBOUND,
    Kind.NOTE: Direction.NONE,
    Kind.EMAIL_SENT: Direction.OUTBOUND,
    Kind.MEETING: Direction.NONE,
    Kind.STORE_VISIT: Direction.INBOUND,
    Kind.COMPLAINT: Direction.INBOUND,
}


def apply_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the named field, or on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_LOCAL_FORMAT, **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class InteractionLogForm(forms.Form):
    """Log a call, note, e-mail, meeting, store visit or complaint (times in the org's zone)."""

    kind = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in LOGGABLE_KINDS])
    channel = forms.ChoiceField(choices=Channel.choices)
    direction = forms.ChoiceField(choices=Direction.choices)
    occurred_at = forms.DateTimeField(label="When", widget=DateTimeLocalInput())
    subject = forms.CharField(max_length=200, required=False)
    body = forms.CharField(label="Notes", widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, kind: str = Kind.CALL, **kwargs: Any) -> None:
        if kind not in LOGGABLE_KINDS:
            kind = Kind.CALL
        kwargs.setdefault(
            "initial",
            {
                "kind": kind,
                "channel": DEFAULT_CHANNEL_OF_KIND[kind],
                "direction": DEFAULT_DIRECTION_OF_KIND[kind],
                "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
            },
        )
        super().__init__(*args, **kwargs)
        # app.js presets channel and direction when the kind changes.
        self.fields["kind"].widget.attrs.update(
            {
                "data-preset-channel": json.dumps(
                    {str(k): str(DEFAULT_CHANNEL_OF_KIND[k]) for k in LOGGABLE_KINDS}
                ),
                "data-preset-direction": json.dumps(
                    {str(k): str(DEFAULT_DIRECTION_OF_KIND[k]) for k in LOGGABLE_KINDS}
                ),
            }
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("kind") == Kind.NOTE
            and not cleaned.get("subject")
            and not cleaned.get("body")
        ):
            self.add_error("body", "Write the note.")
        return cleaned


class PurchaseForm(forms.Form):
    """When and where a purchase was made; its lines come in PurchaseLineFormSet."""

    channel = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in Channel.choices
            if value in (Channel.STORE, Channel.WEB, Channel.PHONE, Channel.MAIL)
        ],
        initial=Channel.STORE,
    )
    occurred_at = forms.DateTimeField(label="When", widget=DateTimeLocalInput())
    subject = forms.CharField(max_length=200, required=False, help_text="E.g. an order number.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "channel": Channel.STORE,
                "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
            },
        )
        super().__init__(*args, **kwargs)


class PurchaseLineForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.all_tenants.none(), required=False, empty_label="Choose a product"
    )
    quantity = forms.IntegerField(min_value=1, initial=1, required=False)
    unit_price = forms.DecimalField(
        min_value=0,
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text="Leave empty for the catalog price.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(  # type: ignore[attr-defined]
            organization=organization, active=True
        ).order_by("name", "id")


class BasePurchaseLineFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not any(form.cleaned_data.get("product") for form in self.forms):
            raise ValidationError("Add at least one product.")


PurchaseLineFormSet = forms.formset_factory(
    PurchaseLineForm, formset=BasePurchaseLineFormSet, extra=3, max_num=20
)


class CaseEditForm(forms.Form):
    """What of a case can be edited after opening (assignee and status have their own forms)."""

    subject = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    priority = forms.ChoiceField(choices=Case.Priority.choices, initial=Case.Priority.NORMAL)


class CaseOpenForm(CaseEditForm):
    assignee = MemberChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Unassigned"
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_members(  # type: ignore[attr-defined]
            organization=organization, permission="cases.change"
        )


class TaskEditForm(forms.Form):
    """A follow-up's title, due date and assignee.

    `holder` (the task's current assignee) stays a choice even if they may no longer take tasks,
    so the rest of the task can be edited without reassigning it.
    """

    title = forms.CharField(max_length=200)
    due_date = forms.DateField(required=False, widget=DateInput())
    assignee = MemberChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody yet"
    )

    def __init__(
        self, *args: Any, organization: Organization, holder_id: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        members = assignable_members(organization=organization, permission="tasks.change")
        if holder_id is not None:
            members = (members | User.objects.filter(pk=holder_id)).distinct()
        self.fields["assignee"].queryset = members  # type: ignore[attr-defined]


class TaskForm(TaskEditForm):
    """A new follow-up; `interaction` links it to the timeline entry it came from."""

    interaction = forms.ModelChoiceField(
        queryset=Interaction.all_tenants.none(), required=False, widget=forms.HiddenInput()
    )

    def __init__(
        self, *args: Any, organization: Organization, customer: Customer, **kwargs: Any
    ) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        self.fields["interaction"].queryset = Interaction.objects.filter(  # type: ignore[attr-defined]
            organization=organization, customer_id=customer.pk
        )


class CaseAssignForm(forms.Form):
    assignee = MemberChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Unassigned"
    )

    def __init__(
        self, *args: Any, organization: Organization, members: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (  # type: ignore[attr-defined]
            members
            if members is not None
            else assignable_members(organization=organization, permission="cases.change")
        )


class CaseStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Case.Status.choices)


class TimelineFilterForm(forms.Form):
    """The timeline's filters; invalid values are ignored rather than refused (it is a GET)."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)
    kind = forms.ChoiceField(
        choices=[("", "Everything"), *Kind.choices, (TASK_FILTER, "Tasks")], required=False
    )
    date_from = forms.DateField(label="From", required=False, widget=DateInput())
    date_to = forms.DateField(label="To", required=False, widget=DateInput())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end is before the start.")
        return cleaned


class ProductForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False)
    price = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2)
    active = forms.BooleanField(required=False, initial=True, help_text="Sold now")
