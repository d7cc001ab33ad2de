"""POST /api/v1/customers/bulk: upsert up to 5,000 customers a call (customers.ingest).

The bulk endpoints (this one and interactions/bulk) share the base here:

- the body is `{"records": [...], ...options}`, at most MAX_BODY_BYTES (413 beyond, before
  anything is parsed); a call that is not well-formed as a whole (no list, empty, more than
  5,000 records, a record that is not an object, a bad option) is a 400 in the API's one
  error shape and writes nothing; other keys of the body are ignored;
- otherwise the answer is **200** with one result per record, in order, and counts:
  `{"created": 2, "updated": 0, "unchanged": 1, "errors": 1, "results": [{"index": 0,
  "status": "created", "id": 17}, ..., {"index": 3, "status": "error", "errors": {"emails":
  ["..."]}}]}`. 200 rather than 207 Multi-Status: 207 is WebDAV's, with XML semantics, and
  clients and proxies treat any 2xx alike, so the per-record status in the body is what counts;
  the records that passed are committed, the refused ones changed nothing;
- the key needs write scope and the member's role the permission in `permission_map`;
  Idempotency-Key, rate limit and the tenant's transaction come from TenantGenericViewSet.

Serializers here only describe the bodies for the OpenAPI schema: validation is the services'
set-based code, since DRF fields cost far more per record than a 20,000 records/s feed allows.
"""

import io
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.viewsets import TenantGenericViewSet
from customers.ingest import (
    CREATED,
    ERROR,
    MAX_RECORDS,
    UNCHANGED,
    UPDATED,
    RecordResult,
    customers_upsert,
)
from customers.models import Channel, Customer

MAX_BODY_BYTES = 16 * 1024 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"Send at most {MAX_BODY_BYTES // (1024 * 1024)} MB a call."
    default_code = "payload_too_large"


class RecordResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's position in the call, from 0.")
    status = serializers.ChoiceField(choices=[CREATED, UPDATED, UNCHANGED, ERROR])
    id = serializers.IntegerField(required=False, help_text="The stored object (not on errors).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Why the record was refused: messages per field.",
    )


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = RecordResultSerializer(many=True)


def documented(description: str) -> serializers.JSONField:
    """A record field in the schema: described, not constrained.

    A bulk call answers a bad value in one record with that record's error (200) while the
    others go in; so the schema leaves record fields open, and no record makes the whole call
    invalid for a client that validates against the schema (or for schemathesis).
    """
    return serializers.JSONField(required=False, help_text=description)


def bulk_response(results: Sequence[RecordResult]) -> Response:
    counts = Counter(result.status for result in results)
    return Response(
        {
            "created": counts[CREATED],
            "updated": counts[UPDATED],
            "unchanged": counts[UNCHANGED],
            "errors": counts[ERROR],
            "results": [result.as_dict() for result in results],
        }
    )


class BulkViewSet(TenantGenericViewSet):
    """POST-only base of the bulk endpoints: body size limit, call shape, per-record answer."""

    http_method_names = ["post", "options"]
    # DRF's own JSON parser: text PostgreSQL cannot store is one record's error here (see
    # crm.text.text_problem), not the whole call's as crm.api.parsers makes it.
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: ClassVar[list[Any]] = []
    option_names: ClassVar[tuple[str, ...]] = ()  # body keys read besides "records"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        raw = request._request
        if not hasattr(raw, "_body") and not raw._read_started:
            # Read the body under this endpoint's limit and keep it where HttpRequest.body
            # looks first, so that hashing it for an Idempotency-Key is not refused by Django's
            # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, meant for forms) before the parser runs.
            raw._body = raw.read(MAX_BODY_BYTES + 1)
            raw._stream = io.BytesIO(raw._body)
            if len(raw._body) > MAX_BODY_BYTES:
                raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)

    def call_body(self, request: Request) -> tuple[list[Any], dict[str, Any]]:
        """The records and options of the call, or a 400 naming what is wrong with it."""
        body = request.data
        if not isinstance(body, Mapping):
            raise exceptions.ValidationError(
                {"non_field_errors": ['Send an object: {"records": [...]}.']}
            )
        problems: dict[str, list[str]] = {}
        records = body.get("records")
        if not isinstance(records, list):
            problems["records"] = ["Send a list of records."]
        elif not records:
            problems["records"] = ["Send at least one record."]
        elif len(records) > MAX_RECORDS:
            problems["records"] = [
                f"Send at most {MAX_RECORDS} records a call (this has {len(records)})."
            ]
        else:
            problems.update(
                (f"records.{index}", ["Send each record as an object."])
                for index, record in enumerate(records)
                if not isinstance(record, Mapping)
            )
        if problems or not isinstance(records, list):
            raise exceptions.ValidationError(problems)
        return records, {key: body[key] for key in self.option_names if key in body}

    def clean_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options as keyword arguments of the ingest function (400 when not valid)."""
        return options

    def run(self, request: Request, ingest: Callable[..., list[RecordResult]]) -> Response:
        records, options = self.call_body(request)
        results = ingest(
            organization=self.organization,
            actor=request.user,
            records=records,
            **self.clean_options(options),
        )
        return bulk_response(results)


# --- customers/bulk ----------------------------------------------------------------------------


class CustomerRecordSerializer(serializers.Serializer):
    """One customer: matched by external_id, else by any of its e-mails; created if none."""

    external_id = documented("Text, at most 100 characters: your system's id. Matched first.")
    name = documented("Text, at most 200 characters. Needed to create a customer.")
    kind = documented("person (default) or company.")
    emails = documented("A list of e-mail addresses (or one as text). Matched next.")
    phones = documented("A list of phone numbers: digits, spaces, dashes, dots, (), a leading +.")
    street = documented("Text, at most 200 characters.")
    city = documented("Text, at most 100 characters.")
    postal_code = documented("Text, at most 20 characters.")
    region = documented("Text, at most 100 characters.")
    country = documented("A two-letter ISO 3166 code, e.g. GB.")
    lifecycle_stage = documented(f"One of: {', '.join(Customer.LifecycleStage.values)}.")
    tags = documented("A list of tags (or comma-separated text), at most 50 characters each.")
    source = documented("Text, at most 100 characters: where the customer came from.")
    preferred_channel = documented(f"One of: {', '.join(Channel.values)}.")
    custom_fields = documented("An object of custom field key: value (set per key).")
    owner_email = documented("The e-mail of an active member, who then owns the customer.")


class CustomerBulkRequestSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=CustomerRecordSerializer(), min_length=1, max_length=MAX_RECORDS
    )


class CustomerBulkViewSet(BulkViewSet):
    """Create or update up to 5,000 customers a call; one result per record.

    A record updates the customer with its external id, else with one of its e-mails: only the
    fields it sends; e-mails, phones and tags are added (never removed); custom values are set
    per key. Without a match it creates a customer (then `name` is needed). Sending the same
    record again answers "unchanged". Two records of one call may not be for one customer.
    """

    permission_map = {"create": "customers.change"}
    serializer_class = CustomerBulkRequestSerializer  # describes the body (OPTIONS, schema)

    @extend_schema(
        operation_id="customers_bulk_upsert",
        request=CustomerBulkRequestSerializer,
        responses={200: BulkResponseSerializer},
    )
    def create(self, request: Request) -> Response:
        return self.run(request, customers_upsert)
