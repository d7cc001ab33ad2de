"""Reads of customers beyond one ORM call: the filtered list, the detail page, consent state."""

import functools
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    ForeignObjectRel,
    Func,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan

from crm.models import AuditEntry, Organization
from customers.filters import CustomerFilterSet
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition, ImportJob

PEOPLE_SHOWN = 50
CONSENT_HISTORY_SHOWN = 50


def customer_filterset(
    *, organization: Organization, data: Mapping[str, Any] | None
) -> CustomerFilterSet:
    """The list's filters bound to `data` (query parameters); a page renders its form."""
    return CustomerFilterSet(data if data is not None else {}, organization=organization)


def customer_list(
    *, organization: Organization, filters: Mapping[str, Any] | CustomerFilterSet | None
) -> QuerySet[Customer]:
    """Customers matching `filters` (query parameters or a bound CustomerFilterSet), sorted.

    Invalid filter values are ignored (the FilterSet's form reports them); the owner and the
    company of each row come in the same query.
    """
    filterset = (
        filters
        if isinstance(filters, CustomerFilterSet)
        else customer_filterset(organization=organization, data=filters)
    )
    if filterset.organization.pk != organization.pk:
        raise ValueError("The filters were built for another organization.")
    queryset = filterset.qs.filter(organization=organization)
    if not queryset.query.order_by:
        queryset = queryset.order_by("name", "pk")
    return queryset.select_related("owner", "company")


def customer_get(*, organization: Organization, pk: int) -> Customer | None:
    return (
        Customer.objects.filter(organization=organization, pk=pk)
        .select_related("owner", "company")
        .first()
    )


# The tag suggestions are read from every customer (unnest over the whole tenant: about 100 ms
# at 100,000 customers), so they are cached per organization. Nothing invalidates the entry
# (the services that change tags do not know of it): a new tag shows in the suggestions within
# this many seconds; filtering by any tag works at once, whatever the suggestions say.
KNOWN_TAGS_CACHE_SECONDS = 300


def known_tags(*, organization: Organization, limit: int = 200) -> list[str]:
    """Tags in use in the organization, for the tag filter's suggestions (cached 5 minutes)."""
    key = f"customers:known-tags:{organization.pk}:{limit}"
    tags: list[str] | None = cache.get(key)
    if tags is None:
        tags = list(
            Customer.objects.filter(organization=organization)
            .annotate(tag=Func(F("tags"), function="unnest", output_field=CharField()))
            .values_list("tag", flat=True)
            .distinct()
            .order_by("tag")[:limit]
        )
        cache.set(key, tags, KNOWN_TAGS_CACHE_SECONDS)
    return tags


SEARCH_COUNT_CAP = 1000


class SearchMatches:
    """A name-sorted search's matches as a sequence a Paginator can page (count, slices).

    Sorted by name, a search would often be planned as a walk of customer_org_name_idx in name
    order, testing each customer against the search until a page is full: quick for a term
    spread over the alphabet ("Smith"), but for one whose matches sort late or cluster
    ("oliver", a first name) it reads most of the tenant (73,000 rows, 300 ms, for 25). Here a
    page sorts by an expression of the name that no index provides, so the matches come from
    the search's GIN index and only their ids and names are sorted (top-N): the cost follows
    the number of matches, not their place in the alphabet. The page's rows are then read by
    id, with the owner and company joined as before. Same order, same rows.

    Matches are counted up to SEARCH_COUNT_CAP: a term as common as "Smith" (16,000 of 100,000
    customers) would otherwise pay for counting them all on every keystroke. Beyond the cap,
    count() is the cap and `capped` is true: the page says "More than 1000 customers match" and
    pages through the first 1,000 in its order (refine the search, or export, to reach the rest).
    """

    def __init__(self, queryset: QuerySet[Customer]) -> None:
        self.queryset = queryset
        self._count: int | None = None
        self.capped = False

    def count(self) -> int:
        if self._count is None:
            found = self.queryset.order_by().values("pk")[: SEARCH_COUNT_CAP + 1].count()
            self.capped = found > SEARCH_COUNT_CAP
            self._count = min(found, SEARCH_COUNT_CAP)
        return self._count

    def __len__(self) -> int:
        return self.count()

    def _order(self) -> list[Any]:
        order: list[Any] = []
        for item in self.queryset.query.order_by:
            name = str(item).lstrip("-")
            if name == "name":
                expression = Func(F("name"), template="(%(expressions)s || '')")
                descending = str(item).startswith("-")
                order.append(expression.desc() if descending else expression.asc())
            else:
                order.append(item)
        return order

    def __getitem__(self, key: slice) -> list[Customer]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Search matches can be sliced, not indexed.")
        ids = list(
            self.queryset.select_related(None)
            .order_by(*self._order())
            .values_list("pk", flat=True)[key]
        )
        if not ids:
            return []
        by_id = {customer.pk: customer for customer in self.queryset.filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]


