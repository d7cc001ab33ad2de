"""API endpoints of customers: people, companies, consent (read), custom field definitions."""

from typing import Any

import django_filters
from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.viewsets import TenantModelViewSet, TenantReadOnlyModelViewSet
from customers import selectors, services
from customers.api.serializers import (
    CompanySerializer,
    ConsentEventSerializer,
    CurrentConsentSerializer,
    CustomerSerializer,
    CustomFieldDefinitionSerializer,
)
from customers.filters import CustomerFilterSet
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition


class CustomerViewSet(TenantModelViewSet):
    """People and companies. Filter with the same parameters as the customer list page."""

    queryset = Customer.all_tenants.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    permission_resource = "customers"
    permission_map = {"destroy": "customers.delete", "consent": "customers.view"}
    ordering = ("id",)
    ordering_fields = ("name", "created_at", "updated_at")

    def perform_destroy(self, instance: Customer) -> None:
        services.customer_delete(
            customer=instance, organization=self.organization, actor=self.request.user
        )

    @extend_schema(responses=CurrentConsentSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None)
    def consent(self, request: Request, pk: Any = None) -> Response:
        """The customer's current consent on every channel (the latest change per channel)."""
        customer = self.get_object()
        current = selectors.current_consents(customer=customer)
        rows = [
            {
                "channel": channel,
                "granted": current[channel].granted if channel in current else None,
                "method": current[channel].method if channel in current else None,
                "occurred_at": current[channel].occurred_at if channel in current else None,
            }
            for channel in Channel.values
        ]
        return Response(CurrentConsentSerializer(rows, many=True).data)


class CompanyViewSet(CustomerViewSet):
    """Company accounts (customers of kind company), with how many people belong to each."""

    serializer_class = CompanySerializer

    def base_queryset(self) -> Any:
        return (
            super()
            .base_queryset()
            .filter(kind=Customer.Kind.COMPANY)
            .annotate(people_count=Count("people", filter=Q(people__kind=Customer.Kind.PERSON)))
        )

    def perform_create(self, serializer: Any) -> None:
        serializer.save()
        self._reload(serializer)

    def perform_update(self, serializer: Any) -> None:
        serializer.save()
        self._reload(serializer)

    def _reload(self, serializer: Any) -> None:
        """Answer with the annotated row (people_count), as list and retrieve do."""
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


class ConsentEventFilterSet(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    granted = django_filters.BooleanFilter()

    class Meta:
        model = ConsentEvent
        fields: list[str] = []


class ConsentEventViewSet(TenantReadOnlyModelViewSet):
    """Every consent change (filter by customer and channel), newest first by default."""

    queryset = ConsentEvent.all_tenants.all()
    serializer_class = ConsentEventSerializer
    permission_resource = "customers"
    filterset_class = ConsentEventFilterSet
    ordering = ("-occurred_at",)
    ordering_fields = ("occurred_at", "id")
    updated_since_field = "occurred_at"


class CustomFieldDefinitionViewSet(TenantModelViewSet):
    """The custom fields of the organization's customers; admins manage them."""

    queryset = CustomFieldDefinition.all_tenants.all()
    serializer_class = CustomFieldDefinitionSerializer
    permission_resource = "customers"
    permission_map = {
        "create": "custom_fields.manage",
        "update": "custom_fields.manage",
        "partial_update": "custom_fields.manage",
        "destroy": "custom_fields.manage",
    }
    ordering = ("position",)
    ordering_fields = ("position", "id")
    updated_since_field = None

    def perform_destroy(self, instance: CustomFieldDefinition) -> None:
        services.custom_field_definition_delete(
            definition=instance, organization=self.organization, actor=self.request.user
        )
