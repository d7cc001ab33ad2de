"""OpenAPI generation (drf-spectacular) for the tenant-scoped API."""

from typing import Any

from django_filters import BooleanFilter, NumberFilter, OrderingFilter
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from crm.api import idempotency
from crm.tenancy import tenant_context

# No organization has this id: tenant-scoped managers work and any query sees no rows.
SCHEMA_TENANT_ID = 0


class TenantSchemaGenerator(SchemaGenerator):
    """Builds the schema inside an empty tenant: introspection (e.g. django-filter's
    `Model.objects.none()`) must not fail closed, and it never reads any tenant's data."""

    def get_schema(self, *args: Any, **kwargs: Any) -> Any:
        with tenant_context(SCHEMA_TENANT_ID):
            return super().get_schema(*args, **kwargs)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made on the organization's settings page "
            "(Settings → API keys): `Authorization: Bearer tp_...`.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.authentication.OrganizationSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A signed-in browser session; name the organization in an "
            "`X-Organization: <slug>` header and send the CSRF token in `X-CSRFToken`.",
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What went wrong, e.g. invalid, not_found, throttled.")
    message = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per bad field (dotted names for nested ones: lines.0.product).",
    )


class ErrorSerializer(serializers.Serializer):
    """The one shape of every error answer (crm.api.errors)."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `error.fields` names each bad field. Nothing was written.",
    401: "No credentials, or an unknown, malformed or revoked API key.",
    403: "The role of the key's member (or the key's read scope) does not allow this.",
    404: "No such object in your organization (or, for sessions, no such organization).",
    413: "The body is too large.",
    415: "The body is not JSON (send `Content-Type: application/json`).",
    422: "This Idempotency-Key was already used for a different request.",
    429: "Too many requests for this key: retry after `Retry-After` seconds.",
}


class TenantAutoSchema(AutoSchema):
    """Documents, besides the success answer, the errors every operation can give (in the one
    error shape), and the `Idempotency-Key` header of POSTs, so clients (and schemathesis) can
    rely on the schema for every answer."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not operation.get("security"):
            return operation  # excluded, or public (the docs): no tenant errors
        if self.method == "POST":
            operation.setdefault("parameters", []).append(
                build_parameter_type(
                    name="Idempotency-Key",
                    schema={"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH},
                    location=OpenApiParameter.HEADER,
                    description="Any unique string: a retry with the same key and body gets the "
                    "first answer and writes nothing.",
                )
            )
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for status_code in self.error_status_codes(operation):
            operation["responses"].setdefault(
                str(status_code),
                {
                    "description": ERROR_DESCRIPTIONS[status_code],
                    "content": {"application/json": {"schema": error}},
                },
            )
        return operation

    def _get_filter_parameters(self) -> Any:
        """Filters' documented types as crm.api.filters enforces them: ids are integers, etc."""
        parameters = super()._get_filter_parameters()
        filterset_class = getattr(self.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class is not None else {}
        for parameter in parameters:
            filter_ = filters.get(parameter["name"])
            if isinstance(filter_, NumberFilter):
                parameter["schema"] = {**parameter["schema"], "type": "integer"}
            elif isinstance(filter_, BooleanFilter):
                parameter["schema"] = {"type": "boolean"}
            elif isinstance(filter_, OrderingFilter):  # a FilterSet's own, with fixed choices
                choices = [value for value, _label in filter_.extra.get("choices", [])]
                parameter["schema"] = {"type": "string", "enum": choices}
        return parameters

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict):
            return schema
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            # drf-spectacular's pattern also matches "" and "-", which DRF refuses.
            whole, places = field.max_whole_digits, field.decimal_places
            if whole:
                schema["pattern"] = (
                    rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
                )
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # Nested `many=True` serializers' length limits, which drf-spectacular leaves out.
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def error_status_codes(self, operation: dict[str, Any]) -> list[int]:
        codes = [400, 401, 403, 404, 429]
        if "requestBody" in operation or self.method in ("POST", "PUT", "PATCH"):
            codes.append(415)
        if self.method == "POST":
            codes.append(422)
        codes += getattr(self.view, "error_status_codes", [])
        return sorted(set(codes))
