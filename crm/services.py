"""Business actions of the tenancy app, and the audit trail every app writes through."""

import datetime
import decimal
import functools
import secrets
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.text import slugify

from crm.models import AuditEntry, Invitation, Membership, Organization, User
from crm.permissions import Role, can_assign
from crm.selectors import invitation_token_hash
from crm.tenancy import tenant_context


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return value


def audit_snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The audited values of an instance: concrete fields, foreign keys as ids."""
    names = set(fields) if fields is not None else None
    snapshot: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name == "id" or not field.editable or getattr(field, "generated", False):
            continue
        if names is not None and field.name not in names:
            continue
        snapshot[field.name] = _json_value(getattr(instance, field.attname))
    return snapshot


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed fields as {field: [before, after]}."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def audit_record(
    *,
    organization: Organization,
    actor: User | None,
    action: str,
    instance: models.Model,
    changes: dict[str, list[Any]],
) -> AuditEntry:
    """Append one entry to the organization's audit trail."""
    return AuditEntry.objects.create(
        organization=organization,
        actor=actor,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=changes,
    )


def audit_create(*, organization: Organization, actor: User | None, instance: models.Model) -> None:
    after = audit_snapshot(instance)
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=instance,
        changes=audit_diff({}, after),
    )


def audit_update(
    *,
    organization: Organization,
    actor: User | None,
    instance: models.Model,
    before: dict[str, Any],
) -> dict[str, list[Any]]:
    """Record the fields that changed since `before` (an audit_snapshot); nothing if none did."""
    changes = audit_diff(before, audit_snapshot(instance, before.keys()))
    if changes:
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=instance,
            changes=changes,
        )
    return changes


def audit_delete(*, organization: Organization, actor: User | None, instance: models.Model) -> None:
    before = audit_snapshot(instance)
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=instance,
        changes={name: [value, None] for name, value in before.items()},
    )


# --- Organizations ------------------------------------------------------------------------------

# Top-level URL segments an organization's slug may never take (its URLs live at /<slug>/).
# tests/crm/test_permissions.py checks that every top-level route is listed here.
RESERVED_SLUGS = frozenset(
    {"accounts", "api", "healthz", "static", "media", "admin", "signup", "login", "logout"}
)
ORGANIZATION_NAME_MAX_LENGTH = 200  # Organization.name's max_length
SLUG_BASE_MAX_LENGTH = 50  # leaves room for a "-NNN" suffix within Organization.slug's 60

# Active ISO 4217 currency codes (funds, metals and test codes left out).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
CURRENCY_CODES = frozenset(_ISO_4217.split())


@functools.cache
def timezone_names() -> frozenset[str]:
    """The IANA time zones this system knows (zoneinfo reads them from disk: cached)."""
    return frozenset(zoneinfo.available_timezones())


def _validate_organization_fields(*, name: str, timezone: str, currency: str) -> None:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Enter the organization's name."
    elif len(name) > ORGANIZATION_NAME_MAX_LENGTH:
        errors["name"] = f"Use at most {ORGANIZATION_NAME_MAX_LENGTH} characters."
    if timezone not in timezone_names():
        errors["timezone"] = f"“{timezone}” is not a known time zone (e.g. Europe/Paris)."
    if currency not in CURRENCY_CODES:
        errors["currency"] = f"“{currency}” is not an ISO 4217 currency code (e.g. EUR, USD)."
    if errors:
        raise ValidationError(errors)


def organization_slug(name: str) -> str:
    """A free, non-reserved slug from the name: "Acme" → "acme", then "acme-2", "acme-3"…"""
    base = slugify(name)[:SLUG_BASE_MAX_LENGTH].strip("-") or "organization"
    taken = set(
        Organization.objects.filter(Q(slug=base) | Q(slug__startswith=f"{base}-")).values_list(
            "slug", flat=True
        )
    )
    taken |= RESERVED_SLUGS
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def organization_create(*, name: str, timezone: str, currency: str, owner: User) -> Organization:
    """Create an organization with a unique slug and make `owner` its owner; audited."""
    name, timezone, currency = name.strip(), timezone.strip(), currency.strip().upper()
    _validate_organization_fields(name=name, timezone=timezone, currency=currency)
    attempts = 5
    with transaction.atomic():
        for attempt in range(attempts):
            try:
                with transaction.atomic():  # a concurrent sign-up may take the slug first
                    organization = Organization.objects.create(
                        name=name,
                        slug=organization_slug(name),
                        timezone=timezone,
                        currency=currency,
                    )
                break
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        with tenant_context(organization.pk, owner.pk):
            membership = Membership.objects.create(
                organization=organization, user=owner, role=Role.OWNER
            )
            audit_create(organization=organization, actor=owner, instance=organization)
            audit_create(organization=organization, actor=owner, instance=membership)
    return organization


