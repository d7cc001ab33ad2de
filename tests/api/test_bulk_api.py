"""POST /api/v1/interactions/bulk and /api/v1/customers/bulk through the real authentication."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from crm.models import ApiKey, AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.api import bulk as bulk_module
from customers.ingest import MAX_RECORDS
from customers.models import Customer
from interactions.models import Interaction, PurchaseLine
from tests.api.helpers import API, key_client, make_key
from tests.conftest import member_client
from tests.customers.helpers import add_customer
from tests.interactions.helpers import add_product

pytestmark = pytest.mark.django_db

INTERACTIONS = API + "interactions/bulk"
CUSTOMERS = API + "customers/bulk"


def event(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "source": "pos",
        "external_id": external_id,
        "kind": "store_visit",
        "occurred_at": "2026-02-01T09:00:00Z",
        "customer_external_id": "C-1",
        **fields,
    }


def post(client: APIClient, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, body, format="json", **headers)


def stored(organization: Organization) -> list[Interaction]:
    with tenant_context(organization.pk):
        return list(Interaction.objects.order_by("id"))


@pytest.fixture
def jane(org_a: Organization) -> Customer:
    return add_customer(org_a, "Jane", external_id="C-1", emails=["jane@example.com"])


def test_bulk_interactions_with_an_api_key(
    api_a: APIClient, org_a: Organization, owner_a: User, jane: Customer
) -> None:
    add_product(org_a, "MUG", "4.00")
    body = {
        "records": [
            event("1"),
            event("2", kind="purchase", lines=[{"sku": "MUG", "quantity": 3}]),
            event("3", occurred_at="yesterday"),
        ]
    }
    response = post(api_a, INTERACTIONS, body)
    assert response.status_code == 200, response.content
    data = response.json()
    rows = stored(org_a)
    assert {k: data[k] for k in ("created", "updated", "unchanged", "errors")} == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": 1,
    }
    assert data["results"] == [
        {"index": 0, "status": "created", "id": rows[0].pk},
        {"index": 1, "status": "created", "id": rows[1].pk},
        {
            "index": 2,
            "status": "error",
            "errors": {
                "occurred_at": [
                    "“yesterday” is not a date and time; use ISO 8601, "
                    "e.g. 2024-05-01T14:30:00+02:00."
                ]
            },
        },
    ]
    with tenant_context(org_a.pk):
        assert rows[1].amount == 12 and PurchaseLine.objects.count() == 1
        entry = AuditEntry.objects.get(object_type="interactions.interaction")
        assert entry.actor_id == owner_a.pk  # the key acts as the member who created it

    again = post(api_a, INTERACTIONS, body).json()
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged", "error"]
    assert len(stored(org_a)) == 2


def test_customers_are_created_when_asked(api_a: APIClient, org_a: Organization) -> None:
    body = {
        "records": [event("1", customer_external_id="N-1", customer_name="Nora")],
        "create_customers": True,
    }
    response = post(api_a, INTERACTIONS, body)
    assert response.json()["created"] == 1
    with tenant_context(org_a.pk):
        assert Customer.objects.get(external_id="N-1").name == "Nora"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"records": []}, "records"),
        ({"records": "nope"}, "records"),
        ({}, "records"),
        ({"records": [event("1")], "create_customers": "yes"}, "create_customers"),
        ({"records": [event("1"), "not an object"]}, "records.1"),
    ],
)
def test_a_malformed_call_is_a_400_in_the_one_error_shape_and_writes_nothing(
    api_a: APIClient, org_a: Organization, jane: Customer, body: dict[str, Any], field: str
) -> None:
    response = post(api_a, INTERACTIONS, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert stored(org_a) == []


def test_a_body_that_is_not_an_object_is_a_400(api_a: APIClient, jane: Customer) -> None:
    response = post(api_a, INTERACTIONS, [event("1")])
    assert response.status_code == 400
    assert "records" in response.json()["error"]["message"]


def test_more_than_5000_records_are_refused(
    api_a: APIClient, org_a: Organization, jane: Customer
) -> None:
    response = post(
        api_a, INTERACTIONS, {"records": [event(str(n)) for n in range(MAX_RECORDS + 1)]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["records"] == [
        f"Send at most {MAX_RECORDS} records a call (this has {MAX_RECORDS + 1})."
    ]
    assert stored(org_a) == []


def test_a_body_over_the_size_limit_is_a_413(
    api_a: APIClient, org_a: Organization, jane: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_module, "MAX_BODY_BYTES", 1_000)
    response = post(api_a, INTERACTIONS, {"records": [event(str(n)) for n in range(20)]})
    assert response.status_code == 413
    assert response.json()["error"]["message"]
    assert stored(org_a) == []


def test_without_credentials_401_and_a_read_only_key_403(
    org_a: Organization, owner_a: User, jane: Customer
) -> None:
    assert post(APIClient(), INTERACTIONS, {"records": [event("1")]}).status_code == 401
    _, read_key = make_key(org_a, owner_a, scope=ApiKey.Scope.READ)
    response = post(key_client(read_key), INTERACTIONS, {"records": [event("1")]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    response = post(key_client(read_key), CUSTOMERS, {"records": [{"name": "X"}]})
    assert response.status_code == 403
    assert stored(org_a) == []


def test_role_permissions_apply(org_a: Organization, jane: Customer) -> None:
    viewer, _ = member_client(org_a, Role.VIEWER)
    _, viewer_key = make_key(org_a, viewer)
    response = post(key_client(viewer_key), INTERACTIONS, {"records": [event("1")]})
    assert response.status_code == 403
    assert "interactions.log" in response.json()["error"]["message"]
    sales, _ = member_client(org_a, Role.SALES)
    _, sales_key = make_key(org_a, sales)
    assert (
        post(key_client(sales_key), INTERACTIONS, {"records": [event("1")]}).json()["created"] == 1
    )


def test_a_browser_session_names_the_organization(
    client_a: Any, org_a: Organization, jane: Customer
) -> None:
    response = client_a.post(
        INTERACTIONS,
        {"records": [event("1")]},
        content_type="application/json",
        HTTP_X_ORGANIZATION=org_a.slug,
    )
    assert response.status_code == 200 and response.json()["created"] == 1


def test_idempotency_key_replays_the_first_answer(
    api_a: APIClient, org_a: Organization, jane: Customer
) -> None:
    body = {"records": [event("1"), event("2")]}
    first = post(api_a, INTERACTIONS, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    second = post(api_a, INTERACTIONS, body, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.json()["created"] == 2
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert len(stored(org_a)) == 2


def test_tenant_a_key_never_reaches_tenant_b(
    api_a: APIClient, org_a: Organization, org_b: Organization
) -> None:
    add_customer(org_b, "Bravo's", external_id="B-1", emails=["b@bravo.test"])
    body = {
        "records": [
            event("1", customer_external_id="B-1"),
            event("2", customer_external_id=None, customer_email="b@bravo.test"),
        ]
    }
    body["records"][1].pop("customer_external_id")
    data = post(api_a, INTERACTIONS, body).json()
    assert [r["status"] for r in data["results"]] == ["error", "error"]
    customers = post(api_a, CUSTOMERS, {"records": [{"external_id": "B-1", "city": "Leeds"}]})
    assert customers.json()["results"][0]["status"] == "error"  # no match, and no name to create
    with tenant_context(org_b.pk):
        assert Interaction.objects.count() == 0
        assert Customer.objects.get().city == ""


def test_bulk_interactions_take_a_bounded_number_of_queries(
    api_a: APIClient, org_a: Organization, jane: Customer, django_assert_max_num_queries: Any
) -> None:
    for size in (10, 40):
        body = {"records": [event(f"{size}-{n}") for n in range(size)]}
        with django_assert_max_num_queries(14):
            assert post(api_a, INTERACTIONS, body).json()["created"] == size


def test_bulk_customers_upsert(api_a: APIClient, org_a: Organization, jane: Customer) -> None:
    body = {
        "records": [
            {"external_id": "C-1", "city": "York"},
            {"name": "Nina", "emails": ["nina@example.com"]},
            {"name": "Bad", "emails": ["nope"]},
        ]
    }
    data = post(api_a, CUSTOMERS, body).json()
    assert [r["status"] for r in data["results"]] == ["updated", "created", "error"]
    assert data["results"][2]["errors"] == {"emails": ["“nope” is not a valid e-mail address."]}
    assert (data["updated"], data["created"], data["errors"]) == (1, 1, 1)
    again = post(api_a, CUSTOMERS, body).json()
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged", "error"]
    with tenant_context(org_a.pk):
        jane.refresh_from_db()
        assert jane.city == "York"


def test_the_schema_documents_both_endpoints(client: Any) -> None:
    response = client.get(API + "schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/api/v1/interactions/bulk"]
    assert "post" in paths["/api/v1/customers/bulk"]


def test_options_describes_the_body(api_a: APIClient) -> None:
    for url in (INTERACTIONS, CUSTOMERS):
        response = api_a.options(url)
        assert response.status_code == 200, response.content
        assert "records" in response.json()["actions"]["POST"]


def test_text_postgresql_cannot_store_is_refused_per_record_and_quoted_safely(
    api_a: APIClient, org_a: Organization, jane: Customer
) -> None:
    """NUL characters and unpaired surrogates would make PostgreSQL refuse the row (or the
    stored answer of an Idempotency-Key): each is that record's error, and the answer quotes
    them escaped."""
    records = [
        event("1", subject="a\x00b"),
        event("2", **{"colo\x00ur": 1}),
        event("3", kind="\ud800", metadata={"k": "\x00"}),
        event("4"),
    ]
    body = json.dumps({"records": records})  # ASCII, with \u escapes as a client sends them
    response = api_a.post(
        INTERACTIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="nul-1"
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["error", "error", "error", "created"]
    assert "NUL" in results[0]["errors"]["subject"][0]
    assert results[1]["errors"] == {"colo\\u0000ur": ["Unknown field."]}
    assert set(results[2]["errors"]) == {"kind", "metadata"}
    assert "\\ud800" in results[2]["errors"]["kind"][0]
    again = api_a.post(
        INTERACTIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="nul-1"
    )
    assert again.json() == response.json()
    assert [i.external_id for i in stored(org_a)] == ["4"]


def test_a_body_over_djangos_upload_limit_works_with_an_idempotency_key(
    api_a: APIClient, org_a: Organization, jane: Customer, settings: Any
) -> None:
    """Bulk bodies may pass DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): the limit is MAX_BODY_BYTES."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = {"records": [event(str(n)) for n in range(20)]}
    first = post(api_a, INTERACTIONS, body, HTTP_IDEMPOTENCY_KEY="big-1")
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 20
    second = post(api_a, INTERACTIONS, body, HTTP_IDEMPOTENCY_KEY="big-1")
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"


