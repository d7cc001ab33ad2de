"""Shared fixtures: a real PostgreSQL test database set up exactly as production, two
organizations with a member each, and clients signed in as them.

The test database is created and migrated by the owner role; the application's queries
(including every test's ORM calls on the `default` alias) run as the runtime role, so row-level
security is really exercised.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.test import Client

from crm.dbsetup import drop_database, setup_database
from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, make_member, make_organization


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> Iterator[None]:
    base_name = settings.DATABASES["owner"]["NAME"]
    # One database per test run, so runs side by side do not drop each other's.
    test_name = f"test_{base_name}_{os.getpid()}"
    with django_db_blocker.unblock():
        for alias in ("default", "owner"):
            connections[alias].close()
            settings.DATABASES[alias]["NAME"] = test_name
            connections[alias].settings_dict["NAME"] = test_name
        drop_database(test_name)
        setup_database(verbosity=0)
    yield
    with django_db_blocker.unblock():
        for alias in ("default", "owner"):
            connections[alias].close()
        drop_database(test_name)


@pytest.fixture(autouse=True)
def _clear_test_cache() -> Iterator[None]:
    yield
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def org_a(db: None) -> Organization:
    return make_organization(name="Acme Retail", slug="acme")


@pytest.fixture
def org_b(db: None) -> Organization:
    return make_organization(name="Bravo Stores", slug="bravo")


@pytest.fixture
def owner_a(org_a: Organization) -> User:
    return make_member(org_a, Role.OWNER, email="owner@acme.test", full_name="Ada Owner")


@pytest.fixture
def owner_b(org_b: Organization) -> User:
    return make_member(org_b, Role.OWNER, email="owner@bravo.test", full_name="Ben Owner")


@pytest.fixture
def client_a(owner_a: User) -> Client:
    client = Client()
    assert client.login(email=owner_a.email, password=PASSWORD)
    return client


@pytest.fixture
def client_b(owner_b: User) -> Client:
    client = Client()
    assert client.login(email=owner_b.email, password=PASSWORD)
    return client


@pytest.fixture
def in_org_a(org_a: Organization) -> Iterator[Organization]:
    """Run the test body as tenant A (for calling services and selectors directly)."""
    with tenant_context(org_a.pk):
        yield org_a


def member_client(organization: Organization, role: str) -> tuple[User, Client]:
    user = make_member(organization, role)
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return user, client