def customer_list_pages(
    *, queryset: QuerySet[Customer], filterset: CustomerFilterSet
) -> QuerySet[Customer] | SearchMatches:
    """What the list page pages through: a search sorted by name as SearchMatches (see there),
    anything else the queryset itself."""
    searching = bool((filterset.form.cleaned_data.get("q") or "").strip())
    order = [str(item).lstrip("-") for item in queryset.query.order_by]
    if searching and order == ["name", "pk"]:
        return SearchMatches(queryset)
    return queryset


def customers_with_custom_value(*, organization: Organization, key: str) -> int:
    """How many customers store a value under a custom field's key."""
    return Customer.objects.filter(organization=organization, custom_fields__has_key=key).count()


def companies(*, organization: Organization) -> QuerySet[Customer]:
    return Customer.objects.filter(organization=organization, kind=Customer.Kind.COMPANY).order_by(
        "name", "pk"
    )


def people_count(*, organization: Organization, company: Customer) -> int:
    """How many people belong to a company (0 for a person)."""
    if company.kind != Customer.Kind.COMPANY:
        return 0
    return Customer.objects.filter(organization=organization, company_id=company.pk).count()


# --- Consent ---------------------------------------------------------------------------------


def current_consents(*, customer: Customer) -> dict[str, ConsentEvent]:
    """The latest consent event per channel (DISTINCT ON), keyed by channel."""
    events = (
        ConsentEvent.objects.filter(organization_id=customer.organization_id, customer=customer)
        .order_by("channel", "-occurred_at", "-id")
        .distinct("channel")
        .select_related("recorded_by")
    )
    return {event.channel: event for event in events}


def consent_history(*, customer: Customer) -> QuerySet[ConsentEvent]:
    """Every consent change of the customer, newest first."""
    return (
        ConsentEvent.objects.filter(organization_id=customer.organization_id, customer=customer)
        .order_by("-occurred_at", "-id")
        .select_related("recorded_by")
    )


@dataclass(frozen=True)
class ConsentState:
    """One channel's row on the customer page: its label and the event in force, if any."""

    channel: str
    label: str
    event: ConsentEvent | None

    @property
    def granted(self) -> bool | None:
        return None if self.event is None else self.event.granted


# --- Detail --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomValue:
    definition: CustomFieldDefinition
    value: Any


@dataclass
class CustomerDetail:
    """Everything the customer page shows, read in a fixed number of queries."""

    customer: Customer
    consents: list[ConsentState]
    consent_history: list[ConsentEvent]
    consent_history_more: bool
    custom_values: list[CustomValue]
    people: list[Customer] = field(default_factory=list)
    people_count: int = 0


def customer_detail(*, organization: Organization, customer: Customer) -> CustomerDetail:
    """The customer page's data: consents, history, custom values and (for companies) people.

    The customer itself should come from customer_get (owner and company joined).
    """
    history = list(consent_history(customer=customer)[: CONSENT_HISTORY_SHOWN + 1])
    if len(history) <= CONSENT_HISTORY_SHOWN:
        # The whole history is here, newest first: the event in force per channel is its first
        # one (what current_consents' DISTINCT ON picks), without another query.
        current: dict[str, ConsentEvent] = {}
        for event in history:
            current.setdefault(event.channel, event)
    else:
        current = current_consents(customer=customer)
    consents = [
        ConsentState(channel=value, label=str(label), event=current.get(value))
        for value, label in Channel.choices
    ]
    definitions = CustomFieldDefinition.objects.filter(organization=organization).order_by(
        "position", "id"
    )
    custom_values = [
        CustomValue(definition=definition, value=customer.custom_fields.get(definition.key))
        for definition in definitions
    ]
    detail = CustomerDetail(
        customer=customer,
        consents=consents,
        consent_history=history[:CONSENT_HISTORY_SHOWN],
        consent_history_more=len(history) > CONSENT_HISTORY_SHOWN,
        custom_values=custom_values,
    )
    if customer.kind == Customer.Kind.COMPANY:
        people = list(
            Customer.objects.filter(organization=organization, company_id=customer.pk).order_by(
                "name", "pk"
            )[: PEOPLE_SHOWN + 1]
        )
        detail.people = people[:PEOPLE_SHOWN]
        detail.people_count = len(people)
        if len(people) > PEOPLE_SHOWN:
            detail.people_count = people_count(organization=organization, company=customer)
    return detail


