"""Sign-in throttling: too many failures for one account or from one address lock it for a while.

After settings.SIGNIN_MAX_FAILURES failed attempts for the same e-mail OR from the same client
address within settings.SIGNIN_LOCKOUT_SECONDS, further attempts are refused (even with the
right password) for SIGNIN_LOCKOUT_SECONDS. Counters live in the shared cache (Redis), so every
web process sees them; Redis expires them. A successful sign-in clears the account's counter
only: an attacker cannot reset the address counter by signing in to their own account.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger("touchpoint.security")

KEY_PREFIX = "signin"


def clock() -> float:
    """The current Unix time; tests replace it to move past a lockout without sleeping."""
    return time.time()


def client_address(request: HttpRequest) -> str:
    """The client's address as the web server saw it (a proxy must set REMOTE_ADDR right)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _subjects(*, email: str | None, address: str | None) -> list[str]:
    subjects = []
    if email is not None:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        subjects.append(f"account:{digest}")
    if address is not None:
        subjects.append(f"address:{address}")
    return subjects


def _count_key(subject: str) -> str:
    return f"{KEY_PREFIX}:failures:{subject}"


def _lock_key(subject: str) -> str:
    return f"{KEY_PREFIX}:locked:{subject}"


def _clear(subjects: list[str]) -> None:
    cache.delete_many([key for s in subjects for key in (_count_key(s), _lock_key(s))])


def locked_until(*, email: str, address: str) -> float | None:
    """The Unix time until which sign-in is refused for this e-mail or address, or None."""
    subjects = _subjects(email=email, address=address)
    locks = cache.get_many([_lock_key(subject) for subject in subjects])
    now = clock()
    until: float | None = None
    for subject in subjects:
        value = locks.get(_lock_key(subject))
        if value is None:
            continue
        if float(value) <= now:
            _clear([subject])  # the window has passed: start afresh
            continue
        until = max(until or 0.0, float(value))
    return until


def _increment(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)  # the window starts at the first failure
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def record_failure(*, email: str, address: str) -> float | None:
    """Count a failed attempt; returns the lockout's end when this attempt triggered one."""
    window = int(settings.SIGNIN_LOCKOUT_SECONDS)
    limit = int(settings.SIGNIN_MAX_FAILURES)
    until: float | None = None
    counts = []
    for subject in _subjects(email=email, address=address):
        count = _increment(_count_key(subject), window)
        counts.append(count)
        if count >= limit:
            until = clock() + window
            cache.set(_lock_key(subject), until, timeout=window)
    logger.warning(
        "Failed sign-in for %s from %s (%d failures for the account, %d from the address)",
        email,
        address,
        *counts,
    )
    if until is not None:
        logger.warning("Sign-in locked for %s / %s for %d seconds", email, address, window)
    return until


def record_refused(*, email: str, address: str, until: float) -> None:
    """Log an attempt refused because of a lockout (it does not extend the lockout)."""
    logger.warning(
        "Refused sign-in for %s from %s: locked for %d more seconds",
        email,
        address,
        max(0, round(until - clock())),
    )


def record_success(*, email: str) -> None:
    """A correct sign-in clears the account's failures (not the address's)."""
    _clear(_subjects(email=email, address=None))


def lockout_message(until: float) -> str:
    minutes = max(1, math.ceil((until - clock()) / 60))
    unit = "minute" if minutes == 1 else "minutes"
    at = time.strftime("%H:%M UTC", time.gmtime(until))
    return (
        "Too many failed sign-in attempts. For your security, signing in is paused: "
        f"try again in {minutes} {unit} (after {at})."
    )
