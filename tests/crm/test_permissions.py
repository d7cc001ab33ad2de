"""Every organization page declares its permission, and roles get exactly what PERMISSIONS says."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from crm.models import Organization, User
from crm.permissions import ADMINS, PERMISSIONS, Role, can_assign, has_permission
from crm.services import RESERVED_SLUGS
from tests.conftest import member_client

ORG_PREFIX = "<slug:org_slug>/"
SAMPLE_VALUES = {
    "int": "1",
    "str": "sample",
    "slug": "sample",
    "uuid": "0" * 8 + "-0000" * 3 + "-" + "0" * 12,
    "path": "sample",
}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        else:
            yield route, pattern


def organization_routes() -> list[tuple[str, URLPattern]]:
    routes = [
        (r, p) for r, p in walk(get_resolver("crm.urls").url_patterns) if r.startswith(ORG_PREFIX)
    ]
    assert len(routes) >= 10, "expected the organization pages in crm.urls"
    return routes


def sample_path(route: str, slug: str) -> str:
    """A concrete URL for a route: the organization's slug and sample values for the rest."""
    path = route.replace(ORG_PREFIX, f"{slug}/", 1)

    def value(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return SAMPLE_VALUES.get(converter, "sample")

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", value, path)


def is_public(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "organization_public", False)


def test_every_organization_view_declares_a_permission_or_is_public() -> None:
    undeclared = []
    for route, pattern in organization_routes():
        permission = getattr(pattern.callback, "required_permission", None)
        if permission is None and not is_public(pattern):
            undeclared.append(route)
        if permission is not None:
            assert permission in PERMISSIONS, f"{route}: unknown permission {permission}"
    assert undeclared == []


def test_only_the_invitation_page_is_public() -> None:
    public = [route for route, pattern in organization_routes() if is_public(pattern)]
    assert public == ["<slug:org_slug>/invitations/<str:token>/"]


def test_every_top_level_route_is_a_reserved_slug() -> None:
    """An organization's slug must never shadow a top-level page."""
    for route, _pattern in walk(get_resolver("crm.urls").url_patterns):
        if route.startswith(ORG_PREFIX) or route == "":
            continue
        first_segment = route.split("/", 1)[0]
        assert first_segment in RESERVED_SLUGS, route


def test_role_table() -> None:
    assert PERMISSIONS["organization.manage"] == ADMINS
    assert has_permission(Role.ADMIN, "members.manage")
    assert not has_permission(Role.MANAGER, "members.manage")
    assert can_assign(Role.OWNER, Role.OWNER)
    assert not can_assign(Role.ADMIN, Role.OWNER)
    assert can_assign(Role.ADMIN, Role.ADMIN)
    assert not can_assign(Role.MANAGER, Role.VIEWER)
    with pytest.raises(KeyError):
        has_permission(Role.OWNER, "no.such.permission")


SETTINGS_PAGES = [
    ("members", "members.view"),
    ("audit_log", "audit.view"),
    ("organization_settings", "organization.manage"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_for_settings_pages(role: Role, org_a: Organization) -> None:
    _user, client = member_client(org_a, role)
    for name, permission in SETTINGS_PAGES:
        response = client.get(reverse(name, kwargs={"org_slug": "acme"}))
        expected = 200 if role in PERMISSIONS[permission] else 403
        assert response.status_code == expected, (role, name)
    # The settings sub-navigation shows only what the role may open.
    page = client.get(reverse("members", kwargs={"org_slug": "acme"})).content.decode()
    assert ("Audit log</a>" in page) == has_permission(role, "audit.view")
    assert ("Organization</a>" in page) == has_permission(role, "organization.manage")


@pytest.mark.django_db
def test_a_non_member_gets_404_on_every_organization_page(
    org_a: Organization, client_b: Client
) -> None:
    for route, _pattern in organization_routes():
        url = sample_path(route, "acme")
        assert client_b.get(url).status_code == 404, url
        assert client_b.post(url).status_code == 404, url


@pytest.mark.django_db
def test_an_unknown_organization_is_404(client_a: Client) -> None:
    for route, _pattern in organization_routes():
        url = sample_path(route, "no-such-org")
        assert client_a.get(url).status_code == 404, url


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(org_a: Organization, owner_a: User) -> None:
    client = Client()
    for route, pattern in organization_routes():
        url = sample_path(route, "acme")
        response = client.get(url)
        if is_public(pattern):
            assert response.status_code == 404, url  # sample token: no such invitation
            continue
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url
