"""CSV export of a customer's timeline: every interaction, newest first, streamed.

It lives here rather than in customers because reading interactions from the customers app
would be an upward import. Rows are read in keyset batches (server-side cursors are off) and
every cell goes through crm.csv.csv_safe.

URL (interactions/urls.py, under the organization): customers/<customer_pk>/timeline.csv
"""

import datetime
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, Q
from django.http import StreamingHttpResponse
from django.views.decorators.http import require_GET

from crm.csv import streaming_csv_response
from crm.models import Organization
from crm.permissions import requires
from customers.models import Customer
from interactions.models import Interaction, PurchaseLine
from interactions.views.common import OrgRequest, get_customer

EXPORT_BATCH_SIZE = 2000
COLUMNS = [
    "occurred_at",
    "customer",
    "kind",
    "channel",
    "direction",
    "subject",
    "body",
    "amount",
    "currency",
    "lines",
    "case",
    "logged_by",
    "source",
    "external_id",
]


def _zone(organization: Organization) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _customer_scope(customer: Customer) -> Q:
    """A person's interactions; a company's own and its people's (as on its timeline)."""
    if customer.kind == Customer.Kind.COMPANY:
        members = Customer.objects.filter(
            Q(pk=customer.pk) | Q(company_id=customer.pk), organization_id=customer.organization_id
        ).values("pk")
        return Q(customer_id__in=members)
    return Q(customer_id=customer.pk)


def timeline_batches(
    *, organization: Organization, customer: Customer, batch_size: int | None = None
) -> Iterator[list[Interaction]]:
    """The customer's interactions newest first, batch_size per query (plus one for lines)."""
    size = batch_size or EXPORT_BATCH_SIZE
    queryset = (
        Interaction.objects.filter(_customer_scope(customer), organization=organization)
        .select_related("customer", "user", "case")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseLine.objects.filter(organization=organization)
                .select_related("product")
                .order_by("id"),
            )
        )
        .order_by("-occurred_at", "-id")
    )
    last: Interaction | None = None
    while True:
        page = queryset
        if last is not None:
            page = page.filter(
                Q(occurred_at__lt=last.occurred_at)
                | Q(occurred_at=last.occurred_at, id__lt=last.pk)
            )
        rows = list(page[:size])
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = rows[-1]


def timeline_csv_rows(
    *, organization: Organization, customer: Customer, batch_size: int | None = None
) -> Iterator[list[Any]]:
    """The header, then one row per interaction (lazily, batch by batch)."""
    zone = _zone(organization)
    yield COLUMNS
    for batch in timeline_batches(
        organization=organization, customer=customer, batch_size=batch_size
    ):
        for item in batch:
            lines = "; ".join(
                f"{line.product.sku} x{line.quantity} @ {line.unit_price}"
                for line in item.lines.all()
            )
            yield [
                item.occurred_at.astimezone(zone).isoformat(),
                item.customer.name,
                item.kind,
                item.channel,
                item.direction,
                item.subject,
                item.body,
                item.amount,
                item.currency,
                lines,
                f"#{item.case.number}" if item.case else "",
                item.user.email if item.user else "",
                item.source,
                item.external_id,
            ]


@requires("customers.view")
@require_GET
def customer_timeline_csv(request: OrgRequest, customer_pk: int) -> StreamingHttpResponse:
    """Download the customer's timeline as CSV; another organization's customer is a 404."""
    customer = get_customer(request, customer_pk)
    rows = timeline_csv_rows(organization=request.organization, customer=customer)
    return streaming_csv_response(
        rows,
        filename=f"timeline-{customer.pk}.csv",
        organization_id=request.organization.pk,
        user_id=request.user.pk,
    )
