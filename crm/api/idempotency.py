"""`Idempotency-Key` on POST: a retried request gets the first answer and writes nothing.

The key is claimed (an IdempotentRequest row inserted) before the request's work, inside the
request's transaction: a concurrent retry waits on the unique index until the first commits.
The answer is stored when the work succeeded; on an error the transaction, claim included, is
rolled back, so the retry runs again. The same key with another body, path or credential is
refused with 422.
"""

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import ApiKey, IdempotentRequest

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_detail = (
        "This Idempotency-Key was already used for a different request; use a new key for a "
        "new request."
    )
    default_code = "idempotency_key_reused"


class Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


def credential_of(request: Request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"api_key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def request_hash(request: Request) -> str:
    try:
        body = request._request.body
    except Exception:  # noqa: BLE001 - the stream was read already; hash the parsed data
        body = json.dumps(request.data, sort_keys=True, default=str).encode()
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def claim(request: Request) -> IdempotentRequest | None:
    """Claim the request's key for this request, or raise Replay / IdempotencyKeyReused.

    None when the request carries no key (or is not a POST).
    """
    key = request.META.get(HEADER, "").strip()
    if request.method != "POST" or not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError(
            {"Idempotency-Key": [f"Use at most {MAX_KEY_LENGTH} characters."]}
        )
    organization = request.organization
    credential = credential_of(request)
    fingerprint = request_hash(request)
    _prune(organization)
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                organization=organization,
                key=key,
                credential=credential,
                request_hash=fingerprint,
            )
    except IntegrityError:
        pass
    earlier = IdempotentRequest.objects.filter(key=key).first()
    if (
        earlier is None
        or earlier.credential != credential
        or earlier.request_hash != fingerprint
        or earlier.status_code is None
    ):
        raise IdempotencyKeyReused()
    response = Response(earlier.response_body, status=earlier.status_code)
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def store(claimed: IdempotentRequest, response: Response) -> None:
    """Keep a successful answer for retries (errors roll the claim back instead)."""
    if not 200 <= response.status_code < 300:
        return
    response.render()
    claimed.status_code = response.status_code
    claimed.response_body = json.loads(response.content) if response.content else None
    claimed.save(update_fields=["status_code", "response_body"])


def _prune(organization: Any) -> None:
    """Forget the organization's keys older than the TTL (an indexed range delete)."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotentRequest.objects.filter(organization=organization, created_at__lt=cutoff).delete()
