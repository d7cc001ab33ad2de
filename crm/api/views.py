"""API endpoints of the tenancy app: the organization's members (read-only) and the docs."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from crm.api.errors import error_body
from crm.api.viewsets import TenantReadOnlyModelViewSet
from crm.models import Membership


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "email", "full_name", "role", "is_active", "created_at"]
        read_only_fields = fields


class MemberViewSet(TenantReadOnlyModelViewSet):
    """Members of the organization and their roles: the users tasks and cases go to."""

    queryset = Membership.all_tenants.all()
    serializer_class = MemberSerializer
    permission_resource = "members"
    ordering = ("id",)
    ordering_fields = ("id", "created_at")
    filterset_fields = ("role", "is_active")

    def base_queryset(self) -> Any:
        return super().base_queryset().select_related("user")


class _PublicDocsMixin:
    """The schema and its viewers describe the API, not an organization's data: open to all."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class SchemaView(_PublicDocsMixin, SpectacularAPIView):
    pass


class SwaggerView(_PublicDocsMixin, SpectacularSwaggerView):
    pass


class RedocView(_PublicDocsMixin, SpectacularRedocView):
    template_name = "crm/api_redoc.html"


@csrf_exempt  # it changes nothing, and must answer JSON to any method (not the CSRF page)
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other URL under /api/v1/: 404 in the API's error shape (not Django's HTML page)."""
    return JsonResponse(
        error_body("not_found", "No such endpoint; see /api/v1/schema/."), status=404
    )
