"""Forms of the tenancy app: validation only (the services decide and write)."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from crm.models import Organization, User
from crm.permissions import Role, can_assign
from crm.selectors import organization_users
from crm.services import CURRENCY_CODES, timezone_names

PASSWORD_HELP = (
    "At least 8 characters; not a common password, not only digits, not like your name or e-mail."
)


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(timezone_names())]


def assignable_role_choices(actor_role: str) -> list[tuple[str, str]]:
    """The roles this member may hand out, most powerful first."""
    return [(role.value, role.label) for role in Role if can_assign(actor_role, role)]


class OrganizationFieldsMixin(forms.Form):
    """Time zone and currency, shared by sign-up and the organization settings page."""

    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        initial="UTC",
        error_messages={"invalid_choice": "“%(value)s” is not a known time zone."},
    )
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        min_length=3,
        initial="USD",
        help_text="Three-letter ISO 4217 code, e.g. EUR, USD, GBP.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}),
    )

    def clean_currency(self) -> str:
        currency = str(self.cleaned_data["currency"]).strip().upper()
        if currency not in CURRENCY_CODES:
            raise forms.ValidationError(f"“{currency}” is not an ISO 4217 currency code.")
        return currency


def _check_password(form: forms.Form, field: str, *, email: str, full_name: str) -> None:
    password = form.cleaned_data.get(field)
    if not password:
        return
    try:
        password_validation.validate_password(
            password, user=User(email=email or "", full_name=full_name or "")
        )
    except forms.ValidationError as error:
        form.add_error(field, error)


class SignupForm(OrganizationFieldsMixin):
    """A new organization, and its owner's account when nobody is signed in."""

    full_name = forms.CharField(label="Your full name", max_length=200)
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )
    organization_name = forms.CharField(label="Organization name", max_length=200)

    field_order = ["full_name", "email", "password", "organization_name", "timezone", "currency"]

    def __init__(self, *args: Any, include_user: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.include_user = include_user
        if not include_user:
            for name in ("full_name", "email", "password"):
                del self.fields[name]

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this e-mail already exists. Sign in, then create the "
                "organization from the organization menu."
            )
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.include_user:
            _check_password(
                self,
                "password",
                email=cleaned.get("email", ""),
                full_name=cleaned.get("full_name", ""),
            )
        return cleaned


class OrganizationForm(OrganizationFieldsMixin):
    """The organization settings page (the slug is fixed: its URLs depend on it)."""

    name = forms.CharField(label="Name", max_length=200)

    field_order = ["name", "timezone", "currency"]

    @classmethod
    def for_organization(cls, organization: Organization, data: Any = None) -> "OrganizationForm":
        return cls(
            data,
            initial={
                "name": organization.name,
                "timezone": organization.timezone,
                "currency": organization.currency,
            },
        )


class LoginForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args: Any, actor_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = assignable_role_choices(actor_role)
        self.fields["role"].choices = choices  # type: ignore[attr-defined]
        self.fields["role"].initial = Role.SALES if Role.SALES in dict(choices) else None

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    """A new account for the invited address: the e-mail comes from the invitation."""

    full_name = forms.CharField(label="Your full name", max_length=200)
    password = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_password(self, "password", email=self.email, full_name=cleaned.get("full_name", ""))
        return cleaned


class AuditFilterForm(forms.Form):
    """The audit log's filters; the actor must be a (former) member of this organization."""

    object_type = forms.CharField(label="Object type", required=False, max_length=100)
    object_id = forms.CharField(label="Object id", required=False, max_length=64)
    actor = forms.ModelChoiceField(
        label="Who", required=False, queryset=User.objects.none(), empty_label="Anyone"
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = organization_users(  # type: ignore[attr-defined]
            organization=organization
        )
