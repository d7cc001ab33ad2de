"""Serializer helpers shared by the apps' API serializers.

Related objects named in a request body are looked up in the caller's organization only: an id
of another organization's row is "does not exist" (400 naming the field), never data.
Serializers validate input and call the apps' services; they hold no business rules.
"""

from typing import Any

from django.db import models
from rest_framework import serializers

from crm.models import Organization, User


class StrictCharField(serializers.CharField):
    """Text only. DRF's CharField also takes a number (as its text); the schema says string,
    so a number is refused like any other wrong type."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class TenantSerializerMixin:
    """`self.organization` and `self.actor` from the request in the serializer's context; model
    text fields become StrictCharFields."""

    context: dict[str, Any]
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    @property
    def organization(self) -> Organization:
        return self.context["request"].organization

    @property
    def actor(self) -> User | None:
        user = self.context["request"].user
        return user if user is not None and user.is_authenticated else None


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related row of the caller's organization, by id (pass `queryset=Model.all_tenants`)."""

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        request = self.context.get("request")
        organization = getattr(request, "organization", None)
        if organization is None:
            return queryset.none()
        return queryset.filter(organization=organization)


class MemberField(serializers.PrimaryKeyRelatedField):
    """A user who is an active member of the caller's organization, by id."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", User.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        organization = getattr(request, "organization", None)
        if organization is None:
            return User.objects.none()
        return User.objects.filter(
            memberships__organization=organization,
            memberships__is_active=True,
            is_active=True,
        )
