"""Base viewsets of the API: tenant-scoped, transactional, idempotent, permission-checked.

Every viewset of every app subclasses one of these:

- get_queryset() ALWAYS filters by request.organization (subclasses shape the rows in
  base_queryset() and may not override get_queryset, so an endpoint cannot forget);
- each request runs in one transaction, rolled back when the answer is an error, so nothing is
  written on any error;
- a POST with an Idempotency-Key header is answered once (crm.api.idempotency);
- permissions come from `permission_resource` / `permission_map` (crm.api.permissions);
- lists are filtered (django-filter `filterset_class`, `updated_since`, `ordering`) and
  cursor-paginated (crm.api.pagination).

Subclasses set `queryset = Model.all_tenants.all()` (a lazy queryset that needs no tenant at
import time; it is scoped here) and write through services in their serializers.
"""

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from rest_framework import exceptions, mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import idempotency
from crm.models import Organization


class TenantGenericViewSet(viewsets.GenericViewSet):
    """The tenant-scoped base: see the module docstring."""

    permission_resource: ClassVar[str | None] = None
    permission_map: ClassVar[dict[str, str]] = {}
    ordering: Any = ("-id",)
    ordering_fields: Any = None
    _idempotent_request: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__} overrides get_queryset; override base_queryset() instead, "
                "so the organization filter cannot be lost."
            )

    @property
    def organization(self) -> Organization:
        organization = getattr(self.request, "organization", None)
        if organization is None:
            raise exceptions.NotAuthenticated()
        return organization

    def base_queryset(self) -> models.QuerySet[Any]:
        """The rows before scoping: override to add select_related, annotations, etc."""
        return super().get_queryset()

    def get_queryset(self) -> models.QuerySet[Any]:
        return self.base_queryset().filter(organization=self.organization)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            elif self._idempotent_request is not None:
                idempotency.store(self._idempotent_request, response)
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotent_request = idempotency.claim(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.Replay):
            return exc.response
        return super().handle_exception(exc)


class TenantReadOnlyModelViewSet(
    mixins.RetrieveModelMixin, mixins.ListModelMixin, TenantGenericViewSet
):
    """List and retrieve."""


class TenantModelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """CRUD. Serializers create and update through services; deletes call perform_destroy,
    which subclasses that allow DELETE implement with their service (or leave DELETE out of
    http_method_names)."""

    def perform_destroy(self, instance: Any) -> None:
        raise ImproperlyConfigured(
            f"{type(self).__name__} allows DELETE but does not delete through a service."
        )
