"""Reads of customers beyond one ORM call: the filtered list, the detail page, consent state."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    ExpressionWrapper,
    F,
    ForeignObjectRel,
    Func,
    Q,
    QuerySet,
    Subquery,
)

from crm.models import Organization
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


def known_tags(*, organization: Organization, limit: int = 200) -> list[str]:
    """Tags in use in the organization, for the tag filter's suggestions."""
    return list(
        Customer.objects.filter(organization=organization)
        .annotate(tag=Func(F("tags"), function="unnest", output_field=CharField()))
        .values_list("tag", flat=True)
        .distinct()
        .order_by("tag")[:limit]
    )


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
    current = current_consents(customer=customer)
    consents = [
        ConsentState(channel=value, label=str(label), event=current.get(value))
        for value, label in Channel.choices
    ]
    history = list(consent_history(customer=customer)[: CONSENT_HISTORY_SHOWN + 1])
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
    REASON_NAME: "Same name",
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


# Pairs (lower id first) of customers of one kind sharing an e-mail, a phone or a name key.
# Set-based: e-mails and phones are unnested and hash-joined on their value, names joined on
# the indexed name key; UNION removes the repeats of pairs sharing several values.
_PAIRS_SQL = """
WITH c AS (
    SELECT id, kind, emails, phones, name_key FROM {table} WHERE organization_id = %(org)s
), e AS (
    SELECT id, kind, unnest(emails) AS value FROM c
), p AS (
    SELECT id, kind, unnest(phones) AS value FROM c
), matches AS (
    SELECT a.id AS first_id, b.id AS second_id, 'email' AS reason
      FROM e a JOIN e b ON b.value = a.value AND b.kind = a.kind AND b.id > a.id
    UNION
    SELECT a.id, b.id, 'phone'
      FROM p a JOIN p b ON b.value = a.value AND b.kind = a.kind AND b.id > a.id
    UNION
    SELECT a.id, b.id, 'name'
      FROM c a JOIN c b ON b.name_key = a.name_key AND b.kind = a.kind AND b.id > a.id
     WHERE a.name_key <> ''
), pairs AS (
    SELECT first_id, second_id, array_agg(reason ORDER BY reason) AS reasons
      FROM matches GROUP BY first_id, second_id
)
"""


def _pairs_sql(tail: str) -> str:
    return _PAIRS_SQL.format(table=connection.ops.quote_name(Customer._meta.db_table)) + tail


class DuplicatePairs:
    """The organization's duplicate candidates as a lazy sequence a Paginator can page.

    count() is one query; a slice is one query for the pairs and one for their customers.
    Pairs sharing more reasons come first.
    """

    def __init__(self, *, organization: Organization) -> None:
        self.organization = organization
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    _pairs_sql("SELECT count(*) FROM pairs"), {"org": self.organization.pk}
                )
                self._count = int(cursor.fetchone()[0])
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[DuplicatePair]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("DuplicatePairs supports slices only.")
        offset = max(key.start or 0, 0)
        limit = None if key.stop is None else max(key.stop - offset, 0)
        if limit == 0:
            return []
        sql = _pairs_sql(
            "SELECT first_id, second_id, reasons FROM pairs "
            "ORDER BY cardinality(reasons) DESC, first_id, second_id "
            "LIMIT %(limit)s OFFSET %(offset)s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, {"org": self.organization.pk, "limit": limit, "offset": offset})
            rows = cursor.fetchall()
        ids = {pk for first_id, second_id, _ in rows for pk in (first_id, second_id)}
        customers = Customer.objects.filter(organization=self.organization, pk__in=ids)
        by_id = {customer.pk: customer for customer in customers.select_related("owner")}
        return [
            DuplicatePair(first=by_id[first_id], second=by_id[second_id], reasons=tuple(reasons))
            for first_id, second_id, reasons in rows
            if first_id in by_id and second_id in by_id
        ]


def duplicate_pairs(*, organization: Organization) -> DuplicatePairs:
    """Every candidate pair of the organization, lazily (for the duplicates page's Paginator)."""
    return DuplicatePairs(organization=organization)


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
    nothing = Q(pk__in=[])
    return {
        REASON_EMAIL: Q(emails__overlap=customer.emails) if customer.emails else nothing,
        REASON_NAME: Q(name_key=name_key) & ~Q(name_key=""),
        REASON_PHONE: Q(phones__overlap=customer.phones) if customer.phones else nothing,
    }


def _duplicates_of_queryset(customer: Customer) -> QuerySet[Customer]:
    conditions = _similarity_conditions(customer)
    return (
        Customer.objects.filter(organization_id=customer.organization_id, kind=customer.kind)
        .exclude(pk=customer.pk)
        .filter(conditions[REASON_EMAIL] | conditions[REASON_NAME] | conditions[REASON_PHONE])
    )


def duplicates_of(customer: Customer, *, limit: int | None = None) -> list[DuplicatePair]:
    """The customers that look like `customer` (one query), each with the reasons."""
    flags = {
        f"same_{reason}": ExpressionWrapper(condition, output_field=BooleanField())
        for reason, condition in _similarity_conditions(customer).items()
    }
    queryset = (
        _duplicates_of_queryset(customer)
        .annotate(**flags)
        .select_related("owner")
        .order_by("name", "pk")
    )
    if limit is not None:
        queryset = queryset[:limit]
    return [
        DuplicatePair(
            first=customer,
            second=other,
            reasons=tuple(
                reason for reason in sorted(REASON_LABELS) if getattr(other, f"same_{reason}")
            ),
        )
        for other in queryset
    ]


def duplicate_count_of(customer: Customer) -> int:
    """How many customers look like this one (the customer page's "Possible duplicates")."""
    return _duplicates_of_queryset(customer).count()


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
