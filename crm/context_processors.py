"""Template context for the base layout: the organization, the member and the switcher."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from crm.models import Membership
from crm.selectors import memberships_of_user

_MEMBERSHIPS_ATTRIBUTE = "_tenancy_my_memberships"


def _my_memberships(request: HttpRequest) -> list[Membership]:
    """The switcher's memberships, read once per request.

    A page renders several templates with the request (the customer page's panels each run the
    context processors); only the layout shows the switcher, and fragments never do, so the
    query runs when a template first uses the list, and at most once per request.
    """
    memberships = getattr(request, _MEMBERSHIPS_ATTRIBUTE, None)
    if memberships is None:
        user = getattr(request, "user", None)
        memberships = (
            memberships_of_user(user=user) if user is not None and user.is_authenticated else []
        )
        setattr(request, _MEMBERSHIPS_ATTRIBUTE, memberships)
    return memberships


def tenancy(request: HttpRequest) -> dict[str, Any]:
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
        "my_memberships": SimpleLazyObject(lambda: _my_memberships(request)),
    }