# --- Duplicates ------------------------------------------------------------------------------

REASON_EMAIL = "email"
REASON_PHONE = "phone"
REASON_NAME = "name"
REASON_LABELS = {
    REASON_EMAIL: "Same e-mail",
    REASON_PHONE: "Same phone",
    REASON_NAME: "Similar name",
}


@dataclass(frozen=True)
class DuplicatePair:
    """Two customers of the same kind that look like one: why, and what they share."""

    first: Customer
    second: Customer
    reasons: tuple[str, ...]

    @property
    def shared_emails(self) -> list[str]:
        return [email for email in self.first.emails if email in self.second.emails]

    @property
    def shared_phones(self) -> list[str]:
        return [phone for phone in self.first.phones if phone in self.second.phones]

    @property
    def reason_texts(self) -> list[str]:
        """Human reasons with the shared values: "Same e-mail: ann@example.com"."""
        texts = []
        for reason in self.reasons:
            label = REASON_LABELS.get(reason, reason)
            if reason == REASON_EMAIL:
                label += ": " + ", ".join(self.shared_emails)
            elif reason == REASON_PHONE:
                label += ": " + ", ".join(self.shared_phones)
            texts.append(label)
        return texts


# A value shared by more customers than this (a switchboard number, a shared mailbox, a very
# common name) says little about any two of them; pairing them all would also grow with the
# square of the group (a 100,000-customer tenant had 8 million such pairs).
DUPLICATE_GROUP_LIMIT = 5

# Pairs (lower id first) of customers of one kind sharing an e-mail, a phone or a name key,
# with the number of pairs in every row. Set-based: each reason groups the customers by value
# (hash aggregates; the name key also has an index), keeps groups of 2 to %(group_limit)s, pairs
# their members, and pairs sharing several values are folded into one row with every reason.
_PAIRS_SQL = """
WITH groups AS (
    SELECT 'name' AS reason, array_agg(id) AS ids FROM {table}
     WHERE organization_id = %(org)s AND name_key <> ''
     GROUP BY kind, name_key HAVING count(*) BETWEEN 2 AND %(group_limit)s
    UNION ALL
    SELECT 'email', array_agg(id) FROM {table}, unnest(emails) AS v(value)
     WHERE organization_id = %(org)s AND emails <> '{{}}'
     GROUP BY kind, v.value HAVING count(*) BETWEEN 2 AND %(group_limit)s
    UNION ALL
    SELECT 'phone', array_agg(id) FROM {table}, unnest(phones) AS v(value)
     WHERE organization_id = %(org)s AND phones <> '{{}}'
     GROUP BY kind, v.value HAVING count(*) BETWEEN 2 AND %(group_limit)s
), matches AS (
    SELECT DISTINCT a.id AS first_id, b.id AS second_id, g.reason
      FROM groups g, unnest(g.ids) AS a(id), unnest(g.ids) AS b(id)
     WHERE a.id < b.id
), pairs AS (
    SELECT first_id, second_id, array_agg(reason ORDER BY reason) AS reasons
      FROM matches GROUP BY first_id, second_id
)
SELECT first_id, second_id, reasons, count(*) OVER () AS total FROM pairs
 ORDER BY cardinality(reasons) DESC, first_id, second_id
 LIMIT %(limit)s OFFSET %(offset)s
"""


class _LazyPairs:
    """A sequence of DuplicatePair read one slice at a time, with its length counted once."""

    def __init__(self) -> None:
        self._count: int | None = None

    def _counted(self) -> int:
        raise NotImplementedError

    def count(self) -> int:
        if self._count is None:
            self._count = self._counted()
        return self._count

    def __len__(self) -> int:
        return self.count()

    @staticmethod
    def _check(key: object) -> slice:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Duplicate pairs can be sliced, not indexed.")
        return key


