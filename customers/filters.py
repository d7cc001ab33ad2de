"""The one customer FilterSet, shared by the list page and (later) the API."""

import re
from typing import Any

import django_filters
from django.contrib.postgres.search import SearchQueryField
from django.db.models import BooleanField, F, Func, QuerySet, Value

from crm.models import Organization, User
from customers.models import Customer

# Search tokens keep the characters of e-mail addresses and phone numbers (@ . + -) and split
# on everything else, which also keeps tsquery syntax (' : * & | ! ( ) < >) out of them.
_TOKEN = re.compile(r"[\w@.+\-]+")
_PHONE_LIKE = re.compile(r"^[\d\s+().\-]+$")
_PHONE_TOKEN = re.compile(r"^[\d+().\-]+$")
_EDGE_PUNCTUATION = "@.+-_"


def search_tokens(text: str) -> list[str]:
    """Lowercase tokens of a search box's text; phone-like input becomes its digits.

    A whole query such as "+1 (415) 555-0123" is one phone number: its digits are one token.
    """
    text = (text or "").strip().lower()[:200]
    if not text:
        return []
    if _PHONE_LIKE.match(text) and any(ch.isdigit() for ch in text):
        return ["".join(ch for ch in text if ch.isdigit())]
    tokens: list[str] = []
    for raw in _TOKEN.findall(text):
        if _PHONE_TOKEN.match(raw):
            token = "".join(ch for ch in raw if ch.isdigit())
        else:
            token = raw.strip(_EDGE_PUNCTUATION)
        if token and any(ch.isalnum() for ch in token) and token not in tokens:
            tokens.append(token)
    return tokens[:10]


def search_tsquery(text: str) -> str | None:
    """A raw tsquery matching every token as a prefix: "'smi':* & 'john':*" (None if empty).

    Tokens only hold word characters and @ . + - (see _TOKEN), so quoting them is safe; quotes
    and backslashes are escaped anyway, in case the token pattern ever widens.
    """
    tokens = search_tokens(text)
    if not tokens:
        return None
    quoted = (token.replace("\\", "\\\\").replace("'", "''") for token in tokens)
    return " & ".join(f"'{token}':*" for token in quoted)


class _Matches(Func):
    """`search_vector @@ (query::tsquery || to_tsquery('simple', query))`.

    The parser behind to_tsquery splits a typed "ada@example" into a phrase of two words that no
    address matches, while the cast keeps it one prefix of the indexed 'ada@example.com'; the
    parser in turn splits "mj+news@example.net" as the document's parser did. Either reading
    matching is a match.
    """

    template = "%(expressions)s"
    arg_joiner = " @@ "
    output_field = BooleanField()


class _EitherReading(Func):
    output_field = SearchQueryField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql}::tsquery || to_tsquery('simple', {sql}))", (*params, *params)


def search_customers(queryset: QuerySet[Customer], text: str) -> QuerySet[Customer]:
    """Customers whose name, e-mail, phone or tag match every token of `text` as a prefix."""
    query = search_tsquery(text)
    if query is None:
        return queryset if not (text or "").strip() else queryset.none()
    return queryset.filter(_Matches(F("search_vector"), _EitherReading(Value(query))))


def active_members(*, organization: Organization) -> QuerySet[User]:
    """Users who may own customers: active members of the organization."""
    return User.objects.filter(
        memberships__organization=organization,
        memberships__is_active=True,
        is_active=True,
    ).order_by("full_name", "email")


class CustomerOrderingFilter(django_filters.OrderingFilter):
    """Name, creation or last change, either way; always with a stable tie-breaker."""

    DEFAULT = "name"

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        ordering = [self.get_ordering_value(param) for param in value or [] if param]
        return qs.order_by(*(ordering or [self.DEFAULT]), "pk")


class CustomerFilterSet(django_filters.FilterSet):
    """q (full-text search), lifecycle stage, owner, tag, kind, company; `ordering` sorts."""

    q = django_filters.CharFilter(method="filter_search", label="Search")
    lifecycle_stage = django_filters.ChoiceFilter(
        choices=Customer.LifecycleStage.choices, label="Stage", empty_label="Any stage"
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=User.objects.none(), label="Owner", empty_label="Anyone"
    )
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    kind = django_filters.ChoiceFilter(
        choices=Customer.Kind.choices, label="Kind", empty_label="Any kind"
    )
    company = django_filters.NumberFilter(field_name="company_id", label="Company")
    ordering = CustomerOrderingFilter(
        fields=(("name", "name"), ("created_at", "created_at"), ("updated_at", "updated_at")),
        field_labels={
            "name": "Name (A to Z)",
            "-name": "Name (Z to A)",
            "created_at": "Oldest first",
            "-created_at": "Newest first",
            "updated_at": "Least recently updated",
            "-updated_at": "Recently updated",
        },
        label="Sort",
        empty_label=None,
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def __init__(
        self, data: Any = None, *, organization: Organization, queryset: Any = None, **kwargs: Any
    ) -> None:
        if queryset is None:
            queryset = Customer.objects.filter(organization=organization)
        super().__init__(data, queryset=queryset, **kwargs)
        self.organization = organization
        owner_filter = self.filters["owner"]
        owner_filter.queryset = active_members(organization=organization)
        self.form.fields["owner"].queryset = owner_filter.queryset
        self.form.fields["q"].widget.attrs.update(
            {"type": "search", "placeholder": "Name, e-mail, phone or tag", "autocomplete": "off"}
        )
        self.form.fields["tag"].widget.attrs.update({"list": "known-tags", "autocomplete": "off"})

    def filter_search(self, queryset: QuerySet[Customer], name: str, value: str) -> Any:
        return search_customers(queryset, value)

    def filter_tag(self, queryset: QuerySet[Customer], name: str, value: str) -> Any:
        tag = value.strip().lower()
        return queryset.filter(tags__contains=[tag]) if tag else queryset

    @property
    def is_filtered(self) -> bool:
        """Whether anything narrows the list (to tell "no customers yet" from "no match")."""
        data = self.data or {}
        return any(str(data.get(name) or "").strip() for name in self.filters if name != "ordering")
