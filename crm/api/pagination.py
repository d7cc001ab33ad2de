"""Cursor pagination for every list: stable under inserts, fast at any depth (keyset).

The ordering comes from the `ordering` parameter (crm.api.filters.TenantOrderingFilter) or the
view's default, with the primary key added as a tie-breaker so equal values keep one order.
"""

import re
from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

WHOLE_NUMBER = re.compile(r"\d{1,9}")


class TenantCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...]:
        ordering = tuple(super().get_ordering(request, queryset, view))
        if ordering and ordering[0].lstrip("-") not in ("id", "pk") and len(ordering) == 1:
            tie = "-id" if ordering[0].startswith("-") else "id"
            ordering = (*ordering, tie)
        return ordering

    def get_page_size(self, request: Any) -> int:
        """`page_size` from 1 to max_page_size; anything else is a 400 (not silently ignored)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Send a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters
