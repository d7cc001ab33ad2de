"""Roles and what each may do: the one place that defines it.

Views declare the permission they need with @requires(...); TenantMiddleware enforces it, and
refuses any organization view that declares none.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    SALES = "sales", "Sales"
    SERVICE = "service", "Service"
    VIEWER = "viewer", "Viewer"


ALL_ROLES = frozenset(Role)
STAFF_WHO_EDIT = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES, Role.SERVICE})
LEADS = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})
ADMINS = frozenset({Role.OWNER, Role.ADMIN})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "organization.view": ALL_ROLES,
    "organization.manage": ADMINS,
    "customers.view": ALL_ROLES,
    "customers.change": STAFF_WHO_EDIT,
    "customers.delete": LEADS,
    "customers.export": LEADS,
    "customers.import": LEADS,
    "members.view": ALL_ROLES,
    "members.manage": ADMINS,
    "custom_fields.manage": ADMINS,
    "audit.view": ADMINS,
    "api_keys.manage": ADMINS,
    "interactions.view": ALL_ROLES,
    "interactions.log": STAFF_WHO_EDIT,
    "cases.view": ALL_ROLES,
    "cases.change": STAFF_WHO_EDIT,
    "tasks.view": ALL_ROLES,
    "tasks.change": STAFF_WHO_EDIT,
    "tasks.delete": LEADS,  # any task; with tasks.change, members delete their own (services)
    "products.view": ALL_ROLES,
    "products.manage": LEADS,
    "webhooks.manage": ADMINS,
}

# Roles a member may grant or take away: nobody but an owner touches owners.
ASSIGNABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.OWNER: ALL_ROLES,
    Role.ADMIN: ALL_ROLES - {Role.OWNER},
}


def has_permission(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}; add it to crm.permissions.PERMISSIONS.")
    return role in PERMISSIONS[permission]


def can_assign(actor_role: str, target_role: str) -> bool:
    return target_role in ASSIGNABLE_ROLES.get(Role(actor_role), frozenset())


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


def requires(permission: str) -> Callable[[ViewFunc], ViewFunc]:
    """Declare the permission an organization view needs; the middleware checks it."""
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")

    def decorate(view: ViewFunc) -> ViewFunc:
        view.required_permission = permission  # type: ignore[attr-defined]
        return view

    return decorate


def organization_public(view: ViewFunc) -> ViewFunc:
    """Mark an organization view that non-members may open (an invitation's accept page)."""
    view.organization_public = True  # type: ignore[attr-defined]
    return view