def test_the_path_with_a_trailing_slash_is_not_the_bulk_endpoint(
    api_a: APIClient, org_a: Organization, jane: Customer
) -> None:
    response = post(api_a, INTERACTIONS + "/", {"records": [event("1")]})
    assert response.status_code in (404, 405)
    assert stored(org_a) == []


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (API + "customers/", {"name": "Ann\u0000Lee"}, "name"),
        (
            API + "customers/",
            {"name": "Ann", "custom_fields": {"k\u0000": 1}},
            "custom_fields.k\u0000",
        ),
        (API + "interactions/", {"kind": "note", "metadata": {"a": ["\ud800"]}}, "metadata.a.0"),
    ],
)
def test_text_postgresql_cannot_store_is_a_400_naming_the_field_and_nothing_is_written(
    api_a: APIClient, org_a: Organization, jane: Customer, url: str, body: Any, field: str
) -> None:
    """Outside the bulk endpoints (which answer per record), such text refuses the request."""
    if url.endswith("interactions/"):
        body = {**body, "customer": jane.pk}
    with tenant_context(org_a.pk):
        before = (Customer.objects.count(), Interaction.objects.count(), AuditEntry.objects.count())
    response = api_a.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    errors = response.json()["error"]["fields"]
    assert list(errors) == [field]
    assert "NUL" in errors[field][0] or "surrogates" in errors[field][0]
    with tenant_context(org_a.pk):
        after = (Customer.objects.count(), Interaction.objects.count(), AuditEntry.objects.count())
    assert after == before