class DuplicatePairs(_LazyPairs):
    """The organization's duplicate candidates as a lazy sequence a Paginator can page.

    The pairs are found anew on every read (no stale list after a merge), in one query that
    returns a window of pairs and their total: count() reads the window the page will ask
    for (`window`, offset and limit), so a page costs that query and one for its customers.
    Pairs sharing more reasons come first.
    """

    def __init__(self, *, organization: Organization, window: tuple[int, int] = (0, 25)) -> None:
        super().__init__()
        self.organization = organization
        self._window = window
        self._rows: dict[tuple[int, int], list[tuple[int, int, list[str]]]] = {}

    def _read(self, offset: int, limit: int) -> list[tuple[int, int, list[str]]]:
        if (offset, limit) not in self._rows:
            sql = _PAIRS_SQL.format(table=connection.ops.quote_name(Customer._meta.db_table))
            params = {
                "org": self.organization.pk,
                "group_limit": DUPLICATE_GROUP_LIMIT,
                "limit": limit,
                "offset": offset,
            }
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            if rows:
                self._count = int(rows[0][3])
            elif offset == 0:
                self._count = 0
            self._rows[(offset, limit)] = [
                (first, second, reasons) for first, second, reasons, _ in rows
            ]
        return self._rows[(offset, limit)]

    def _counted(self) -> int:
        self._read(*self._window)
        if self._count is None:  # the window was past the end: count from the start
            self._read(0, 1)
        return self._count or 0

    def __getitem__(self, key: slice) -> list[DuplicatePair]:
        key = self._check(key)
        offset = max(key.start or 0, 0)
        limit = self.count() if key.stop is None else max(key.stop - offset, 0)
        if limit == 0:
            return []
        rows = self._read(offset, limit)
        ids = {pk for first_id, second_id, _ in rows for pk in (first_id, second_id)}
        customers = Customer.objects.filter(organization=self.organization, pk__in=ids)
        by_id = {customer.pk: customer for customer in customers.select_related("owner")}
        return [
            DuplicatePair(first=by_id[first_id], second=by_id[second_id], reasons=tuple(reasons))
            for first_id, second_id, reasons in rows
            if first_id in by_id and second_id in by_id
        ]


def duplicate_pairs(
    *, organization: Organization, page: int = 1, per_page: int = 25
) -> DuplicatePairs:
    """Every candidate pair of the organization, lazily; `page` and `per_page` say which
    window a Paginator will ask for, so that its count and that page are one query."""
    start = max(page - 1, 0) * per_page
    return DuplicatePairs(organization=organization, window=(start, per_page))


def duplicate_candidates(
    *, organization: Organization, limit: int, offset: int = 0
) -> list[DuplicatePair]:
    """One page of likely duplicates: pairs sharing an e-mail, a phone or a normalized name."""
    return duplicate_pairs(organization=organization)[offset : offset + limit]


def _similarity_conditions(customer: Customer) -> dict[str, Q]:
    """What makes another customer look like this one, by reason (as SQL conditions)."""
    name_key = Subquery(
        Customer.objects.filter(organization_id=customer.organization_id, pk=customer.pk).values(
            "name_key"
        )[:1]
    )
    conditions = {REASON_NAME: Q(name_key=name_key) & ~Q(name_key="")}
    if customer.emails:
        conditions[REASON_EMAIL] = Q(emails__overlap=customer.emails)
    if customer.phones:
        conditions[REASON_PHONE] = Q(phones__overlap=customer.phones)
    return conditions


def _any_of(conditions: dict[str, Q]) -> Q:
    return functools.reduce(operator.or_, conditions.values())


def _duplicate_conditions(customer: Customer) -> dict[str, Q]:
    """Per reason, the condition that another customer is a likely duplicate of this one.

    As on the organization's list, a name, e-mail or phone that more than
    DUPLICATE_GROUP_LIMIT customers share (this one included) is no sign: each reason holds
    only while few enough others match it, checked by an uncorrelated subquery that the
    database runs once, so the whole thing stays one query.
    """
    others = Customer.objects.filter(
        organization_id=customer.organization_id, kind=customer.kind
    ).exclude(pk=customer.pk)
    conditions = {}
    for reason, condition in _similarity_conditions(customer).items():
        matching = (
            others.filter(condition).order_by().values("kind").annotate(n=Count("pk")).values("n")
        )
        few = LessThan(Coalesce(Subquery(matching[:1]), 0), DUPLICATE_GROUP_LIMIT)
        conditions[reason] = condition & Q(few)
    return conditions


