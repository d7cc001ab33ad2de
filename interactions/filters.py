"""FilterSets of interactions, purchase lines, products, cases and tasks (used by the API).

Related rows are filtered by id (NumberFilter on the `_id` column): the queryset is already
scoped to the organization, so another organization's id simply matches nothing.
"""

import django_filters
from django.db.models import QuerySet

from interactions.models import (
    Case,
    Channel,
    Direction,
    Interaction,
    Kind,
    Product,
    PurchaseLine,
    Task,
)


class InteractionFilterSet(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    kind = django_filters.MultipleChoiceFilter(choices=Kind.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices)
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    case = django_filters.NumberFilter(field_name="case_id")
    user = django_filters.NumberFilter(field_name="user_id")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Interaction
        fields: list[str] = []


class PurchaseLineFilterSet(django_filters.FilterSet):
    interaction = django_filters.NumberFilter(field_name="interaction_id")
    product = django_filters.NumberFilter(field_name="product_id")
    customer = django_filters.NumberFilter(field_name="interaction__customer_id")
    returned_line = django_filters.NumberFilter(field_name="returned_line_id")

    class Meta:
        model = PurchaseLine
        fields: list[str] = []


class ProductFilterSet(django_filters.FilterSet):
    sku = django_filters.CharFilter()
    category = django_filters.CharFilter()
    active = django_filters.BooleanFilter()

    class Meta:
        model = Product
        fields: list[str] = []


class CaseFilterSet(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    status = django_filters.MultipleChoiceFilter(choices=Case.Status.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Case.Priority.choices)
    assignee = django_filters.NumberFilter(field_name="assignee_id")
    number = django_filters.NumberFilter()

    class Meta:
        model = Case
        fields: list[str] = []


class TaskFilterSet(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    assignee = django_filters.NumberFilter(field_name="assignee_id")
    interaction = django_filters.NumberFilter(field_name="interaction_id")
    done = django_filters.BooleanFilter(method="filter_done", label="Done")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_done(
        self, queryset: QuerySet[Task], name: str, value: bool | None
    ) -> QuerySet[Task]:
        if value is None:
            return queryset
        return queryset.filter(done_at__isnull=not value)
