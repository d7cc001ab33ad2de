"""Sign-in throttling: per account and per client address, refused even with the right password."""

import itertools
import logging
import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from crm import signin_throttle
from crm.models import User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LIMIT = 5
WINDOW = 60
LOCKED = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def throttle_cache() -> Iterator[str]:
    """Throttle settings for these tests, and a cache key prefix of this run's own, so that test
    runs in parallel (which clear "tp-test:*" after each test) cannot wipe these counters."""
    prefix = f"tp-test-throttle-{os.getpid()}"
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    with override_settings(CACHES=caches, SIGNIN_MAX_FAILURES=LIMIT, SIGNIN_LOCKOUT_SECONDS=WINDOW):
        yield prefix
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def alice(db: None) -> User:
    return make_user(email="alice@example.test")


def attempt(email: str, password: str, address: str = "10.0.0.1") -> tuple[int, str, Client]:
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"email": email, "password": password})
    return response.status_code, response.content.decode(), client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


_addresses = itertools.count(1)


def fail(email: str, times: int, address: str | None = None) -> None:
    """Failed attempts, each from a fresh address unless one is given (so only the account's
    counter adds up)."""
    for _ in range(times):
        n = next(_addresses)
        source = address or f"10.200.{n // 256 % 256}.{n % 256}"
        status, _page, client = attempt(email, "wrong-password", source)
        assert status == 200 and not signed_in(client)


def test_five_failures_lock_the_account_even_with_the_right_password(alice: User) -> None:
    fail("alice@example.test", LIMIT - 1)
    status, page, client = attempt("alice@example.test", PASSWORD)
    assert signed_in(client)  # four failures are not yet a lockout (and success resets)

    fail("Alice@Example.test", LIMIT)  # e-mail case does not matter
    status, page, client = attempt("alice@example.test", PASSWORD)
    assert status == 429
    assert LOCKED in page and "try again in 1 minute" in page
    assert not signed_in(client)
    # From another address too: the account itself is locked.
    status, page, client = attempt("alice@example.test", PASSWORD, address="192.0.2.77")
    assert status == 429 and LOCKED in page and not signed_in(client)


def test_the_failure_that_triggers_the_lockout_says_so(alice: User) -> None:
    fail("alice@example.test", LIMIT - 1)
    _status, page, _client = attempt("alice@example.test", "wrong-password")
    assert "The e-mail or password is not right." in page
    assert LOCKED in page


def test_many_accounts_from_one_address_lock_the_address(db: None) -> None:
    users = [make_user() for _ in range(LIMIT + 1)]
    for user in users[:LIMIT]:
        fail(user.email, 1, address="203.0.113.9")

    status, page, client = attempt(users[LIMIT].email, PASSWORD, address="203.0.113.9")
    assert status == 429 and LOCKED in page and not signed_in(client)
    # The accounts themselves are not locked: from elsewhere their owners sign in.
    status, page, client = attempt(users[LIMIT].email, PASSWORD, address="198.51.100.1")
    assert signed_in(client)
    status, page, client = attempt(users[0].email, PASSWORD, address="198.51.100.2")
    assert signed_in(client)


def test_a_successful_sign_in_resets_the_account_counter(alice: User) -> None:
    fail("alice@example.test", LIMIT - 1, address="10.0.0.1")
    _status, _page, client = attempt("alice@example.test", PASSWORD, address="10.0.0.2")
    assert signed_in(client)
    fail("alice@example.test", LIMIT - 1, address="10.0.0.3")
    # 8 failures in all, but never 5 since the last success: still allowed.
    _status, _page, client = attempt("alice@example.test", PASSWORD, address="10.0.0.4")
    assert signed_in(client)


def test_success_does_not_reset_the_address_counter(alice: User, db: None) -> None:
    mallory = make_user(email="mallory@example.test")
    fail("alice@example.test", LIMIT - 1, address="10.9.9.9")
    _status, _page, client = attempt(mallory.email, PASSWORD, address="10.9.9.9")
    assert signed_in(client)
    fail("alice@example.test", 1, address="10.9.9.9")
    status, page, _client = attempt(mallory.email, PASSWORD, address="10.9.9.9")
    assert status == 429 and LOCKED in page


def test_the_lockout_expires_after_the_window(
    alice: User, throttle_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail("alice@example.test", LIMIT)
    assert attempt("alice@example.test", PASSWORD)[0] == 429

    # Redis itself drops the lock when the window ends...
    redis = cache._cache.get_client()  # type: ignore[attr-defined]
    lock_keys = list(redis.scan_iter(f"{throttle_cache}:*signin:locked:*"))
    assert len(lock_keys) == 1  # the account (the address had failures for one account only)
    assert 0 < redis.ttl(lock_keys[0]) <= WINDOW

    # ...and once the clock is past it, the right password works again.
    now = signin_throttle.clock()
    monkeypatch.setattr(signin_throttle, "clock", lambda: now + WINDOW - 5)
    assert attempt("alice@example.test", PASSWORD)[0] == 429
    monkeypatch.setattr(signin_throttle, "clock", lambda: now + WINDOW + 1)
    _status, _page, client = attempt("alice@example.test", PASSWORD)
    assert signed_in(client)
    assert signin_throttle.locked_until(email="alice@example.test", address="10.0.0.1") is None


def test_failures_are_logged_with_email_and_address(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="touchpoint.security"):
        fail("alice@example.test", 1, address="198.51.100.23")
    [record] = [r for r in caplog.records if r.name == "touchpoint.security"]
    assert "alice@example.test" in record.getMessage()
    assert "198.51.100.23" in record.getMessage()


def test_counters_live_in_the_shared_cache(alice: User, throttle_cache: str) -> None:
    fail("alice@example.test", 2, address="10.1.1.1")
    redis = cache._cache.get_client()  # type: ignore[attr-defined]
    keys = {key.decode() for key in redis.scan_iter(f"{throttle_cache}:*")}
    assert any(":signin:failures:account:" in key for key in keys)
    assert any(key.endswith(":signin:failures:address:10.1.1.1") for key in keys)
    # The e-mail is not stored in clear in the key.
    assert not any("alice" in key for key in keys)


def test_refused_attempts_are_logged_and_do_not_extend_the_lockout(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    fail("alice@example.test", LIMIT)
    until = signin_throttle.locked_until(email="alice@example.test", address="192.0.2.1")
    with caplog.at_level(logging.WARNING, logger="touchpoint.security"):
        for _ in range(3):
            assert attempt("alice@example.test", PASSWORD, address="192.0.2.1")[0] == 429
    refused = [r.getMessage() for r in caplog.records if "Refused sign-in" in r.getMessage()]
    assert len(refused) == 3 and "alice@example.test from 192.0.2.1" in refused[0]
    assert signin_throttle.locked_until(email="alice@example.test", address="192.0.2.1") == until
