"""One JSON shape for every API error, naming each bad field:

    {"error": {"code": "invalid", "message": "...", "fields": {"email": ["Enter a valid ..."]}}}

Django ValidationErrors raised by services become 400 with their fields; Http404 and
PermissionDenied become 404 and 403. The request's transaction is rolled back (see
crm.api.viewsets), so nothing is written on any error.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD_KEYS = ("non_field_errors", "__all__")
CODES_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def django_validation_detail(error: DjangoValidationError) -> Any:
    """A service's ValidationError as DRF detail: {field: [messages]} or [messages]."""
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): list(messages)
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": list(error.messages)}


def _as_text(detail: Any) -> Any:
    """Plain strings, lists and dicts (DRF's ErrorDetail carries a code we don't need here)."""
    if isinstance(detail, dict):
        return {str(key): _as_text(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_as_text(item) for item in detail]
    return str(detail)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _body_for(exc: exceptions.APIException, status_code: int) -> dict[str, Any]:
    detail = _as_text(exc.detail)
    code = CODES_BY_STATUS.get(status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        fields = flatten_fields(
            {key: value for key, value in detail.items() if key not in NON_FIELD_KEYS}
        )
        general = [message for key in NON_FIELD_KEYS for message in _flatten(detail.get(key, []))]
        if general:
            message = " ".join(general)
        elif fields:
            names = ", ".join(sorted(fields))
            message = f"Some fields are not valid: {names}."
        else:
            message = "The request is not valid."
        return error_body(code, message, fields)
    if isinstance(detail, dict | list):
        return error_body(code, " ".join(_flatten(detail)))
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        return error_body(code, f"Too many requests; retry in {int(exc.wait) + 1} seconds.")
    return error_body(code, detail)


def flatten_fields(detail: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Nested errors as dotted field names: {"lines.0.product": ["..."]}."""
    fields: dict[str, list[str]] = {}
    for key, value in detail.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            fields.update(flatten_fields(value, f"{name}."))
        elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
            for index, item in enumerate(value):
                if item:
                    nested = item if isinstance(item, dict) else {"": item}
                    fields.update(flatten_fields(nested, f"{name}.{index}."))
        else:
            fields[name] = value if isinstance(value, list) else [value]
    return {name.rstrip("."): messages for name, messages in fields.items()}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in _flatten(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in _flatten(value)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After), with the body in our shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    response.data = _body_for(exc, response.status_code)
    return response
