"""Reads of interactions: the customer timeline, key facts, return norms, the case queue, tasks.

Every read takes the organization explicitly and runs a fixed number of queries whatever the
amount of data (aggregates in the database, keyset pagination, prefetching).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from crm.models import Organization, User
from crm.permissions import PERMISSIONS
from customers.models import Customer
from interactions.models import (
    INTERNAL_KINDS,
    Case,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
    PurchaseLine,
    Task,
)

TIMELINE_PAGE_SIZE = 25
# The kind filter's value that shows only tasks (tasks are not interactions, but live on the
# same timeline).
TASK_FILTER = "task"
RETURN_NORM_CACHE_SECONDS = 600


def organization_today(organization: Organization) -> datetime.date:
    """Today's date where the organization works (tasks are due on its dates)."""
    return timezone.now().astimezone(organization.tzinfo).date()


def _scope(customer: Customer, field_name: str = "customer") -> Q:
    """A person's own rows; for a company, its own rows and those of its people."""
    if customer.kind == Customer.Kind.COMPANY:
        members = Customer.objects.filter(
            Q(pk=customer.pk) | Q(company_id=customer.pk), organization_id=customer.organization_id
        ).values("pk")
        return Q(**{f"{field_name}_id__in": members})
    return Q(**{f"{field_name}_id": customer.pk})


# --- timeline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineFilters:
    """What the timeline shows: a channel, a kind (or only tasks), a date range, a text."""

    channel: str = ""
    kind: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    q: str = ""

    @property
    def shows_tasks(self) -> bool:
        return not self.channel and self.kind in ("", TASK_FILTER)

    @property
    def shows_interactions(self) -> bool:
        return self.kind != TASK_FILTER

    @property
    def is_filtered(self) -> bool:
        return bool(self.channel or self.kind or self.date_from or self.date_to or self.q)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# Order of entries that happened at the same instant: interactions before tasks.
_INTERACTION_RANK = 1
_TASK_RANK = 0


@dataclass(frozen=True)
class TimelineCursor:
    """Where a timeline page ends: (time, rank, id) of its last entry, newest first."""

    at: datetime.datetime
    rank: int
    id: int

    def encode(self) -> str:
        delta = self.at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}.{self.rank}.{self.id}"

    @classmethod
    def decode(cls, value: str) -> "TimelineCursor":
        """Parse a cursor from a URL; ValueError when it is not one."""
        micros, rank, pk = (int(part) for part in value.split("."))
        if rank not in (_TASK_RANK, _INTERACTION_RANK) or pk < 1:
            raise ValueError("not a timeline cursor")
        return cls(_EPOCH + datetime.timedelta(microseconds=micros), rank, pk)


_CHANNEL_LABELS = dict(Channel.choices)
_KIND_LABELS = dict(Kind.choices)
_DIRECTION_LABELS = dict(Direction.choices)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: an interaction or a task."""

    at: datetime.datetime
    rank: int
    item: Interaction | Task

    @property
    def is_task(self) -> bool:
        return self.rank == _TASK_RANK

    # The labels of an interaction's choices, for the timeline: get_FOO_display() rebuilds a
    # dict of all the field's choices on every call, three times per entry.
    def _label(self, field_name: str, labels: dict[str, str]) -> str:
        value = getattr(self.item, field_name, "")
        return str(labels.get(value, value))

    @property
    def channel_label(self) -> str:
        return self._label("channel", _CHANNEL_LABELS)

    @property
    def kind_label(self) -> str:
        return self._label("kind", _KIND_LABELS)

    @property
    def direction_label(self) -> str:
        return self._label("direction", _DIRECTION_LABELS)

    @property
    def cursor(self) -> TimelineCursor:
        return TimelineCursor(self.at, self.rank, self.item.pk)

    @property
    def sort_key(self) -> tuple[datetime.datetime, int, int]:
        return (self.at, self.rank, self.item.pk)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def _after(cursor: TimelineCursor | None, time_field: str, rank: int) -> Q:
    """Rows that come after the cursor in (time desc, rank desc, id desc) order."""
    if cursor is None:
        return Q()
    if rank == cursor.rank:
        return Q(**{f"{time_field}__lt": cursor.at}) | Q(
            **{time_field: cursor.at, "id__lt": cursor.id}
        )
    if rank > cursor.rank:
        return Q(**{f"{time_field}__lt": cursor.at})
    return Q(**{f"{time_field}__lte": cursor.at})


def _day_start(organization: Organization, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, organization.tzinfo)


def _attach_lines(rows: list[Interaction], organization: Organization) -> None:
    """Read the purchase lines of `rows` in one query and hand each row its own, so that
    `interaction.lines.all()` reads nothing more (as prefetch_related("lines") would).

    prefetch_related builds a filtered queryset per row to hold its lines (a quarter of the
    time of a timeline page); the cached result here is a plain clone of one empty queryset.
    Iterating, counting or testing it works as with prefetch_related; a further .filter() on
    it would find nothing, so callers only read lines.all() (the template, the CSV export).
    """
    if not rows:
        return
    lines: dict[int, list[PurchaseLine]] = {row.pk: [] for row in rows}
    found = (
        PurchaseLine.objects.filter(organization=organization, interaction_id__in=list(lines))
        .select_related("product", "returned_line__interaction")
        .order_by("id")
    )
    for line in found:
        lines[line.interaction_id].append(line)
    empty = PurchaseLine.objects.none()
    for row in rows:
        held = empty.all()  # a clone
        held._result_cache = lines[row.pk]
        held._prefetch_done = True  # type: ignore[attr-defined]
        for line in held._result_cache:
            line.interaction = row
        row._prefetched_objects_cache = {"lines": held}  # type: ignore[attr-defined]


def timeline(
    *,
    organization: Organization,
    customer: Customer,
    filters: TimelineFilters | None = None,
    cursor: TimelineCursor | None = None,
    limit: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One page of a customer's timeline, newest first: interactions (every channel, including
    case updates) and tasks, merged on time.

    A company's timeline also holds its people's entries. Keyset-paged on (time, rank, id), so
    a page costs the same however far back it is; three queries a page (interactions, their
    purchase lines with products, tasks). Search is a case-insensitive substring match on the
    subject and body (task titles), run only within the customer's rows, which the
    (organization, customer, -occurred_at, -id) index finds; a substring match also finds
    order numbers and parts of words, which full-text search would not.
    """
    filters = filters or TimelineFilters()
    entries: list[TimelineEntry] = []
    # A person's rows are all their own: the customer in hand is attached to them instead of
    # joining (and building) the same wide customer row 25 times. A company's hold its people.
    joined_customer = ("customer",) if customer.kind == Customer.Kind.COMPANY else ()
    if filters.shows_interactions:
        interactions = Interaction.objects.filter(
            _scope(customer),
            _after(cursor, "occurred_at", _INTERACTION_RANK),
            organization=organization,
        )
        if filters.channel:
            interactions = interactions.filter(channel=filters.channel)
        if filters.kind:
            interactions = interactions.filter(kind=filters.kind)
        if filters.date_from:
            interactions = interactions.filter(
                occurred_at__gte=_day_start(organization, filters.date_from)
            )
        if filters.date_to:
            next_day = filters.date_to + datetime.timedelta(days=1)
            interactions = interactions.filter(occurred_at__lt=_day_start(organization, next_day))
        if filters.q:
            interactions = interactions.filter(
                Q(subject__icontains=filters.q) | Q(body__icontains=filters.q)
            )
        rows = list(
            interactions.select_related("user", "case", *joined_customer).order_by(
                "-occurred_at", "-id"
            )[: limit + 1]
        )
        _attach_lines(rows, organization)
        for row in rows:
            if not joined_customer:
                row.customer = customer
            entries.append(TimelineEntry(row.occurred_at, _INTERACTION_RANK, row))
    if filters.shows_tasks:
        tasks = Task.objects.filter(
            _scope(customer), _after(cursor, "created_at", _TASK_RANK), organization=organization
        )
        if filters.date_from:
            tasks = tasks.filter(created_at__gte=_day_start(organization, filters.date_from))
        if filters.date_to:
            next_day = filters.date_to + datetime.timedelta(days=1)
            tasks = tasks.filter(created_at__lt=_day_start(organization, next_day))
        if filters.q:
            tasks = tasks.filter(title__icontains=filters.q)
        task_rows = tasks.select_related("assignee", *joined_customer).order_by(
            "-created_at", "-id"
        )[: limit + 1]
        for task in task_rows:
            if not joined_customer:
                task.customer = customer
            entries.append(TimelineEntry(task.created_at, _TASK_RANK, task))
    entries.sort(key=lambda entry: entry.sort_key, reverse=True)
    page = entries[:limit]
    next_cursor = page[-1].cursor.encode() if len(entries) > limit else None
    return TimelinePage(entries=page, next_cursor=next_cursor)


