"""Test data builders. They write through the application's role inside the right tenant."""

import itertools
from typing import Any

from crm.models import Membership, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context

_sequence = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def make_organization(**fields: Any) -> Organization:
    slug = fields.pop("slug", None) or unique("org-")
    return Organization.objects.create(name=fields.pop("name", slug.title()), slug=slug, **fields)


def make_user(**fields: Any) -> User:
    email = fields.pop("email", None) or f"{unique('user')}@example.test"
    return User.objects.create_user(
        email=email, password=fields.pop("password", PASSWORD), **fields
    )


def make_member(organization: Organization, role: str = Role.OWNER, **user_fields: Any) -> User:
    user = make_user(**user_fields)
    with tenant_context(organization.pk):
        Membership.objects.create(organization=organization, user=user, role=role)
    return user
