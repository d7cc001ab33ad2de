"""Who is calling the API and for which organization.

Two ways in, both ending with `request.organization` and `request.membership` set and the
tenant context (crm.tenancy) active for the rest of the request (TenantMiddleware resets it):

- `Authorization: Bearer tp_<org id>_<secret>`: an API key. The organization is the key's own;
  the key acts as the member who created it (who must still be an active member).
- A browser session: the organization is named by the `X-Organization: <slug>` header, and the
  user must be an active member of it (else 404, as for the pages).
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from crm import tenancy
from crm.middleware import activate_organization_timezone
from crm.models import ApiKey, Membership, Organization, User

KEY_PREFIX = "tp"
PREFIX_LENGTH = 8  # characters of the secret kept in clear (ApiKey.prefix) to find the key
LAST_USED_RESOLUTION = timedelta(minutes=1)
ORGANIZATION_HEADER = "HTTP_X_ORGANIZATION"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key(organization_id: int) -> tuple[str, str]:
    """A new key for the organization and its prefix: (tp_<org>_<43 random chars>, prefix)."""
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}_{organization_id}_{secret}", secret[:PREFIX_LENGTH]


def parse_key(key: str) -> tuple[int, str] | None:
    """(organization id, prefix) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1].isdigit():
        return None
    if len(parts[2]) < PREFIX_LENGTH:
        return None
    return int(parts[1]), parts[2][:PREFIX_LENGTH]


def activate(request: Request, organization: Organization, membership: Membership) -> None:
    """Make the organization the request's tenant, on both the DRF and the Django request."""
    tenancy.set_for_request(organization.pk, membership.user_id)
    for target in (request, request._request):
        target.organization = organization
        target.membership = membership
    activate_organization_timezone(organization)


def _active_membership(organization_id: int, user_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("organization", "user")
        .filter(user_id=user_id, is_active=True, user__is_active=True)
        .first()
        if tenancy.current_organization_id() == organization_id
        else None
    )


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`; a malformed, unknown or revoked key is refused (401)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        key = key.strip()
        parsed = parse_key(key)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        organization_id, prefix = parsed
        tenancy.set_for_request(organization_id, None)
        api_key = ApiKey.objects.filter(prefix=prefix).first()
        if api_key is None or not hmac.compare_digest(api_key.hashed_key, hash_key(key)):
            tenancy.set_for_request(None, None)
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked_at is not None:
            tenancy.set_for_request(None, None)
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        membership = _active_membership(organization_id, api_key.created_by_id)
        if membership is None:
            tenancy.set_for_request(None, None)
            raise exceptions.AuthenticationFailed(
                "The member who created this API key is no longer active; create a new key."
            )
        self._touch(api_key)
        activate(request, membership.organization, membership)
        return membership.user, api_key

    @staticmethod
    def _touch(api_key: ApiKey) -> None:
        """Record the use, at most once a minute (one cheap UPDATE, no audit entry)."""
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class OrganizationSessionAuthentication(SessionAuthentication):
    """A signed-in browser session (with CSRF), for the organization in `X-Organization`."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        slug = request.META.get(ORGANIZATION_HEADER, "").strip()
        if slug:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise exceptions.NotFound("No such organization.")
            tenancy.set_for_request(organization.pk, user.pk)
            membership = _active_membership(organization.pk, user.pk)
            if membership is None:
                tenancy.set_for_request(None, user.pk)
                raise exceptions.NotFound("No such organization.")
            activate(request, organization, membership)
        return result
