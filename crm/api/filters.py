"""Filter backends of the API: the apps' django-filter FilterSets, `updated_since`, ordering."""

import datetime
import inspect
import re
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_filters import BooleanFilter, CharFilter, NumberFilter, OrderingFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend
from rest_framework.filters import OrderingFilter as DRFOrderingFilter
from rest_framework.request import Request

UPDATED_SINCE_PARAM = "updated_since"
WHOLE_NUMBER = re.compile(r"-?\d{1,18}")


class TenantFilterBackend(DjangoFilterBackend):
    """Runs the view's FilterSet, handing it the organization when it asks for one."""

    def get_filterset_kwargs(self, request: Request, queryset: Any, view: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        if (
            filterset_class is not None
            and "organization" in inspect.signature(filterset_class.__init__).parameters
        ):
            kwargs["organization"] = request.organization
        return kwargs

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        errors = strict_filter_errors(filterset, request.query_params)
        if errors:
            raise exceptions.ValidationError(errors)
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        for name, value in filterset.form.cleaned_data.items():
            if isinstance(value, datetime.datetime) and timezone.is_aware(value):
                # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows: send UTC.
                filterset.form.cleaned_data[name] = value.astimezone(datetime.UTC)
        return filterset.qs


def strict_filter_errors(filterset: Any, params: Any) -> dict[str, list[str]]:
    """Refuse what django-filter would silently ignore, so a filter never quietly does nothing:
    a blank value (except for text), a boolean other than true/false, a non-whole id.

    The documented types match (crm.api.schema.TenantAutoSchema): ids are integers, booleans
    booleans.
    """
    errors: dict[str, list[str]] = {}
    for name, filter_ in filterset.filters.items():
        if name not in params or isinstance(filter_, CharFilter | OrderingFilter):
            continue
        values = params.getlist(name)
        if any(not value.strip() for value in values):
            errors[name] = ["Give a value, or leave the parameter out."]
        elif isinstance(filter_, NumberFilter) and not all(
            WHOLE_NUMBER.fullmatch(value.strip()) for value in values
        ):
            errors[name] = ["Send a whole number (an id)."]
        elif isinstance(filter_, BooleanFilter) and any(
            value not in ("true", "false") for value in values
        ):
            errors[name] = ["Send true or false."]
    return errors


def updated_since_field(view: Any) -> str | None:
    """The field `updated_since` compares: the view's `updated_since_field`, else updated_at."""
    if hasattr(view, "updated_since_field"):
        return view.updated_since_field
    queryset = getattr(view, "queryset", None)
    model = queryset.model if queryset is not None else None
    if model is not None and any(f.name == "updated_at" for f in model._meta.get_fields()):
        return "updated_at"
    return None


class UpdatedSinceFilter(BaseFilterBackend):
    """`?updated_since=<ISO 8601 date-time>`: rows changed at or after that time, for syncing."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        field = updated_since_field(view)
        raw = request.query_params.get(UPDATED_SINCE_PARAM)
        if field is None or raw is None:
            return queryset
        value = parse_datetime(raw.strip().replace(" ", "+"))
        if value is None:
            day = parse_date(raw.strip())
            if day is None:  # also when blank: the parameter says a time, not "no filter"
                raise exceptions.ValidationError(
                    {
                        UPDATED_SINCE_PARAM: [
                            "Enter an ISO 8601 date-time, e.g. 2026-01-31T09:00:00Z."
                        ]
                    }
                )
            value = datetime.datetime.combine(day, datetime.time.min)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, timezone.get_current_timezone())
        value = value.astimezone(datetime.UTC)  # PostgreSQL refuses offsets beyond ±15:59
        return queryset.filter(**{f"{field}__gte": value})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        field = updated_since_field(view)
        if field is None:
            return []
        return [
            {
                "name": UPDATED_SINCE_PARAM,
                "required": False,
                "in": "query",
                "description": (
                    f"Only rows whose {field} is at or after this ISO 8601 date-time "
                    "(a time without a zone is taken in the organization's time zone)."
                ),
                "schema": {"type": "string", "format": "date-time"},
            }
        ]


class TenantOrderingFilter(DRFOrderingFilter):
    """`?ordering=name` or `-name`, among the view's `ordering_fields` (none unless declared)."""

    def get_valid_fields(self, queryset: Any, view: Any, context: Any = None) -> Any:
        if getattr(view, "ordering_fields", None) is None:
            return []
        return super().get_valid_fields(queryset, view, context or {})
