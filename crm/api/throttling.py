"""Rate limit per API key (or per signed-in user and organization): settings.API_RATE_LIMIT.

Counted in the Redis cache by DRF's throttle; over the limit the answer is 429 with a
Retry-After header (see crm.api.errors).
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from crm.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api"
    cache_format = "api-throttle:%(scope)s:%(ident)s"

    def get_rate(self) -> str | None:
        # Read at request time, so the setting can change without re-importing this module.
        return str(settings.API_RATE_LIMIT) if settings.API_RATE_LIMIT else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            organization = getattr(request, "organization", None)
            ident = f"user-{request.user.pk}-org-{organization.pk if organization else 0}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
