"""API input and output of customers, companies, consent and custom field definitions.

Writes go through customers.services, which validate (ValidationError naming the field, shown
as 400 by crm.api.errors) and write the audit trail.
"""

from typing import Any

from rest_framework import serializers

from crm.api.serializers import (
    MemberField,
    StrictCharField,
    TenantPrimaryKeyRelatedField,
    TenantSerializerMixin,
)
from customers import services
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition

# The service's writable fields, with the id and the timestamps.
CUSTOMER_OUTPUT_FIELDS = [
    "id",
    "kind",
    "name",
    *sorted(services.CUSTOMER_FIELDS - {"kind", "name"}),
    "created_at",
    "updated_at",
]


class CustomerSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A person or a company. `custom_fields` is an object of key: value; a PATCH merges it into
    the stored values (null removes a key), a PUT replaces it."""

    company = TenantPrimaryKeyRelatedField(
        queryset=Customer.all_tenants.all(),
        required=False,
        allow_null=True,
        help_text="Id of the company (a customer of kind company) this person belongs to.",
    )
    owner = MemberField(
        required=False, allow_null=True, help_text="Id of the member who owns the customer."
    )
    emails = serializers.ListField(child=StrictCharField(max_length=254), required=False)
    phones = serializers.ListField(child=StrictCharField(max_length=40), required=False)
    tags = serializers.ListField(child=StrictCharField(max_length=50), required=False)
    custom_fields = serializers.DictField(
        child=serializers.JSONField(allow_null=True), required=False
    )

    class Meta:
        model = Customer
        fields = CUSTOMER_OUTPUT_FIELDS
        read_only_fields = ["id", "created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Customer:
        return services.customer_create(
            organization=self.organization, actor=self.actor, **validated_data
        )

    def update(self, instance: Customer, validated_data: dict[str, Any]) -> Customer:
        if self.partial and "custom_fields" in validated_data:
            merged = {**instance.custom_fields, **validated_data["custom_fields"]}
            validated_data["custom_fields"] = {k: v for k, v in merged.items() if v is not None}
        return services.customer_update(
            customer=instance, organization=self.organization, actor=self.actor, **validated_data
        )


class CompanySerializer(CustomerSerializer):
    """A company account: a customer of kind company (people point to it with `company`)."""

    people_count = serializers.IntegerField(read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [name for name in CUSTOMER_OUTPUT_FIELDS if name != "company"] + ["people_count"]
        read_only_fields = ["id", "kind", "created_at", "updated_at", "people_count"]

    def create(self, validated_data: dict[str, Any]) -> Customer:
        return super().create({**validated_data, "kind": Customer.Kind.COMPANY})


class ConsentEventSerializer(serializers.ModelSerializer):
    """One consent change (the latest per channel is the customer's current consent)."""

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "customer",
            "channel",
            "granted",
            "method",
            "note",
            "occurred_at",
            "recorded_by",
        ]
        read_only_fields = fields


class CurrentConsentSerializer(serializers.Serializer):
    """Whether the customer may be contacted on a channel now (null: never asked)."""

    channel = serializers.ChoiceField(choices=Channel.choices)
    granted = serializers.BooleanField(allow_null=True)
    method = serializers.CharField(allow_null=True)
    occurred_at = serializers.DateTimeField(allow_null=True)


class CustomFieldDefinitionSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A field every customer can carry (values live in the customer's `custom_fields`)."""

    key = StrictCharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Stored name, e.g. loyalty_number (made from the label when left out); "
        "it cannot change later.",
    )
    choices = serializers.ListField(
        child=StrictCharField(max_length=100), required=False, allow_empty=True
    )

    class Meta:
        model = CustomFieldDefinition
        fields = ["id", "key", "label", "field_type", "choices", "required", "position"]
        read_only_fields = ["id"]
        extra_kwargs = {"position": {"required": False}}

    def create(self, validated_data: dict[str, Any]) -> CustomFieldDefinition:
        return services.custom_field_definition_create(
            organization=self.organization, actor=self.actor, **validated_data
        )

    def update(
        self, instance: CustomFieldDefinition, validated_data: dict[str, Any]
    ) -> CustomFieldDefinition:
        return services.custom_field_definition_update(
            definition=instance, organization=self.organization, actor=self.actor, **validated_data
        )
