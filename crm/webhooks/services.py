"""Webhooks: registering endpoints, publishing events to them, and delivering each event.

Apps call `webhook_event_publish` from their services (never from signals). After the
transaction commits it creates one delivery per active endpoint of the organization that
subscribes to the event and queues the Celery task, which POSTs the signed JSON and retries
with exponential backoff (see webhook_delivery_attempt).
"""

import datetime
import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.utils import timezone

from crm.models import AuditEntry, Organization, User
from crm.services import (
    _json_value,
    audit_diff,
    audit_record,
    audit_snapshot,
    audit_update,
)
from crm.tenancy import current_user_id, tenant_context
from crm.webhooks import events as webhook_events
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.webhooks.net import PostResult, post_json, url_problem

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS_PER_ORGANIZATION = 20
# An attempt in flight keeps its claim this much longer than the HTTP timeout.
CLAIM_MARGIN = datetime.timedelta(seconds=30)
# How late an attempt may be before the sweeper queues it again (see webhook_requeue_overdue).
OVERDUE_AFTER = datetime.timedelta(minutes=2)
REQUEUE_BATCH = 500
# The secret is a credential: the audit trail records that it changed, never its value.
ENDPOINT_AUDIT_FIELDS = ("url", "description", "events", "active", "disabled_reason")
# Fields left out of event data: the tenant (in the envelope) and derived search columns.
_DATA_EXCLUDED_FIELDS = frozenset({"organization", "search_document"})

_url_validator = URLValidator(schemes=["http", "https"])
# The events an organization's active endpoints subscribe to, cached so that most writes (CSV
# imports, for one) cost a cache read instead of a query when nobody listens.
SUBSCRIPTIONS_CACHE_SECONDS = 60


def _subscriptions_key(organization_id: int) -> str:
    return f"webhooks:subscribed:{organization_id}"


def _subscribed_events(organization: Organization) -> frozenset[str]:
    key = _subscriptions_key(organization.pk)
    cached = cache.get(key)
    if cached is None:
        rows = WebhookEndpoint.objects.filter(organization=organization, active=True).values_list(
            "events", flat=True
        )
        cached = sorted({event for subscribed in rows for event in subscribed})
        cache.set(key, cached, SUBSCRIPTIONS_CACHE_SECONDS)
    return frozenset(cached)


def _forget_subscriptions(organization: Organization) -> None:
    """Endpoints changed: drop the cached subscriptions now and again after the commit."""
    key = _subscriptions_key(organization.pk)
    cache.delete(key)
    transaction.on_commit(functools.partial(cache.delete, key))


# --- Signing and payloads -----------------------------------------------------------------------


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def webhook_data(instance: models.Model) -> dict[str, Any]:
    """An object as event data: its id and concrete fields, foreign keys as `<name>_id`.

    Reads only what the instance holds (no queries).
    """
    data: dict[str, Any] = {"id": instance.pk}
    for field in instance._meta.concrete_fields:
        if (
            field.primary_key
            or field.name in _DATA_EXCLUDED_FIELDS
            or getattr(field, "generated", False)
        ):
            continue
        data[field.attname] = _json_value(getattr(instance, field.attname))
    return data


def _envelope(
    *, organization: Organization, event: str, event_id: uuid.UUID, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "event": event,
        "created_at": timezone.now().isoformat(),
        "organization": {"id": organization.pk, "slug": organization.slug},
        "data": data,
    }


# --- Publishing ---------------------------------------------------------------------------------


def _enqueue(
    *, organization_id: int, delivery_id: int, attempt: int, eta: datetime.datetime | None = None
) -> None:
    from crm.webhooks.tasks import deliver_webhook  # the task module imports this one

    deliver_webhook.apply_async(
        kwargs={
            "organization_id": organization_id,
            "delivery_id": delivery_id,
            "attempt": attempt,
        },
        eta=eta,
    )


def _enqueue_on_commit(delivery: WebhookDelivery) -> None:
    transaction.on_commit(
        functools.partial(
            _enqueue,
            organization_id=delivery.organization_id,
            delivery_id=delivery.pk,
            attempt=1,
        ),
        robust=True,
    )