# --- key facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnNorm:
    """How often the organization's customers return what they buy: returns per purchase."""

    orders: int
    returns: int

    @property
    def rate(self) -> float:
        return self.returns / self.orders if self.orders else 0.0

    @property
    def frequent_threshold(self) -> float:
        """A customer returning more than this share of orders is a frequent returner."""
        return max(2 * self.rate, self.rate + 0.25)


FREQUENT_RETURNER_MIN_ORDERS = 3


def _return_norm_key(organization: Organization) -> str:
    return f"interactions:return-norm:{organization.pk}"


def organization_return_norm(*, organization: Organization) -> ReturnNorm:
    """The organization's return rate: all returns / all purchases, pooled over customers.

    One aggregate query, cached for ten minutes per organization (a norm moves slowly).
    """
    cached = cache.get(_return_norm_key(organization))
    if cached is not None:
        return ReturnNorm(orders=cached["orders"], returns=cached["returns"])
    totals = Interaction.objects.filter(
        organization=organization, kind__in=[Kind.PURCHASE, Kind.RETURN]
    ).aggregate(
        orders=Count("id", filter=Q(kind=Kind.PURCHASE)),
        returns=Count("id", filter=Q(kind=Kind.RETURN)),
    )
    cache.set(_return_norm_key(organization), totals, RETURN_NORM_CACHE_SECONDS)
    return ReturnNorm(orders=totals["orders"], returns=totals["returns"])


@dataclass(frozen=True)
class ChannelContact:
    channel: str
    label: str
    last_at: datetime.datetime
    contacts: int
    inbound: int


@dataclass(frozen=True)
class KeyFacts:
    """What staff need at a glance about a customer, computed from the interactions."""

    first_contact_at: datetime.datetime | None
    last_contact_at: datetime.datetime | None
    channels: list[ChannelContact]
    orders: int
    total_spend: Decimal
    returns: int
    returned_amount: Decimal
    open_cases: int
    open_tasks: int
    norm: ReturnNorm
    currency: str
    top_channel: ChannelContact | None = None
    top_channel_basis: str = ""

    @property
    def average_spend(self) -> Decimal | None:
        if not self.orders:
            return None
        return (self.total_spend / self.orders).quantize(Decimal("0.01"))

    @property
    def return_rate(self) -> float | None:
        return self.returns / self.orders if self.orders else None

    @property
    def is_frequent_returner(self) -> bool:
        rate = self.return_rate
        return (
            rate is not None
            and self.orders >= FREQUENT_RETURNER_MIN_ORDERS
            and rate > self.norm.frequent_threshold
        )


def customer_key_facts(*, organization: Organization, customer: Customer) -> KeyFacts:
    """Key facts of a customer (of a company: with its people), in three queries (plus one for
    the organization's return norm when it is not cached).

    - Contacts are interactions other than internal notes and case updates; first and last
      contact, and the last contact per channel, come from them.
    - Orders are purchases; spend is their amount; returns are return interactions, and the
      return rate is returns / orders.
    - "Frequent returner": at least 3 orders and a return rate above
      max(2 * the organization's rate, the organization's rate + 0.25) (see ReturnNorm); the
      absolute margin keeps customers from being flagged when returns are rare everywhere.
    - The channel the customer uses most is the one with the most inbound contacts (what the
      customer started); with no inbound contact, the one with the most contacts.
    """
    internal = Q(kind__in=list(INTERNAL_KINDS))
    rows = list(
        Interaction.objects.filter(_scope(customer), organization=organization)
        .values("channel")
        .annotate(
            contacts=Count("id", filter=~internal),
            inbound=Count("id", filter=~internal & Q(direction=Direction.INBOUND)),
            first_at=Min("occurred_at", filter=~internal),
            last_at=Max("occurred_at", filter=~internal),
            orders=Count("id", filter=Q(kind=Kind.PURCHASE)),
            spend=Sum("amount", filter=Q(kind=Kind.PURCHASE)),
            returns=Count("id", filter=Q(kind=Kind.RETURN)),
            returned=Sum("amount", filter=Q(kind=Kind.RETURN)),
        )
        .order_by()
    )
    labels = dict(Channel.choices)
    channels = sorted(
        (
            ChannelContact(
                channel=row["channel"],
                label=str(labels.get(row["channel"], row["channel"])),
                last_at=row["last_at"],
                contacts=row["contacts"],
                inbound=row["inbound"],
            )
            for row in rows
            if row["contacts"]
        ),
        key=lambda item: item.last_at,
        reverse=True,
    )
    top: ChannelContact | None = None
    basis = ""
    if any(item.inbound for item in channels):
        top = max(channels, key=lambda item: (item.inbound, item.contacts, item.last_at))
        basis = "inbound"
    elif channels:
        top = max(channels, key=lambda item: (item.contacts, item.last_at))
        basis = "all"
    firsts = [row["first_at"] for row in rows if row["first_at"] is not None]
    lasts = [row["last_at"] for row in rows if row["last_at"] is not None]
    open_cases = Case.objects.filter(
        _scope(customer), organization=organization, status__in=Case.OPEN_STATUSES
    ).count()
    open_tasks = Task.objects.filter(
        _scope(customer), organization=organization, done_at__isnull=True
    ).count()
    return KeyFacts(
        first_contact_at=min(firsts) if firsts else None,
        last_contact_at=max(lasts) if lasts else None,
        channels=channels,
        orders=sum(row["orders"] for row in rows),
        total_spend=sum((row["spend"] or Decimal("0") for row in rows), Decimal("0.00")),
        returns=sum(row["returns"] for row in rows),
        returned_amount=sum((row["returned"] or Decimal("0") for row in rows), Decimal("0.00")),
        open_cases=open_cases,
        open_tasks=open_tasks,
        norm=organization_return_norm(organization=organization),
        currency=organization.currency,
        top_channel=top,
        top_channel_basis=basis,
    )


