"""Template context for the base layout: the organization, the member and the switcher."""

from typing import Any

from django.http import HttpRequest

from crm.selectors import memberships_of_user


def tenancy(request: HttpRequest) -> dict[str, Any]:
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "organization": organization,
        "membership": membership,
        "my_memberships": (
            memberships_of_user(user=user) if user is not None and user.is_authenticated else []
        ),
    }
