"""Role permissions for the API: the same PERMISSIONS table as the pages (crm.permissions).

A viewset names the permission of each action in `permission_map`; actions it does not name get
`<permission_resource>.view` for safe methods and `<permission_resource>.change` otherwise. A key
with read scope may only use safe methods.
"""

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from crm.models import ApiKey
from crm.permissions import PERMISSIONS


def required_permission(request: Request, view: Any) -> str:
    """The permission `view` needs for this request's action."""
    # From the request's method when the view maps it: DRF's OPTIONS metadata checks a cloned
    # PUT/POST request while view.action is "metadata".
    action_map = getattr(view, "action_map", None) or {}
    action = (
        action_map.get(request.method.lower())
        or getattr(view, "action", None)
        or request.method.lower()
    )
    permission_map: dict[str, str] = getattr(view, "permission_map", {})
    if action in permission_map:
        return permission_map[action]
    resource = getattr(view, "permission_resource", None)
    if resource is None:
        raise exceptions.PermissionDenied("This endpoint declares no permission.")
    permission = f"{resource}.view" if request.method in SAFE_METHODS else f"{resource}.change"
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}; add it to permission_map.")
    return permission


class RolePermission(BasePermission):
    """Refuses what the caller's role (or the key's scope) may not do.

    Without credentials: 401. Signed in without naming an organization: 400 would be unclear,
    so the answer is 403 explaining the X-Organization header.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership = getattr(request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied(
                "Name the organization in an X-Organization header (its slug), or use an API key."
            )
        if (
            isinstance(request.auth, ApiKey)
            and not request.auth.can_write
            and request.method not in SAFE_METHODS
        ):
            raise exceptions.PermissionDenied("This API key is read-only.")
        action_map = getattr(view, "action_map", None)
        method = request.method.lower()
        if (action_map is not None and method not in action_map) or (
            method not in getattr(view, "http_method_names", [method])
        ):
            return True  # the view answers 405 Method Not Allowed
        permission = required_permission(request, view)
        if not membership.has_permission(permission):
            raise exceptions.PermissionDenied(
                f"Your role ({membership.role}) may not do this ({permission})."
            )
        return True
