"""Resolves the organization of a request from its URL and checks the member's permission."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from crm import tenancy
from crm.models import Membership, Organization

ORG_KWARG = "org_slug"


def activate_organization_timezone(organization: Organization) -> None:
    """Show and read times in the organization's time zone (stored times stay UTC)."""
    timezone.activate(organization.tzinfo)


class TenantMiddleware:
    """Sets the tenant of every request whose URL starts with /<org_slug>/.

    A visitor who is not signed in is sent to sign in; a user who is not an active member gets
    404; a member whose role lacks the view's declared permission gets 403. Organization views
    must declare a permission (crm.permissions.requires) or be marked public; any other is
    refused, so a new view cannot forget its check. The tenant is cleared when the request ends.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organization = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        token = tenancy.begin_request()
        try:
            return self.get_response(request)
        finally:
            tenancy.end_request(token)
            timezone.deactivate()

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        user = request.user
        user_id = user.pk if user.is_authenticated else None
        tenancy.set_for_request(None, user_id)
        slug = view_kwargs.pop(ORG_KWARG, None)
        if slug is None:
            return None

        organization = Organization.objects.filter(slug=slug).first()
        if getattr(view_func, "organization_public", False):
            if organization is None:
                raise Http404("No such organization.")
            tenancy.set_for_request(organization.pk, user_id)
            request.organization = organization  # type: ignore[attr-defined]
            activate_organization_timezone(organization)
            return None

        permission = getattr(view_func, "required_permission", None)
        if permission is None:
            raise ImproperlyConfigured(
                f"{view_func.__module__}.{view_func.__name__} is an organization view without "
                "a declared permission; decorate it with crm.permissions.requires()."
            )
        if user_id is None:
            return redirect_to_login(request.get_full_path())
        if organization is None:
            raise Http404("No such organization.")

        tenancy.set_for_request(organization.pk, user_id)
        membership = Membership.objects.filter(user_id=user_id, is_active=True).first()
        if membership is None:
            raise Http404("No such organization.")
        if not membership.has_permission(permission):
            raise PermissionDenied(f"Your role ({membership.role}) may not do this.")
        request.organization = organization  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        activate_organization_timezone(organization)
        return None
