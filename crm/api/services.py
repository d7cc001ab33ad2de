"""Business actions on API keys: create (the key is returned once, only its hash is kept) and
revoke; both recorded in the audit trail."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.api.authentication import generate_key, hash_key
from crm.models import ApiKey, Organization, User
from crm.services import audit_create, audit_snapshot, audit_update

NAME_MAX_LENGTH = 100


@transaction.atomic
def api_key_create(
    *, organization: Organization, actor: User, name: str, scope: str = ApiKey.Scope.READ
) -> tuple[ApiKey, str]:
    """A new key for the organization, acting as `actor`: (the row, the key to show once)."""
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the key after what will use it, e.g. Webshop."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"Use at most {NAME_MAX_LENGTH} characters."
    if scope not in ApiKey.Scope.values:
        errors["scope"] = "Choose read or read_write."
    if errors:
        raise ValidationError(errors)
    key, prefix = generate_key(organization.pk)
    while ApiKey.objects.filter(organization=organization, prefix=prefix).exists():
        key, prefix = generate_key(organization.pk)
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        hashed_key=hash_key(key),
        scope=scope,
        created_by=actor,
    )
    audit_create(organization=organization, actor=actor, instance=api_key)
    return api_key, key


@transaction.atomic
def api_key_revoke(*, organization: Organization, actor: User | None, api_key: ApiKey) -> ApiKey:
    """Stop the key working, at once and for good (revoking twice changes nothing)."""
    if api_key.revoked_at is not None:
        return api_key
    before = audit_snapshot(api_key, ["revoked_at"])
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_update(organization=organization, actor=actor, instance=api_key, before=before)
    return api_key
