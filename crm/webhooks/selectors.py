"""Reads for the webhooks settings pages."""

from django.db.models import OuterRef, QuerySet, Subquery

from crm.models import Organization
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints, newest first, each with its latest delivery's status."""
    latest = WebhookDelivery.objects.filter(
        organization=organization, endpoint=OuterRef("pk")
    ).order_by("-created_at", "-id")
    return WebhookEndpoint.objects.filter(organization=organization).annotate(
        last_delivery_status=Subquery(latest.values("status")[:1]),
        last_delivery_at=Subquery(latest.values("created_at")[:1]),
    )


def endpoint_get(*, organization: Organization, pk: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization, pk=pk).first()


def delivery_list(
    *, organization: Organization, endpoint: WebhookEndpoint
) -> QuerySet[WebhookDelivery]:
    """An endpoint's delivery log, newest first (served by webhook_delivery_log_idx)."""
    return WebhookDelivery.objects.filter(organization=organization, endpoint=endpoint).order_by(
        "-created_at", "-id"
    )


def delivery_get(
    *, organization: Organization, endpoint: WebhookEndpoint, pk: int
) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(
        organization=organization, endpoint=endpoint, pk=pk
    ).first()
