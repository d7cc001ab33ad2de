"""/healthz: the load balancer's and `make run`'s readiness check of PostgreSQL and Redis."""

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: connecting is refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.fixture
def unreachable_redis() -> Iterator[None]:
    with override_settings(CACHES=UNREACHABLE_REDIS):
        # override_settings resets the cache handlers; make sure none still points at the real one.
        assert caches["default"]._servers == ["redis://127.0.0.1:1/0"]
        yield


def test_healthz_reports_database_and_redis_ok(client: Client, db: None) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_naming_redis_when_redis_is_unreachable(
    client: Client, db: None, unreachable_redis: None
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ConnectionError")


def test_healthz_answers_get_only(client: Client, db: None) -> None:
    assert client.post("/healthz").status_code == 405
