"""Builders for API tests: keys made through the service, clients that send them."""

from typing import Any

from rest_framework.test import APIClient

from crm.api.services import api_key_create
from crm.models import ApiKey, Organization, User
from crm.tenancy import tenant_context

API = "/api/v1/"


def make_key(
    organization: Organization, user: User, scope: str = ApiKey.Scope.READ_WRITE, name: str = "Test"
) -> tuple[ApiKey, str]:
    with tenant_context(organization.pk):
        return api_key_create(organization=organization, actor=user, name=name, scope=scope)


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


def all_pages(client: APIClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of a cursor-paginated list, following `next`."""
    rows: list[dict[str, Any]] = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])