class CustomerDuplicates(_LazyPairs):
    """The customers that look like one customer, as a lazy sequence a Paginator can page.

    count() is one query; a slice is one query (the reasons of each pair computed in SQL).
    """

    def __init__(self, customer: Customer) -> None:
        super().__init__()
        self.customer = customer
        self.conditions = _duplicate_conditions(customer)

    def _queryset(self) -> QuerySet[Customer]:
        return (
            Customer.objects.filter(
                organization_id=self.customer.organization_id, kind=self.customer.kind
            )
            .exclude(pk=self.customer.pk)
            .filter(_any_of(self.conditions))
        )

    def _counted(self) -> int:
        return self._queryset().count()

    def __getitem__(self, key: slice) -> list[DuplicatePair]:
        key = self._check(key)
        flags = {
            f"same_{reason}": ExpressionWrapper(condition, output_field=BooleanField())
            for reason, condition in self.conditions.items()
        }
        queryset = self._queryset().annotate(**flags).select_related("owner").order_by("name", "pk")
        return [
            DuplicatePair(
                first=self.customer,
                second=other,
                reasons=tuple(
                    reason for reason in sorted(self.conditions) if getattr(other, f"same_{reason}")
                ),
            )
            for other in queryset[key]
        ]


def duplicates_of(customer: Customer) -> CustomerDuplicates:
    """The customers that look like `customer`, each with the reasons (lazy, sliceable)."""
    return CustomerDuplicates(customer)


# duplicate_count_of as one hand-written statement: the same conditions as
# _duplicate_conditions (per reason: the value matches, and fewer than DUPLICATE_GROUP_LIMIT
# others share it), without building and compiling that ORM tree on every customer page. An
# empty list of e-mails or phones overlaps nothing; the flags just let the planner drop them.
_DUPLICATE_COUNT_SQL = """
WITH me AS (SELECT name_key FROM {table} WHERE organization_id = %(org)s AND id = %(pk)s)
SELECT count(*) FROM {table} c
 WHERE c.organization_id = %(org)s AND c.kind = %(kind)s AND c.id <> %(pk)s
   AND ((c.name_key = (SELECT name_key FROM me) AND c.name_key <> ''
         AND (SELECT count(*) FROM {table} o
               WHERE o.organization_id = %(org)s AND o.kind = %(kind)s AND o.id <> %(pk)s
                 AND o.name_key = (SELECT name_key FROM me) AND o.name_key <> ''
             ) < %(group_limit)s)
     OR (%(has_emails)s AND c.emails && %(emails)s::varchar(254)[]
         AND (SELECT count(*) FROM {table} o
               WHERE o.organization_id = %(org)s AND o.kind = %(kind)s AND o.id <> %(pk)s
                 AND o.emails && %(emails)s::varchar(254)[]
             ) < %(group_limit)s)
     OR (%(has_phones)s AND c.phones && %(phones)s::varchar(40)[]
         AND (SELECT count(*) FROM {table} o
               WHERE o.organization_id = %(org)s AND o.kind = %(kind)s AND o.id <> %(pk)s
                 AND o.phones && %(phones)s::varchar(40)[]
             ) < %(group_limit)s))
"""


