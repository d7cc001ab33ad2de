"""CSV export of a customer's timeline: what the timeline shows (interactions on every channel,
case updates and tasks, with its current filters), newest first, streamed.

It lives here rather than in customers because reading interactions from the customers app
would be an upward import. Pages are read with the timeline's own keyset-paged selector, so
the file holds exactly what the page lists; every cell goes through crm.csv.csv_safe.

URL (interactions/urls.py, under the organization): customers/<customer_pk>/timeline.csv
"""

import datetime
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.views.decorators.http import require_GET

from crm.csv import streaming_csv_response
from crm.models import Organization
from crm.permissions import requires
from customers.models import Customer
from interactions.forms import TimelineFilterForm
from interactions.models import Interaction, Task
from interactions.panels import timeline_filters
from interactions.selectors import (
    TimelineCursor,
    TimelineEntry,
    TimelineFilters,
    organization_today,
    timeline,
)
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
    "task_assignee",
    "task_due_date",
    "task_done_at",
]


def timeline_batches(
    *,
    organization: Organization,
    customer: Customer,
    filters: TimelineFilters | None = None,
    batch_size: int | None = None,
) -> Iterator[list[TimelineEntry]]:
    """The customer's timeline newest first, batch_size entries per page (three queries each)."""
    size = batch_size or EXPORT_BATCH_SIZE
    cursor: TimelineCursor | None = None
    while True:
        page = timeline(
            organization=organization,
            customer=customer,
            filters=filters,
            cursor=cursor,
            limit=size,
        )
        if page.entries:
            yield page.entries
        if page.next_cursor is None:
            return
        cursor = TimelineCursor.decode(page.next_cursor)


def _lines(interaction: Interaction) -> str:
    return "; ".join(
        f"{line.product.sku} x{line.quantity} @ {line.unit_price}"
        for line in interaction.lines.all()
    )


def _interaction_row(item: Interaction, zone: datetime.tzinfo) -> list[Any]:
    return [
        item.occurred_at.astimezone(zone).isoformat(),
        item.customer.name,
        item.kind,
        item.channel,
        item.direction,
        item.subject,
        item.body,
        item.amount,
        item.currency,
        _lines(item),
        f"#{item.case.number}" if item.case else "",
        item.user.email if item.user else "",
        item.source,
        item.external_id,
        "",
        "",
        "",
    ]


def _task_row(task: Task, zone: datetime.tzinfo) -> list[Any]:
    return [
        task.created_at.astimezone(zone).isoformat(),
        task.customer.name,
        "task",
        "",
        "",
        task.title,
        "",
        None,
        "",
        "",
        "",
        "",
        "",
        "",
        task.assignee.email if task.assignee else "",
        task.due_date,
        task.done_at.astimezone(zone).isoformat() if task.done_at else "",
    ]


def timeline_csv_rows(
    *,
    organization: Organization,
    customer: Customer,
    filters: TimelineFilters | None = None,
    batch_size: int | None = None,
) -> Iterator[list[Any]]:
    """The header, then one row per timeline entry (lazily, page by page)."""
    zone = organization.tzinfo
    yield COLUMNS
    for batch in timeline_batches(
        organization=organization, customer=customer, filters=filters, batch_size=batch_size
    ):
        for entry in batch:
            if isinstance(entry.item, Task):
                yield _task_row(entry.item, zone)
            else:
                yield _interaction_row(entry.item, zone)


@requires("customers.export")
@require_GET
def customer_timeline_csv(request: OrgRequest, customer_pk: int) -> StreamingHttpResponse:
    """Download the customer's timeline as CSV, with the timeline's filters (q, channel, kind,
    dates) from the query string; another organization's customer is a 404."""
    customer = get_customer(request, customer_pk)
    filters = timeline_filters(TimelineFilterForm(request.GET or None))
    rows = timeline_csv_rows(organization=request.organization, customer=customer, filters=filters)
    today = organization_today(request.organization)
    return streaming_csv_response(
        rows,
        filename=f"timeline-{customer.pk}-{today.isoformat()}.csv",
        organization_id=request.organization.pk,
        user_id=request.user.pk,
    )
