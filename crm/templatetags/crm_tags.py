"""Template helpers for tenancy: permission checks against the one role table."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def can(membership: Any, permission: str) -> bool:
    """{% if membership|can:"customers.change" %}: whether the member's role allows it."""
    return bool(membership) and membership.has_permission(permission)


@register.simple_tag(takes_context=True)
def query_without(context: dict[str, Any], *names: str) -> str:
    """The request's query string without the given parameters (for pagination links)."""
    params = context["request"].GET.copy()
    for name in names:
        params.pop(name, None)
    return str(params.urlencode())
