"""Celery entry points of webhooks: one attempt of one delivery, inside its organization, and
the sweeper that queues again attempts whose message was lost."""

from celery import shared_task

from crm.celery import TenantTask
from crm.models import Organization
from crm.tenancy import tenant_context
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


@shared_task
def requeue_overdue_webhook_deliveries() -> int:
    """Run by beat every minute: each organization in its own tenant (RLS hides the rest)."""
    queued = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        with tenant_context(organization_id):
            organization = Organization.objects.get(pk=organization_id)
            queued += services.webhook_requeue_overdue(organization=organization)
    return queued
