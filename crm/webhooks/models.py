"""Webhook endpoints an organization registers and the deliveries of events to them."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from crm.models import TenantModel


class WebhookEndpoint(TenantModel):
    """A URL that receives the chosen events as signed JSON POSTs.

    The secret signs every delivery, so it is kept (not hashed) and shown to admins on demand.
    Deliveries that fail every attempt count in `consecutive_failures`; enough of them in a row
    disable the endpoint with `disabled_reason` until an admin enables it again.
    """

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40), default=list)
    secret = models.CharField(max_length=80)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "active"], name="webhook_endpoint_active_idx"),
            models.Index(
                fields=["organization", "created_by"], name="webhook_endpoint_creator_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def event_labels(self) -> list[str]:
        from crm.webhooks.events import EVENT_CHOICES

        labels = dict(EVENT_CHOICES)
        return [labels.get(event, event) for event in self.events]


class WebhookDelivery(TenantModel):
    """One event sent to one endpoint, with its attempts so far.

    `payload` is the JSON body, kept so a redelivery sends the very same event (same `event_id`).
    `locked_until` is set while an attempt is in flight, so a duplicate task does not send it
    twice; a crash leaves it to expire and the next message retries.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(default=uuid.uuid4)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "endpoint", "-created_at"],
                name="webhook_delivery_log_idx",
            ),
            models.Index(
                fields=["organization", "status", "next_attempt_at"],
                name="webhook_delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"