# --- cases --------------------------------------------------------------------------------------

CASE_QUEUE_TABS: list[tuple[str, str]] = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("overdue", "Overdue"),
    ("open", "All open"),
]


def case_queue(*, organization: Organization, user: User, tab: str) -> QuerySet[Case]:
    """Open cases of a queue tab, the soonest due first."""
    cases = Case.objects.filter(organization=organization, status__in=Case.OPEN_STATUSES)
    if tab == "mine":
        cases = cases.filter(assignee_id=user.pk)
    elif tab == "unassigned":
        cases = cases.filter(assignee__isnull=True)
    elif tab == "overdue":
        cases = cases.filter(due_at__lt=timezone.now())
    return cases.select_related("customer", "assignee").order_by("due_at", "id")


def case_queue_counts(*, organization: Organization, user: User) -> dict[str, int]:
    """How many open cases each queue tab holds, in one query."""
    counts: dict[str, int] = Case.objects.filter(
        organization=organization, status__in=Case.OPEN_STATUSES
    ).aggregate(
        mine=Count("id", filter=Q(assignee_id=user.pk)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        overdue=Count("id", filter=Q(due_at__lt=timezone.now())),
        open=Count("id"),
    )
    return counts


def case_history(*, organization: Organization, case: Case) -> QuerySet[Interaction]:
    """The interactions that belong to a case (its updates included), oldest first."""
    return (
        Interaction.objects.filter(organization=organization, case_id=case.pk)
        .select_related("user")
        .order_by("occurred_at", "id")
    )


# --- tasks --------------------------------------------------------------------------------------


def my_tasks(*, organization: Organization, user: User, done: bool = False) -> QuerySet[Task]:
    """A member's open tasks, overdue first then by due date (undated last); or the done ones,
    latest first.

    Ascending due dates put the overdue ones (earlier than today) first by construction.
    """
    tasks = Task.objects.filter(organization=organization, assignee_id=user.pk).select_related(
        "customer", "interaction"
    )
    if done:
        return tasks.filter(done_at__isnull=False).order_by("-done_at", "-id")
    return tasks.filter(done_at__isnull=True).order_by(
        F("due_date").asc(nulls_last=True), "created_at", "id"
    )


# --- members and products -----------------------------------------------------------------------


def assignable_members(*, organization: Organization, permission: str) -> QuerySet[User]:
    """Active members whose role may do the work (e.g. "cases.change"), by name."""
    return User.objects.filter(
        memberships__organization=organization,
        memberships__is_active=True,
        memberships__role__in=list(PERMISSIONS[permission]),
    ).order_by("full_name", "email")


def product_list(
    *, organization: Organization, q: str = "", include_inactive: bool = True
) -> QuerySet[Product]:
    """The catalog, by name; `q` matches the SKU, name or category."""
    products = Product.objects.filter(organization=organization)
    if not include_inactive:
        products = products.filter(active=True)
    if q:
        products = products.filter(
            Q(sku__icontains=q) | Q(name__icontains=q) | Q(category__icontains=q)
        )
    return products.order_by("name", "id")
