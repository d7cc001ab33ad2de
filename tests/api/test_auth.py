"""API authentication: bearer keys (hashed, scoped, revocable) and sessions with X-Organization."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from crm import tenancy
from crm.api.authentication import hash_key, parse_key
from crm.models import ApiKey, Membership
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from tests.api.helpers import API, key_client, make_key, results
from tests.conftest import member_client
from tests.customers.helpers import add_customer

pytestmark = pytest.mark.django_db


def error(response):
    return response.json()["error"]


def test_a_bearer_key_reads_its_own_organization_only(key_a, api_a, org_a, org_b, owner_b):
    add_customer(org_a, "Ann of A")
    add_customer(org_b, "Bob of B")
    rows = results(api_a.get(API + "customers/"))
    assert [row["name"] for row in rows] == ["Ann of A"]
    assert tenancy.current_organization_id() is None  # reset when the request ended


def test_the_key_is_stored_hashed_and_names_its_organization(key_a, org_a):
    api_key, key = key_a
    assert key.startswith(f"tp_{org_a.pk}_")
    assert api_key.hashed_key == hash_key(key) != key
    assert parse_key(key) == (org_a.pk, api_key.prefix)
    assert key not in str(ApiKey.all_tenants.filter(pk=api_key.pk).values().first())


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer ",
        "Bearer nonsense",
        "Bearer tp_x_abcdefghijkl",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_missing_or_malformed_credentials_get_401(org_a, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(API + "customers/")
    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_gets_401(key_a):
    _, key = key_a
    response = key_client(key[:-4] + "AAAA").get(API + "customers/")
    assert response.status_code == 401
    assert error(response)["message"] == "Invalid API key."


def test_a_key_pointed_at_another_organization_gets_401(key_a, org_a, org_b, owner_b):
    make_key(org_b, owner_b)
    _, key = key_a
    tampered = key.replace(f"tp_{org_a.pk}_", f"tp_{org_b.pk}_", 1)
    assert key_client(tampered).get(API + "customers/").status_code == 401


def test_a_revoked_key_gets_401(key_a, api_a, org_a):
    api_key, _ = key_a
    with tenant_context(org_a.pk):
        ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    response = api_a.get(API + "customers/")
    assert response.status_code == 401
    assert "revoked" in error(response)["message"]


def test_a_key_stops_when_its_creator_leaves(key_a, api_a, org_a, owner_a):
    with tenant_context(org_a.pk):
        Membership.objects.filter(user=owner_a).update(is_active=False)
    assert api_a.get(API + "customers/").status_code == 401


def test_a_read_key_may_read_but_not_write(org_a, owner_a):
    _, key = make_key(org_a, owner_a, scope=ApiKey.Scope.READ)
    client = key_client(key)
    assert client.get(API + "customers/").status_code == 200
    response = client.post(API + "customers/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert error(response) == {"code": "permission_denied", "message": "This API key is read-only."}
    with tenant_context(org_a.pk):
        assert not Customer.objects.exists()


def test_last_used_is_recorded_at_most_once_a_minute(key_a, api_a, org_a):
    api_key, _ = key_a
    assert api_key.last_used_at is None
    api_a.get(API + "members/")
    with tenant_context(org_a.pk):
        first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    api_a.get(API + "members/")
    with tenant_context(org_a.pk):
        assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
        earlier = first - datetime.timedelta(minutes=2)
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=earlier)
    api_a.get(API + "members/")
    with tenant_context(org_a.pk):
        assert ApiKey.objects.get(pk=api_key.pk).last_used_at > earlier


def test_a_session_names_its_organization_in_a_header(client_a, org_a, org_b):
    add_customer(org_a, "Ann of A")
    response = client_a.get(API + "customers/", HTTP_X_ORGANIZATION=org_a.slug)
    assert [row["name"] for row in results(response)] == ["Ann of A"]


def test_a_session_without_the_header_is_told_to_name_the_organization(client_a):
    response = client_a.get(API + "customers/")
    assert response.status_code == 403
    assert "X-Organization" in error(response)["message"]


def test_a_session_in_an_organization_it_is_not_member_of_gets_404(client_a, org_b):
    add_customer(org_b, "Bob of B")
    for slug in (org_b.slug, "no-such-org"):
        response = client_a.get(API + "customers/", HTTP_X_ORGANIZATION=slug)
        assert response.status_code == 404
        assert error(response)["code"] == "not_found"


def test_session_writes_need_the_csrf_token(owner_a, org_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_a)
    response = client.post(
        API + "customers/",
        {"name": "Csrf"},
        content_type="application/json",
        HTTP_X_ORGANIZATION=org_a.slug,
    )
    assert response.status_code == 403
    assert "CSRF" in error(response)["message"]


def test_a_viewer_may_read_but_not_write(org_a):
    _, client = member_client(org_a, Role.VIEWER)
    headers = {"HTTP_X_ORGANIZATION": org_a.slug}
    assert client.get(API + "customers/", **headers).status_code == 200
    response = client.post(
        API + "customers/", {"name": "X"}, content_type="application/json", **headers
    )
    assert response.status_code == 403
    assert "viewer" in error(response)["message"]


def test_api_key_rows_are_hidden_from_other_tenants_by_rls(key_a, org_b):
    with tenant_context(org_b.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_apikey")
        assert cursor.fetchone()[0] == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_apikey")
        assert cursor.fetchone()[0] == 0


def test_a_keys_organization_ignores_the_organization_header(api_a, org_a, org_b, owner_b):
    add_customer(org_a, "Ann of A")
    add_customer(org_b, "Bob of B")
    response = api_a.get(API + "customers/", HTTP_X_ORGANIZATION=org_b.slug)
    assert [row["name"] for row in results(response)] == ["Ann of A"]
