"""The panels this app adds to the customer page (registered in InteractionsConfig.ready()).

Each context function takes the customer, organization and membership and returns the names
its template uses, prefixed so that panels sharing one page cannot clash.
"""

from typing import Any

from django.http import QueryDict
from django.urls import reverse

from crm.models import Membership, Organization
from crm.registry import Panel
from customers.models import Customer
from interactions.forms import TimelineFilterForm
from interactions.selectors import (
    TimelineCursor,
    TimelineFilters,
    customer_key_facts,
    organization_today,
    timeline,
)

FILTER_FIELDS = ("q", "channel", "kind", "date_from", "date_to")


def timeline_filters(form: TimelineFilterForm) -> TimelineFilters:
    """The filters of a bound form; fields with invalid values are ignored."""
    if not form.is_bound:
        return TimelineFilters()
    form.is_valid()
    data = form.cleaned_data
    return TimelineFilters(
        channel=data.get("channel") or "",
        kind=data.get("kind") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        q=(data.get("q") or "").strip(),
    )


def filter_query(params: QueryDict | None) -> str:
    """The filter part of a query string (kept on the next-page URL)."""
    query = QueryDict(mutable=True)
    if params is not None:
        for name in FILTER_FIELDS:
            value = params.get(name, "")
            if value:
                query[name] = value
    return query.urlencode()


def key_facts_context(
    *, customer: Customer, organization: Organization, membership: Membership | None = None
) -> dict[str, Any]:
    return {
        "customer": customer,
        "key_facts": customer_key_facts(organization=organization, customer=customer),
    }


def timeline_context(
    *,
    customer: Customer,
    organization: Organization,
    membership: Membership | None = None,
    params: QueryDict | None = None,
    cursor: TimelineCursor | None = None,
) -> dict[str, Any]:
    form = TimelineFilterForm(params if params is not None and params else None)
    filters = timeline_filters(form)
    return {
        "customer": customer,
        "timeline_page": timeline(
            organization=organization, customer=customer, filters=filters, cursor=cursor
        ),
        "timeline_filters": filters,
        "timeline_filter_form": form,
        "timeline_query": filter_query(params),
        "timeline_url": reverse(
            "interactions:timeline",
            kwargs={"org_slug": organization.slug, "customer_pk": customer.pk},
        ),
        "timeline_is_next_page": cursor is not None,
        "timeline_today": organization_today(organization),
        "timeline_can_log": bool(membership and membership.has_permission("interactions.log")),
        "timeline_can_open_case": bool(membership and membership.has_permission("cases.change")),
        "timeline_can_create_task": bool(membership and membership.has_permission("tasks.change")),
    }


# Places later issues fill in; each section says what will come and from where.
COMING_SECTIONS = [
    ("scores", "Scores and lifetime value", "coming with analytics"),
    ("journeys", "Journeys", "coming with journey maps"),
    ("campaigns", "Campaign history", "coming with campaigns"),
    ("recommendations", "Recommendations", "coming with analytics"),
]


def more_context(
    *, customer: Customer, organization: Organization, membership: Membership | None = None
) -> dict[str, Any]:
    return {"customer": customer, "more_sections": COMING_SECTIONS}


PANELS = [
    Panel(
        key="key_facts",
        title="Key facts",
        template="interactions/panels/key_facts.html",
        context=key_facts_context,
        order=10,
        permission="interactions.view",
    ),
    Panel(
        key="timeline",
        title="Timeline",
        template="interactions/panels/timeline.html",
        context=timeline_context,
        order=20,
        permission="interactions.view",
    ),
    Panel(
        key="more",
        title="More about this customer",
        template="interactions/panels/more.html",
        context=more_context,
        order=90,
    ),
]