def _create_deliveries(
    *, organization: Organization, event: str, data: dict[str, Any], user_id: int | None
) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to the event (run after the commit)."""
    with tenant_context(organization.pk, user_id), transaction.atomic():
        if event not in _subscribed_events(organization):
            return []
        endpoint_ids = list(
            WebhookEndpoint.objects.filter(
                organization=organization, active=True, events__contains=[event]
            ).values_list("pk", flat=True)
        )
        if not endpoint_ids:
            return []
        event_id = uuid.uuid4()
        body = _envelope(organization=organization, event=event, event_id=event_id, data=data)
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    organization=organization,
                    endpoint_id=endpoint_id,
                    event=event,
                    event_id=event_id,
                    payload=body,
                )
                for endpoint_id in endpoint_ids
            ]
        )
        for delivery in deliveries:
            _enqueue_on_commit(delivery)
    return deliveries


def webhook_event_publish(
    *, organization: Organization, event: str, payload: dict[str, Any]
) -> None:
    """Send `event` with `payload` (e.g. webhook_data(obj)) to the subscribed endpoints.

    Nothing happens unless the surrounding transaction commits; a failure to queue never
    undoes the business write (the callback is robust: logged, not raised).
    """
    if event not in webhook_events.EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}; add it to crm.webhooks.events.")
    transaction.on_commit(
        functools.partial(
            _create_deliveries,
            organization=organization,
            event=event,
            data=payload,
            user_id=current_user_id(),
        ),
        robust=True,
    )


def webhook_events_publish_many(
    *,
    organization: Organization,
    event: str,
    instances: Callable[[], Iterable[models.Model]] | Iterable[models.Model],
) -> None:
    """Publish `event` for each object a bulk write made, when an endpoint subscribes to it.

    Nothing to do (one cached lookup) when none does, so a feed of thousands of events a
    second pays nothing for webhooks nobody wants; `instances` may be a callable that loads
    the objects only then.
    """
    if event not in _subscribed_events(organization):
        return
    for instance in instances() if callable(instances) else instances:
        webhook_event_publish(
            organization=organization, event=event, payload=webhook_data(instance)
        )


# --- Endpoints ----------------------------------------------------------------------------------


def _clean_endpoint_fields(
    *, url: str, description: str, events: list[str]
) -> tuple[str, str, list[str]]:
    url, description = url.strip(), description.strip()
    errors: dict[str, str] = {}
    if not url:
        errors["url"] = "Enter the URL that receives the events."
    elif len(url) > WebhookEndpoint._meta.get_field("url").max_length:  # type: ignore[operator]
        errors["url"] = "Use a URL of at most 500 characters."
    else:
        try:
            _url_validator(url)
        except ValidationError:
            errors["url"] = "Enter a valid http:// or https:// URL."
        else:
            problem = url_problem(url)
            if problem:
                errors["url"] = problem
    if len(description) > 200:
        errors["description"] = f"Use at most 200 characters (it has {len(description)})."
    unknown = [event for event in events if event not in webhook_events.EVENTS]
    if unknown:
        errors["events"] = f"Unknown event(s): {', '.join(sorted(unknown))}."
    elif not events:
        errors["events"] = "Choose at least one event."
    if errors:
        raise ValidationError(errors)
    chosen = set(events)
    ordered = [name for name, _label in webhook_events.EVENT_CHOICES if name in chosen]
    return url, description, ordered


def _audit_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return audit_snapshot(endpoint, ENDPOINT_AUDIT_FIELDS)


def webhook_endpoint_create(
    *,
    organization: Organization,
    actor: User | None,
    url: str,
    events: list[str],
    description: str = "",
) -> WebhookEndpoint:
    """Register an endpoint with a new signing secret; audited (without the secret)."""
    url, description, events = _clean_endpoint_fields(
        url=url, description=description, events=events
    )
    with transaction.atomic():
        count = WebhookEndpoint.objects.filter(organization=organization).count()
        if count >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise ValidationError(
                f"An organization can have at most {MAX_ENDPOINTS_PER_ORGANIZATION} endpoints."
            )
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            description=description,
            events=events,
            secret=generate_secret(),
            created_by=actor,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.CREATE,
            instance=endpoint,
            changes=audit_diff({}, _audit_snapshot(endpoint)),
        )
        _forget_subscriptions(organization)
    return endpoint


def _locked(organization: Organization, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if endpoint.organization_id != organization.pk:
        raise ValidationError("This endpoint belongs to another organization.")
    return WebhookEndpoint.objects.select_for_update().get(
        organization=organization, pk=endpoint.pk
    )


def webhook_endpoint_update(
    *,
    organization: Organization,
    actor: User | None,
    endpoint: WebhookEndpoint,
    url: str,
    events: list[str],
    description: str = "",
) -> WebhookEndpoint:
    """Change the URL, description and events (the secret stays)."""
    url, description, events = _clean_endpoint_fields(
        url=url, description=description, events=events
    )
    with transaction.atomic():
        locked = _locked(organization, endpoint)
        before = _audit_snapshot(locked)
        locked.url, locked.description, locked.events = url, description, events
        locked.updated_at = timezone.now()
        locked.save(update_fields=["url", "description", "events", "updated_at"])
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        _forget_subscriptions(organization)
    return locked


def webhook_endpoint_set_active(
    *, organization: Organization, actor: User | None, endpoint: WebhookEndpoint, active: bool
) -> WebhookEndpoint:
    """Enable (clearing the failure count and reason) or disable an endpoint by hand."""
    with transaction.atomic():
        locked = _locked(organization, endpoint)
        if locked.active == active:
            return locked
        before = _audit_snapshot(locked)
        locked.active = active
        locked.disabled_reason = "" if active else "Disabled by an admin."
        locked.consecutive_failures = 0
        locked.updated_at = timezone.now()
        locked.save(
            update_fields=["active", "disabled_reason", "consecutive_failures", "updated_at"]
        )
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        _forget_subscriptions(organization)
    return locked


def webhook_endpoint_rotate_secret(
    *, organization: Organization, actor: User | None, endpoint: WebhookEndpoint
) -> WebhookEndpoint:
    """Give the endpoint a new secret; deliveries from now on are signed with it."""
    with transaction.atomic():
        locked = _locked(organization, endpoint)
        locked.secret = generate_secret()
        locked.updated_at = timezone.now()
        locked.save(update_fields=["secret", "updated_at"])
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=locked,
            changes={"secret": ["(hidden)", "(rotated)"]},
        )
    return locked


def webhook_endpoint_delete(
    *, organization: Organization, actor: User | None, endpoint: WebhookEndpoint
) -> None:
    """Remove an endpoint and its delivery log; audited."""
    with transaction.atomic():
        locked = _locked(organization, endpoint)
        before = _audit_snapshot(locked)
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.DELETE,
            instance=locked,
            changes={name: [value, None] for name, value in before.items()},
        )
        locked.delete()
        _forget_subscriptions(organization)


def _queue_delivery(
    *,
    organization: Organization,
    endpoint_id: int,
    event: str,
    event_id: uuid.UUID,
    payload: dict[str, Any],
) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            organization=organization,
            endpoint_id=endpoint_id,
            event=event,
            event_id=event_id,
            payload=payload,
        )
        _enqueue_on_commit(delivery)
    return delivery


def webhook_send_test(
    *, organization: Organization, actor: User | None, endpoint: WebhookEndpoint
) -> WebhookDelivery:
    """Queue a `webhook.test` event to this endpoint alone (even if it is disabled)."""
    if endpoint.organization_id != organization.pk:
        raise ValidationError("This endpoint belongs to another organization.")
    event_id = uuid.uuid4()
    data = {"endpoint_id": endpoint.pk, "message": "A test event from Touchpoint."}
    return _queue_delivery(
        organization=organization,
        endpoint_id=endpoint.pk,
        event=webhook_events.TEST,
        event_id=event_id,
        payload=_envelope(
            organization=organization, event=webhook_events.TEST, event_id=event_id, data=data
        ),
    )


def webhook_redeliver(
    *, organization: Organization, actor: User | None, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send a delivery's event again as a new delivery (same event id, so receivers can
    recognise a repeat)."""
    if delivery.organization_id != organization.pk:
        raise ValidationError("This delivery belongs to another organization.")
    return _queue_delivery(
        organization=organization,
        endpoint_id=delivery.endpoint_id,
        event=delivery.event,
        event_id=delivery.event_id,
        payload=delivery.payload,
    )