def duplicate_count_of(customer: Customer) -> int:
    """How many customers look like this one (the customer page's "Possible duplicates")."""
    sql = _DUPLICATE_COUNT_SQL.format(table=connection.ops.quote_name(Customer._meta.db_table))
    params: dict[str, Any] = {
        "org": customer.organization_id,
        "kind": customer.kind,
        "pk": customer.pk,
        "has_emails": bool(customer.emails),
        "emails": list(customer.emails),
        "has_phones": bool(customer.phones),
        "phones": list(customer.phones),
        "group_limit": DUPLICATE_GROUP_LIMIT,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _merged_into_id(*, organization: Organization, pk: int) -> int | None:
    entry = (
        AuditEntry.objects.filter(
            organization=organization,
            object_type=Customer._meta.label_lower,
            object_id=str(pk),
            action=AuditEntry.Action.DELETE,
            changes__has_key="merged_into",
        )
        .order_by("-created_at", "-id")
        .values_list("changes", flat=True)
        .first()
    )
    if entry is None:
        return None
    return int(entry["merged_into"][1])


MERGE_CHAIN_LIMIT = 10


def merged_into(*, organization: Organization, pk: int) -> Customer | None:
    """The customer a since-deleted customer was merged into (from the audit trail), if any.

    Lets a repeated merge (a double submit, a stale tab) say what happened instead of a bare
    404. The kept customer may have been merged away in turn: the chain is followed.
    """
    target_id = _merged_into_id(organization=organization, pk=pk)
    for _ in range(MERGE_CHAIN_LIMIT):
        if target_id is None:
            return None
        target = customer_get(organization=organization, pk=target_id)
        if target is not None:
            return target
        target_id = _merged_into_id(organization=organization, pk=target_id)
    return None


# --- What points at a customer ------------------------------------------------------------


def customer_relations() -> list[ForeignObjectRel]:
    """Every relation from another model (or a customer's people) to Customer.

    Customer._meta.related_objects leaves out relations declared with related_name="+" and
    the foreign keys of auto-created many-to-many tables; get_fields(include_hidden=True)
    lists those too, so a merge moves rows of apps the customers app does not know about.
    Many-to-many relations are skipped: their through table's foreign key is in the list.
    """
    relations = []
    for relation in Customer._meta.get_fields(include_hidden=True):
        if isinstance(relation, ForeignObjectRel) and not relation.many_to_many:
            relations.append(relation)
    return relations


def is_people_relation(relation: ForeignObjectRel) -> bool:
    return relation.related_model is Customer and relation.field.name == "company"


@dataclass(frozen=True)
class RelatedCount:
    label: str
    count: int


def customer_related_counts(customer: Customer) -> list[RelatedCount]:
    """What a merge would move: rows of every related model (one count query per relation)."""
    counts = []
    for relation in customer_relations():
        model = relation.related_model
        rows = model._base_manager.filter(**{relation.field.attname: customer.pk})
        if any(field.name == "organization" for field in model._meta.concrete_fields):
            rows = rows.filter(organization_id=customer.organization_id)
        count = rows.count()
        if count:
            label = "people" if is_people_relation(relation) else model._meta.verbose_name_plural
            counts.append(RelatedCount(label=str(label), count=count))
    return counts


# --- Export ----------------------------------------------------------------------------------

EXPORT_BATCH_SIZE = 2000
_KEYSET_FIELDS = frozenset({"name", "created_at", "updated_at"})


def customer_keyset_batches(
    *, organization: Organization, filterset: CustomerFilterSet, batch_size: int | None = None
) -> Iterator[list[Customer]]:
    """The filtered list in its sort order, batch_size rows per query (keyset pagination).

    Server-side cursors are off (see settings), so a big export is read as consecutive
    "after the last row" queries: memory stays flat and no query skips over earlier rows.
    """
    size = batch_size or EXPORT_BATCH_SIZE
    queryset = customer_list(organization=organization, filters=filterset)
    order = tuple(str(item) for item in queryset.query.order_by)
    if len(order) != 2 or order[1] != "pk" or order[0].lstrip("-") not in _KEYSET_FIELDS:
        queryset, order = queryset.order_by("pk"), ("pk",)
    descending = order[0].startswith("-")
    sort_field = order[0].lstrip("-")
    last: Customer | None = None
    while True:
        page = queryset
        if last is not None:
            value = getattr(last, sort_field)
            if sort_field == "pk":
                page = page.filter(pk__gt=value)
            else:
                beyond = {f"{sort_field}__{'lt' if descending else 'gt'}": value}
                page = page.filter(Q(**beyond) | Q(**{sort_field: value, "pk__gt": last.pk}))
        rows = list(page[:size])
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = rows[-1]


# --- Imports -------------------------------------------------------------------------------


def import_jobs(*, organization: Organization) -> QuerySet[ImportJob]:
    """The organization's imports, newest first, without their (large) file text."""
    return (
        ImportJob.objects.filter(organization=organization)
        .defer("csv_text", "errors", "mapping")
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def import_job_get(
    *, organization: Organization, pk: int, with_text: bool = False
) -> ImportJob | None:
    """One import; its file text only when asked (the progress poll must stay light)."""
    queryset = ImportJob.objects.filter(organization=organization, pk=pk).select_related(
        "created_by"
    )
    if not with_text:
        queryset = queryset.defer("csv_text")
    return queryset.first()
