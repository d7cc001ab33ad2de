"""Celery entry point of webhooks: one attempt of one delivery, inside its organization."""

from celery import shared_task

from crm.celery import TenantTask
from crm.models import Organization
from crm.webhooks import services


@shared_task(base=TenantTask, acks_late=True)
def deliver_webhook(*, organization_id: int, delivery_id: int, attempt: int = 1) -> str:
    """POST a delivery (attempt number `attempt`); the service records it and queues the next
    attempt with backoff when it fails. Safe to receive twice: see webhook_delivery_attempt."""
    organization = Organization.objects.get(pk=organization_id)
    outcome = services.webhook_delivery_attempt(
        organization=organization, delivery_id=delivery_id, attempt=attempt
    )
    return outcome.status