# --- Delivering ---------------------------------------------------------------------------------


def webhook_requeue_overdue(*, organization: Organization) -> int:
    """Queue again the attempts whose Celery message was lost: the broker was down when the
    change committed, or a worker died holding an attempt. A message that is only late does no
    harm: _claim lets exactly one copy of an attempt through. Returns how many were queued."""
    cutoff = timezone.now() - OVERDUE_AFTER
    overdue = (
        WebhookDelivery.objects.filter(
            organization=organization, status=WebhookDelivery.Status.PENDING
        )
        .filter(
            models.Q(
                locked_until__isnull=True, next_attempt_at__isnull=True, created_at__lte=cutoff
            )
            | models.Q(locked_until__isnull=True, next_attempt_at__lte=cutoff)
            | models.Q(locked_until__lte=cutoff)
        )
        .order_by("id")
        .values_list("pk", "attempts", "locked_until")[:REQUEUE_BATCH]
    )
    rows = list(overdue)
    for delivery_id, attempts, locked_until in rows:
        # A crashed attempt is taken over under its own number; otherwise the next one is due.
        attempt = attempts if locked_until is not None else attempts + 1
        _enqueue(organization_id=organization.pk, delivery_id=delivery_id, attempt=attempt)
    return len(rows)


def retry_delay(attempt: int) -> datetime.timedelta:
    """How long to wait after failed attempt number `attempt` (1-based): base * factor^(n-1)."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * settings.WEBHOOK_RETRY_FACTOR ** (attempt - 1)
    return datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt did: "succeeded", "retry" (at `retry_at`), "failed", or "skipped"."""

    status: str
    reason: str = ""
    retry_at: datetime.datetime | None = None