def organization_update(
    *, organization: Organization, actor: User, name: str, timezone: str, currency: str
) -> dict[str, list[Any]]:
    """Change the name, time zone and currency (the slug never changes: URLs depend on it)."""
    name, timezone, currency = name.strip(), timezone.strip(), currency.strip().upper()
    _validate_organization_fields(name=name, timezone=timezone, currency=currency)
    fields = ["name", "timezone", "currency"]
    before = audit_snapshot(organization, fields)
    organization.name, organization.timezone, organization.currency = name, timezone, currency
    with transaction.atomic():
        organization.save(update_fields=fields)
        return audit_update(
            organization=organization, actor=actor, instance=organization, before=before
        )


# --- Users --------------------------------------------------------------------------------------


def user_create(*, email: str, password: str, full_name: str = "") -> User:
    """A new sign-in account. Password strength is checked by the form (Django's validators)."""
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this e-mail already exists."})
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=password, full_name=full_name.strip()
            )
    except IntegrityError as error:  # created concurrently
        raise ValidationError({"email": "An account with this e-mail already exists."}) from error


# --- Members ------------------------------------------------------------------------------------


def _actor_role(*, organization: Organization, actor: User) -> str:
    role = (
        Membership.objects.filter(organization=organization, user=actor, is_active=True)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise PermissionDenied("You are not an active member of this organization.")
    return role


def _lock_membership(*, organization: Organization, membership: Membership) -> Membership:
    return (
        Membership.objects.select_for_update()
        .select_related("user")
        .get(organization=organization, pk=membership.pk)
    )


def _ensure_another_active_owner(*, organization: Organization, membership: Membership) -> None:
    """The last active owner may not be demoted or deactivated (rows locked against races)."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.OWNER, is_active=True)
        .exclude(pk=membership.pk)
        .values_list("pk", flat=True)
    )
    if not owners:
        raise ValidationError(
            "This is the organization's last owner: make another member owner first."
        )


def membership_change_role(
    *, organization: Organization, actor: User, membership: Membership, role: str
) -> Membership:
    """Give a member another role. Only an owner grants, removes or changes the owner role."""
    if role not in Role.values:
        raise ValidationError({"role": "Choose a valid role."})
    actor_role = _actor_role(organization=organization, actor=actor)
    with transaction.atomic():
        membership = _lock_membership(organization=organization, membership=membership)
        if not can_assign(actor_role, membership.role):
            raise ValidationError({"role": "Only an owner can change an owner's role."})
        if not can_assign(actor_role, role):
            raise ValidationError({"role": "Only an owner can grant the owner role."})
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and membership.is_active:
            _ensure_another_active_owner(organization=organization, membership=membership)
        before = audit_snapshot(membership, ["role"])
        membership.role = role
        membership.save(update_fields=["role"])
        audit_update(organization=organization, actor=actor, instance=membership, before=before)
    return membership


def membership_deactivate(
    *, organization: Organization, actor: User, membership: Membership
) -> Membership:
    """Take away a member's access; their history stays. Not yourself, not the last owner."""
    if membership.user_id == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    actor_role = _actor_role(organization=organization, actor=actor)
    with transaction.atomic():
        membership = _lock_membership(organization=organization, membership=membership)
        if not can_assign(actor_role, membership.role):
            raise ValidationError("Only an owner can deactivate an owner.")
        if not membership.is_active:
            return membership
        if membership.role == Role.OWNER:
            _ensure_another_active_owner(organization=organization, membership=membership)
        before = audit_snapshot(membership, ["is_active"])
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit_update(organization=organization, actor=actor, instance=membership, before=before)
    return membership


def membership_reactivate(
    *, organization: Organization, actor: User, membership: Membership
) -> Membership:
    """Give a deactivated member their access back, with the role they had."""
    actor_role = _actor_role(organization=organization, actor=actor)
    with transaction.atomic():
        membership = _lock_membership(organization=organization, membership=membership)
        if not can_assign(actor_role, membership.role):
            raise ValidationError("Only an owner can reactivate an owner.")
        if membership.is_active:
            return membership
        before = audit_snapshot(membership, ["is_active"])
        membership.is_active = True
        membership.save(update_fields=["is_active"])
        audit_update(organization=organization, actor=actor, instance=membership, before=before)
    return membership


# --- Invitations --------------------------------------------------------------------------------

# The token hash is left out of the audit trail: it is a credential's fingerprint, not history.
INVITATION_AUDIT_FIELDS = ("email", "role", "invited_by", "expires_at", "accepted_at", "revoked_at")


def _revoke(*, organization: Organization, actor: User, invitation: Invitation) -> None:
    before = audit_snapshot(invitation, ["revoked_at"])
    invitation.revoked_at = dj_timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_update(organization=organization, actor=actor, instance=invitation, before=before)


def invitation_create(
    *,
    organization: Organization,
    actor: User,
    email: str,
    role: str,
    base_url: str | None = None,
) -> tuple[Invitation, str]:
    """Invite someone by e-mail; returns the invitation and its raw token (stored only hashed).

    The e-mail goes out from a Celery task once the transaction commits; `base_url` is the
    site's address for the accept link (default settings.SITE_URL). Inviting an address again
    revokes its earlier pending invitation, so only the newest link works.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": "Enter a valid e-mail address."}) from error
    if role not in Role.values:
        raise ValidationError({"role": "Choose a valid role."})
    actor_role = _actor_role(organization=organization, actor=actor)
    if not can_assign(actor_role, role):
        raise ValidationError({"role": "Only an owner can invite an owner."})
    if Membership.objects.filter(
        organization=organization, user__email__iexact=email, is_active=True
    ).exists():
        raise ValidationError({"email": f"{email} is already a member of this organization."})

    from crm.tasks import send_invitation_email  # tasks call services: import here, not above

    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        earlier = Invitation.objects.select_for_update().filter(
            organization=organization, email=email, accepted_at=None, revoked_at=None
        )
        for invitation in earlier:
            _revoke(organization=organization, actor=actor, invitation=invitation)
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            token_hash=invitation_token_hash(token),
            invited_by=actor,
            expires_at=dj_timezone.now()
            + datetime.timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.CREATE,
            instance=invitation,
            changes=audit_diff({}, audit_snapshot(invitation, INVITATION_AUDIT_FIELDS)),
        )
        transaction.on_commit(
            functools.partial(
                send_invitation_email.delay,
                organization_id=organization.pk,
                invitation_id=invitation.pk,
                token=token,
                base_url=base_url or getattr(settings, "SITE_URL", "http://localhost:8000"),
            )
        )
    return invitation, token


def invitation_send_email(*, invitation: Invitation, token: str, base_url: str) -> None:
    """Send the invitation with its accept link (called by the Celery task)."""
    organization = Organization.objects.get(pk=invitation.organization_id)
    path = reverse("invitation_accept", kwargs={"org_slug": organization.slug, "token": token})
    context = {
        "invitation": invitation,
        "organization": organization,
        "inviter": invitation.invited_by,
        "accept_url": base_url.rstrip("/") + path,
    }
    subject = " ".join(render_to_string("crm/email/invitation_subject.txt", context).split())
    body = render_to_string("crm/email/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])


def invitation_revoke(
    *, organization: Organization, actor: User, invitation: Invitation
) -> Invitation:
    """Cancel a pending invitation: its link stops working."""
    actor_role = _actor_role(organization=organization, actor=actor)
    if not can_assign(actor_role, invitation.role):
        raise ValidationError("Only an owner can revoke an invitation to become owner.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(
            organization=organization, pk=invitation.pk
        )
        if invitation.accepted_at is not None:
            raise ValidationError("This invitation has already been accepted.")
        if invitation.revoked_at is None:
            _revoke(organization=organization, actor=actor, invitation=invitation)
    return invitation


def invitation_problem(invitation: Invitation) -> str | None:
    """Why an invitation can no longer be used, in words for its page; None if it can."""
    if invitation.accepted_at is not None:
        return "This invitation has already been used."
    if invitation.revoked_at is not None:
        return "This invitation has been withdrawn."
    if invitation.expires_at <= dj_timezone.now():
        return "This invitation has expired."
    return None


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the organization with the invitation's role (reactivating a former member)."""
    organization = Organization.objects.get(pk=invitation.organization_id)
    with tenant_context(organization.pk, user.pk), transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(
            organization=organization, pk=invitation.pk
        )
        problem = invitation_problem(invitation)
        if problem:
            raise ValidationError(problem)
        if invitation.email.lower() != user.email.lower():
            raise ValidationError("This invitation was sent to another e-mail address.")
        membership = (
            Membership.objects.select_for_update()
            .filter(organization=organization, user=user)
            .first()
        )
        if membership is None:
            membership = Membership.objects.create(
                organization=organization, user=user, role=invitation.role
            )
            audit_create(organization=organization, actor=user, instance=membership)
        elif not membership.is_active:
            before = audit_snapshot(membership, ["role", "is_active"])
            membership.role, membership.is_active = invitation.role, True
            membership.save(update_fields=["role", "is_active"])
            audit_update(organization=organization, actor=user, instance=membership, before=before)
        before = audit_snapshot(invitation, ["accepted_at"])
        invitation.accepted_at = dj_timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_update(organization=organization, actor=user, instance=invitation, before=before)
    return membership
