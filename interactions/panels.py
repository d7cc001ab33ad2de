"""The panels this app adds to the customer page (registered in InteractionsConfig.ready()).

Each context function takes the customer, organization and membership and returns the names
its template uses, prefixed so that panels sharing one page cannot clash.
"""

from typing import Any

from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language

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


FILTER_FIELD_TEMPLATE = "components/form_field.html"
_EMPTY_FILTER_FIELDS: dict[str, dict[str, str]] = {}  # language -> field name -> HTML


def empty_filter_fields(form: TimelineFilterForm) -> dict[str, str] | None:
    """The filter fields' HTML when nothing is filtered (every customer page), else None.

    An empty filter form renders the same for every customer (fixed choices, no values), and
    its selects cost a template per option: rendered once per process and language.
    """
    if form.is_bound:
        return None
    language = get_language() or ""
    if language not in _EMPTY_FILTER_FIELDS:
        _EMPTY_FILTER_FIELDS[language] = {
            name: render_to_string(FILTER_FIELD_TEMPLATE, {"field": form[name]})
            for name in ("channel", "kind", "date_from", "date_to")
        }
    return _EMPTY_FILTER_FIELDS[language]


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
        "timeline_empty_filter_fields": empty_filter_fields(form),
        "timeline_query": filter_query(params),
        "timeline_url": reverse(
            "interactions:timeline",
            kwargs={"org_slug": organization.slug, "customer_pk": customer.pk},
        ),
        # The follow-up link of every entry of the customer's own (one reverse, not 25).
        "timeline_task_new_url": reverse(
            "interactions:task_new",
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