def _claim(
    *, organization: Organization, delivery_id: int, attempt: int
) -> tuple[WebhookDelivery | None, AttemptOutcome | None]:
    """Lock the delivery and take attempt `attempt`, unless it is done, in flight or stale."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(organization=organization, pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None, AttemptOutcome("skipped", "missing")
        if delivery.status != WebhookDelivery.Status.PENDING:
            return None, AttemptOutcome("skipped", delivery.status)
        fresh = delivery.locked_until is None and attempt == delivery.attempts + 1
        # The worker of this very attempt died mid-flight: its claim expired, take it over.
        crashed = (
            delivery.locked_until is not None
            and delivery.locked_until <= now
            and attempt == delivery.attempts
        )
        if not (fresh or crashed):
            return None, AttemptOutcome("skipped", "stale or in flight")
        if not delivery.endpoint.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "Not sent: the endpoint is disabled."
            delivery.next_attempt_at = None
            delivery.updated_at = now
            delivery.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
            return None, AttemptOutcome("failed", "endpoint disabled")
        delivery.attempts = attempt
        delivery.locked_until = (
            now + datetime.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) + CLAIM_MARGIN
        )
        delivery.updated_at = now
        delivery.save(update_fields=["attempts", "locked_until", "updated_at"])
    return delivery, None


def _send(delivery: WebhookDelivery) -> PostResult:
    endpoint = delivery.endpoint
    problem = url_problem(endpoint.url)
    if problem:
        return PostResult(ok=False, status_code=None, error=f"Not sent: {problem}", duration_ms=0)
    body = webhook_body(delivery.payload)
    timestamp = str(int(time.time()))
    signature = webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Touchpoint-Webhooks/1",
        "Touchpoint-Event": delivery.event,
        "Touchpoint-Delivery": str(delivery.pk),
        "Touchpoint-Event-Id": str(delivery.event_id),
        "Touchpoint-Timestamp": timestamp,
        "Touchpoint-Signature": f"{SIGNATURE_VERSION}={signature}",
    }
    return post_json(endpoint.url, body, headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)


def _count_failed_delivery(*, organization: Organization, endpoint_id: int, error: str) -> None:
    """One more delivery failed for good; enough in a row disable the endpoint (audited)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(
        organization=organization, pk=endpoint_id
    )
    before = _audit_snapshot(endpoint)
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures", "updated_at"]
    if endpoint.active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER:
        endpoint.active = False
        endpoint.disabled_reason = (
            f"Disabled automatically after {endpoint.consecutive_failures} deliveries in a row "
            f"failed every attempt. Last error: {error}"
        )[:500]
        fields += ["active", "disabled_reason"]
        _forget_subscriptions(organization)
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=fields)
    audit_update(organization=organization, actor=None, instance=endpoint, before=before)


def webhook_delivery_attempt(
    *, organization: Organization, delivery_id: int, attempt: int
) -> AttemptOutcome:
    """Make attempt number `attempt` of a delivery and record it.

    The delivery is claimed under select_for_update first, so a duplicate or late task never
    sends a delivery that succeeded, is in flight or has moved on to a later attempt. The HTTP
    request runs outside any transaction. On failure the next attempt is due after
    retry_delay(attempt) until WEBHOOK_MAX_ATTEMPTS; then the delivery fails and counts toward
    disabling its endpoint. A success resets that count.
    """
    delivery, skipped = _claim(organization=organization, delivery_id=delivery_id, attempt=attempt)
    if delivery is None:
        assert skipped is not None
        return skipped
    result = _send(delivery)
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(
            organization=organization, pk=delivery_id
        )
        delivery.locked_until = None
        delivery.last_status_code = result.status_code
        delivery.duration_ms = result.duration_ms
        delivery.updated_at = now
        if result.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.last_error = ""
            delivery.next_attempt_at = None
            delivery.delivered_at = now
            outcome = AttemptOutcome("succeeded")
            WebhookEndpoint.objects.filter(
                organization=organization, pk=delivery.endpoint_id, consecutive_failures__gt=0
            ).update(consecutive_failures=0, updated_at=now)
        elif attempt < settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.last_error = result.error
            delivery.next_attempt_at = now + retry_delay(attempt)
            outcome = AttemptOutcome("retry", result.error, delivery.next_attempt_at)
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = result.error
            delivery.next_attempt_at = None
            outcome = AttemptOutcome("failed", result.error)
            _count_failed_delivery(
                organization=organization, endpoint_id=delivery.endpoint_id, error=result.error
            )
        delivery.save()
        if outcome.retry_at is not None:
            transaction.on_commit(
                functools.partial(
                    _enqueue,
                    organization_id=organization.pk,
                    delivery_id=delivery.pk,
                    attempt=attempt + 1,
                    eta=outcome.retry_at,
                )
            )
    return outcome
