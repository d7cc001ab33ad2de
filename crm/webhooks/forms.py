"""Forms of the webhooks settings pages: validation only (the services decide and write)."""

from django import forms

from crm.webhooks.events import EVENT_CHOICES


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Receives a POST with a signed JSON body for each event you choose.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/touchpoint/webhook"}),
    )
    description = forms.CharField(
        label="Description", max_length=200, required=False, help_text="What this endpoint is for."
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
