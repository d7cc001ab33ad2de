"""Reads of tenancy data that go beyond one ORM call."""

import hashlib
from typing import Any

from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from crm import tenancy
from crm.models import AuditEntry, Invitation, Membership, Organization, User


def memberships_of_user(*, user: Any) -> list[Membership]:
    """The user's active memberships in every organization (for the switcher and home page).

    Cross-tenant by nature: PostgreSQL's `own_memberships` policy lets a user read their own.
    """
    with tenancy.user_context(user.pk):
        return list(
            Membership.all_tenants.filter(user_id=user.pk, is_active=True)
            .select_related("organization")
            .order_by("organization__name")
        )


def first_organization_of_user(*, user: Any) -> Organization | None:
    memberships = memberships_of_user(user=user)
    return memberships[0].organization if memberships else None


def audit_entries(
    *,
    organization: Organization,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(organization=organization).select_related("actor")
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    return entries.order_by("-created_at", "-id")


def organization_users(*, organization: Organization) -> QuerySet[User]:
    """Everyone who is or was a member (e.g. the audit log's actor filter)."""
    return User.objects.filter(memberships__organization=organization).order_by(
        "full_name", "email"
    )


def member_list(*, organization: Organization) -> QuerySet[Membership]:
    """Members with their user, active ones first, then by name."""
    display_name = Lower(Coalesce(NullIf("user__full_name", Value("")), "user__email"))
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("-is_active", display_name, "id")
    )


def pending_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations not yet accepted or revoked (expired ones included, marked by the page)."""
    return (
        Invitation.objects.filter(organization=organization, accepted_at=None, revoked_at=None)
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def invitation_token_hash(token: str) -> str:
    """Invitations store only this SHA-256 of their token."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_by_token(*, organization: Organization, token: str) -> Invitation | None:
    return (
        Invitation.objects.filter(
            organization=organization, token_hash=invitation_token_hash(token)
        )
        .select_related("invited_by")
        .first()
    )
