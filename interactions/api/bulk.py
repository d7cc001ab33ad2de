"""POST /api/v1/interactions/bulk: up to 5,000 touchpoints a call (interactions.ingest).

The call's shape, limits and answer are those of every bulk endpoint (customers.api.bulk).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from customers.api.bulk import BulkResponseSerializer, BulkViewSet, documented
from customers.ingest import MAX_RECORDS
from interactions.ingest import interactions_ingest
from interactions.models import Channel, Direction, Kind


class InteractionRecordSerializer(serializers.Serializer):
    """One event; (source, external_id) identifies it, so sending it again changes nothing."""

    source = documented("Required. Text, at most 50 characters: the sending system, e.g. webshop.")
    external_id = documented("Required. Text, at most 100 characters: the event's id there.")
    kind = documented(f"Required. One of: {', '.join(Kind.values)}.")
    occurred_at = documented(
        "Required. ISO 8601 date and time with its offset, e.g. 2024-05-01T14:30:00+02:00; "
        "not in the future."
    )
    customer_external_id = documented("The customer's external id (matched first).")
    customer_email = documented("The customer's e-mail, any case (matched when no id matches).")
    customer_name = documented("The name of a customer the call creates (create_customers).")
    channel = documented(f"One of: {', '.join(Channel.values)}; the kind's usual one if left out.")
    direction = documented(f"One of: {', '.join(Direction.values)}.")
    subject = documented("Text, at most 200 characters.")
    body = documented("Text.")
    amount = documented(
        "A number or numeric text, at least 0, at most 2 decimals; a purchase with lines "
        "totals its lines."
    )
    currency = documented("A three-letter ISO 4217 code; the organization's by default.")
    metadata = documented("An object of anything else worth keeping (under 10,000 characters).")
    lines = documented(
        "Purchases only: a list of {sku, quantity (default 1), unit_price (default the "
        "product's)}; products are found by SKU."
    )


class InteractionBulkRequestSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=InteractionRecordSerializer(), min_length=1, max_length=MAX_RECORDS
    )
    create_customers = serializers.BooleanField(
        default=False,
        help_text="Create the customers no record's external id or e-mail matches.",
    )


class InteractionBulkViewSet(BulkViewSet):
    """Record up to 5,000 touchpoints a call; one result per record (created / unchanged /
    error with the reasons per field).

    The customer is found by `customer_external_id`, else `customer_email`; with
    `create_customers` the ones not found are created. Purchases may carry lines by SKU.
    """

    permission_map = {"create": "interactions.log"}
    serializer_class = InteractionBulkRequestSerializer  # describes the body (OPTIONS, schema)
    option_names = ("create_customers",)

    @extend_schema(
        operation_id="interactions_bulk_create",
        request=InteractionBulkRequestSerializer,
        responses={200: BulkResponseSerializer},
    )
    def create(self, request: Request) -> Response:
        return self.run(request, interactions_ingest)

    def clean_options(self, options: dict[str, Any]) -> dict[str, Any]:
        create_customers = options.get("create_customers", False)
        if not isinstance(create_customers, bool):
            raise exceptions.ValidationError({"create_customers": ["Give true or false."]})
        return {"create_customers": create_customers}
