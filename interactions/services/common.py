"""Validation helpers the interactions services share (each returns {field: message})."""

from typing import Any

from crm.models import Membership, Organization, User
from customers.models import Customer


def check_customer(organization: Organization, customer: Customer | None) -> dict[str, str]:
    if customer is None or customer.organization_id != organization.pk:
        return {"customer": "Choose a customer of this organization."}
    return {}


def check_member(
    organization: Organization, user: User | None, field: str, permission: str
) -> dict[str, str]:
    """An assignee must be an active member whose role may work on the thing assigned."""
    if user is None:
        return {}
    membership = Membership.objects.filter(
        organization=organization, user_id=user.pk, is_active=True
    ).first()
    if membership is None:
        return {field: "Choose an active member of this organization."}
    if not membership.has_permission(permission):
        return {field: f"{user.display_name} ({membership.get_role_display()}) cannot take this."}
    return {}


def check_length(errors: dict[str, str], field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors[field] = f"Use at most {limit} characters (it has {len(value)})."


def check_choice(errors: dict[str, str], field: str, value: str, choices: Any) -> None:
    if value not in choices.values:
        errors[field] = f"{value!r} is not a valid choice."
