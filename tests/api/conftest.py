"""API fixtures: read/write keys of tenants A and B (owners), and clients sending them."""

import pytest
from rest_framework.test import APIClient

from crm.models import ApiKey, Organization, User
from tests.api.helpers import key_client, make_key


@pytest.fixture
def key_a(org_a: Organization, owner_a: User) -> tuple[ApiKey, str]:
    return make_key(org_a, owner_a)


@pytest.fixture
def key_b(org_b: Organization, owner_b: User) -> tuple[ApiKey, str]:
    return make_key(org_b, owner_b)


@pytest.fixture
def api_a(key_a: tuple[ApiKey, str]) -> APIClient:
    return key_client(key_a[1])


@pytest.fixture
def api_b(key_b: tuple[ApiKey, str]) -> APIClient:
    return key_client(key_b[1])
