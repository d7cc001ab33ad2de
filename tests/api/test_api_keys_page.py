"""The API keys settings page: admins create (shown once), list and revoke keys; audited."""

import pytest
from django.urls import reverse

from crm.api.authentication import hash_key
from crm.models import ApiKey, AuditEntry
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.api.helpers import API, key_client, make_key
from tests.conftest import member_client
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def url(org, name="api_keys", **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def test_an_admin_creates_a_key_that_is_shown_once_and_works(client_a, org_a, owner_a):
    response = client_a.post(
        url(org_a, "api_key_create"), {"name": "Webshop", "scope": "read_write"}
    )
    assert response.status_code == 201
    key = response.context["new_key"]
    html = response.content.decode()
    assert key in html and "will not be shown again" in html
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    with tenant_context(org_a.pk):
        api_key = ApiKey.objects.get()
        assert api_key.hashed_key == hash_key(key)
        assert (api_key.name, api_key.scope, api_key.created_by) == (
            "Webshop",
            "read_write",
            owner_a,
        )
        assert AuditEntry.objects.filter(object_type="crm.apikey", action="create").exists()
    listing = client_a.get(url(org_a))
    assert key not in listing.content.decode()
    assert "Webshop" in listing.content.decode()
    assert key_client(key).get(API + "members/").status_code == 200


def test_a_key_needs_a_name(client_a, org_a):
    response = client_a.post(url(org_a, "api_key_create"), {"name": " ", "scope": "read"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    with tenant_context(org_a.pk):
        assert not ApiKey.objects.exists()


def test_revoking_stops_the_key_and_is_audited(client_a, org_a, owner_a):
    api_key, key = make_key(org_a, owner_a, name="Call centre")
    response = client_a.post(url(org_a, "api_key_revoke", pk=api_key.pk))
    assert response.status_code == 302
    assert key_client(key).get(API + "members/").status_code == 401
    with tenant_context(org_a.pk):
        assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
        entry = AuditEntry.objects.get(object_type="crm.apikey", action="update")
        assert list(entry.changes) == ["revoked_at"]
    assert "Revoked" in client_a.get(url(org_a)).content.decode()


def test_another_organizations_key_cannot_be_revoked(client_a, org_a, org_b, owner_b):
    api_key, key = make_key(org_b, owner_b)
    assert client_a.post(url(org_a, "api_key_revoke", pk=api_key.pk)).status_code == 404
    assert key_client(key).get(API + "members/").status_code == 200


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES, Role.VIEWER])
def test_only_admins_manage_keys(org_a, role):
    _, client = member_client(org_a, role)
    assert client.get(url(org_a)).status_code == 403
    assert (
        client.post(url(org_a, "api_key_create"), {"name": "X", "scope": "read"}).status_code == 403
    )


def test_the_settings_nav_links_to_the_page_for_admins(client_a, org_a):
    html = client_a.get(reverse("members", kwargs={"org_slug": org_a.slug})).content.decode()
    assert url(org_a) in html


def test_the_page_queries_do_not_grow_with_the_keys(
    client_a, org_a, owner_a, django_assert_max_num_queries
):
    def add(count):
        for _ in range(count):
            make_key(org_a, make_member(org_a, Role.ADMIN))

    add(3)
    with django_assert_max_num_queries(20) as small:
        assert client_a.get(url(org_a)).status_code == 200
    add(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client_a.get(url(org_a)).status_code == 200
