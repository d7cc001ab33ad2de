"""The API's shared behaviour: error shape, transactions, idempotency, rate limit, schema, docs."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from crm.api.viewsets import TenantModelViewSet
from crm.models import AuditEntry, IdempotentRequest
from crm.tenancy import tenant_context
from customers.models import Customer
from interactions.models import Interaction
from tests.api.helpers import API, key_client, make_key
from tests.customers.helpers import add_customer

pytestmark = pytest.mark.django_db


def count(organization, model):
    with tenant_context(organization.pk):
        return model.objects.count()


def test_validation_errors_name_each_bad_field(api_a, org_a):
    response = api_a.post(
        API + "customers/",
        {"name": "", "emails": ["not-an-address"], "country": "Narnia", "kind": "robot"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid"
    assert set(body["fields"]) >= {"name", "country", "kind"}
    assert body["message"].startswith("Some fields are not valid")
    assert count(org_a, Customer) == 0


def test_service_validation_errors_become_400_with_fields(api_a, org_a):
    response = api_a.post(API + "customers/", {"name": "Ann", "emails": ["nope@"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["emails"]
    assert count(org_a, Customer) == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "customers/999999/", 404, "not_found"),
        ("delete", "interactions/1/", 405, "method_not_allowed"),
        ("get", "customers/?lifecycle_stage=nonsense", 400, "invalid"),
        ("get", "customers/?updated_since=yesterday", 400, "invalid"),
    ],
)
def test_every_error_has_the_same_shape(api_a, method, path, status, code):
    response = getattr(api_a, method)(API + path)
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_malformed_json_is_a_400_in_the_same_shape(api_a):
    response = api_a.generic(
        "POST", API + "customers/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_nothing_is_written_when_a_request_fails_halfway(api_a, org_a):
    """A case opened with a status it may not take: the case and its audit are rolled back."""
    customer = add_customer(org_a, "Ann")
    audits = count(org_a, AuditEntry)
    response = api_a.post(
        API + "cases/",
        {"customer": customer.pk, "subject": "Broken", "status": "open", "assignee": 999999},
        format="json",
    )
    assert response.status_code == 400
    assert count(org_a, AuditEntry) == audits
    assert count(org_a, Interaction) == 0


def test_an_idempotent_retry_returns_the_first_answer_and_writes_nothing(api_a, org_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-1001"}
    first = api_a.post(API + "customers/", {"name": "Ann"}, format="json", **headers)
    assert first.status_code == 201
    audits = count(org_a, AuditEntry)
    again = api_a.post(API + "customers/", {"name": "Ann"}, format="json", **headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert count(org_a, Customer) == 1
    assert count(org_a, AuditEntry) == audits
    assert count(org_a, IdempotentRequest) == 1


def test_the_same_idempotency_key_with_another_body_is_refused(api_a, org_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    assert (
        api_a.post(API + "customers/", {"name": "Ann"}, format="json", **headers).status_code == 201
    )
    response = api_a.post(API + "customers/", {"name": "Bob"}, format="json", **headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unprocessable"
    assert "Idempotency-Key" in response.json()["error"]["message"]
    assert count(org_a, Customer) == 1


def test_idempotency_keys_are_per_organization_and_credential(api_a, api_b, org_a, org_b, owner_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared"}
    assert (
        api_a.post(API + "customers/", {"name": "A"}, format="json", **headers).status_code == 201
    )
    assert (
        api_b.post(API + "customers/", {"name": "B"}, format="json", **headers).status_code == 201
    )
    _, other_key = make_key(org_a, owner_a, name="Other")
    other = key_client(other_key).post(API + "customers/", {"name": "A"}, format="json", **headers)
    assert other.status_code == 422
    assert count(org_a, Customer) == 1 and count(org_b, Customer) == 1


def test_a_failed_request_is_not_remembered_so_its_retry_runs(api_a, org_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
    assert api_a.post(API + "customers/", {"name": ""}, format="json", **headers).status_code == 400
    assert count(org_a, IdempotentRequest) == 0
    assert api_a.post(API + "customers/", {"name": ""}, format="json", **headers).status_code == 400
    ok = api_a.post(API + "customers/", {"name": "Fixed"}, format="json", **headers)
    assert ok.status_code == 201


def test_posts_without_a_key_are_not_deduplicated(api_a, org_a):
    for _ in range(2):
        assert api_a.post(API + "customers/", {"name": "Ann"}, format="json").status_code == 201
    assert count(org_a, Customer) == 2


def test_over_the_rate_limit_the_answer_is_429_with_retry_after(settings, api_a, api_b):
    settings.API_RATE_LIMIT = "3/min"
    for _ in range(3):
        assert api_a.get(API + "members/").status_code == 200
    response = api_a.get(API + "members/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"
    assert api_b.get(API + "members/").status_code == 200  # each key has its own budget


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    text = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/v1/customers/", "/api/v1/interactions/", "/api/v1/tasks/{id}/complete/"):
        assert f"{path}:" in text


def test_the_schema_is_served_to_anyone(db):
    response = Client().get(API + "schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Touchpoint API"
    assert "/api/v1/customers/" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "session"}


@pytest.mark.parametrize("page", ["docs/", "redoc/"])
def test_the_docs_load_nothing_from_another_host(db, page):
    response = Client().get(API + page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    external = re.findall(r"""(?:src|href)=["'](?:https?:)?//[^"']+""", html)
    assert external == []


def test_the_docs_assets_are_served(db):
    client = Client()
    html = client.get(API + "docs/").content.decode()
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html)
    assert assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_a_viewset_cannot_replace_the_tenant_filter():
    with pytest.raises(ImproperlyConfigured):

        class Leaky(TenantModelViewSet):
            def get_queryset(self):
                return Customer.all_tenants.all()


def test_stored_answers_are_hidden_from_other_tenants_by_rls(api_a, org_b):
    from django.db import connection

    headers = {"HTTP_IDEMPOTENCY_KEY": "secret-order"}
    assert (
        api_a.post(API + "customers/", {"name": "A"}, format="json", **headers).status_code == 201
    )
    with tenant_context(org_b.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_idempotentrequest")
        assert cursor.fetchone()[0] == 0
