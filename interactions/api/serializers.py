"""API input and output of interactions, purchase lines, products, cases and tasks.

Writes go through interactions.services (validation, audit trail, timeline entries); fields the
services do not change after creation are refused on update, naming the field.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

from crm.api.serializers import MemberField, TenantPrimaryKeyRelatedField, TenantSerializerMixin
from customers.models import Customer
from interactions import services
from interactions.models import Case, Interaction, Kind, Product, PurchaseLine, Task


def refuse_changes(
    instance: Any, validated_data: dict[str, Any], allowed: set[str], why: str
) -> None:
    """A ValidationError naming every field an update would change but may not."""
    missing = object()
    refused = sorted(
        name
        for name, value in validated_data.items()
        if name not in allowed and getattr(instance, name, missing) != value
    )
    if refused:
        raise ValidationError(dict.fromkeys(refused, why))


def refuse_given(data: dict[str, Any], names: tuple[str, ...], why: str) -> None:
    """A ValidationError naming each of `names` given a value in `data`."""
    given = [name for name in names if data.get(name) not in (None, "")]
    if given:
        raise ValidationError(dict.fromkeys(given, why))


def given(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The entries of `data` named in `names` (what an update passes to an edit service)."""
    return {name: data[name] for name in names if name in data}


class PurchaseLineSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A product bought (on a purchase), or a purchase line given back (on a return)."""

    product = TenantPrimaryKeyRelatedField(
        queryset=Product.all_tenants.all(),
        required=False,
        help_text="The product bought (purchases).",
    )
    returned_line = TenantPrimaryKeyRelatedField(
        queryset=PurchaseLine.all_tenants.all(),
        required=False,
        allow_null=True,
        help_text="The purchase line given back (returns).",
    )
    quantity = serializers.IntegerField(min_value=1, default=1)
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Defaults to the product's price.",
    )

    class Meta:
        model = PurchaseLine
        fields = ["id", "interaction", "product", "quantity", "unit_price", "returned_line"]
        read_only_fields = ["id", "interaction"]


class InteractionLineSerializer(PurchaseLineSerializer):
    class Meta(PurchaseLineSerializer.Meta):
        fields = ["id", "product", "quantity", "unit_price", "returned_line"]
        read_only_fields = ["id"]


class InteractionSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A touchpoint on any channel. Events from other systems carry `source` and `external_id`:
    the same pair sent again returns the stored interaction (200) and writes nothing.

    A purchase may list `lines` ({product, quantity, unit_price}); its amount is their sum. A
    return may list `lines` ({returned_line, quantity}) giving back purchased lines.
    """

    customer = TenantPrimaryKeyRelatedField(queryset=Customer.all_tenants.all())
    case = TenantPrimaryKeyRelatedField(
        queryset=Case.all_tenants.all(), required=False, allow_null=True
    )
    lines = InteractionLineSerializer(many=True, required=False)
    metadata = serializers.DictField(required=False)

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "kind",
            "channel",
            "direction",
            "occurred_at",
            "user",
            "source",
            "external_id",
            "subject",
            "body",
            "amount",
            "currency",
            "metadata",
            "case",
            "lines",
            "created_at",
        ]
        read_only_fields = ["id", "user", "created_at"]
        extra_kwargs = {
            "channel": {"required": False, "help_text": "Defaults to the kind's usual channel."},
            "occurred_at": {"required": False, "help_text": "Defaults to now."},
        }

    # True when the create found the event already stored (same source and external_id).
    replayed = False

    def create(self, validated_data: dict[str, Any]) -> Interaction:
        started = timezone.now()
        interaction = self._record(validated_data)
        self.replayed = interaction.created_at < started
        return interaction

    def _record(self, validated_data: dict[str, Any]) -> Interaction:
        lines = validated_data.pop("lines", None) or []
        common: dict[str, Any] = {"organization": self.organization, "actor": self.actor}
        kind = validated_data["kind"]
        if lines and kind == Kind.PURCHASE:
            return services.purchase_record(
                **common, **self._purchase_fields(validated_data), lines=self._bought(lines)
            )
        if lines and kind == Kind.RETURN:
            return services.return_record(
                **common, **self._return_fields(validated_data), lines=self._given_back(lines)
            )
        if lines:
            raise ValidationError({"lines": "Only purchases and returns have lines."})
        return services.interaction_log(**common, **validated_data)

    @staticmethod
    def _purchase_fields(data: dict[str, Any]) -> dict[str, Any]:
        refuse_given(
            data,
            ("amount", "case"),
            "A purchase with lines takes its amount from the lines and has no case.",
        )
        data.pop("kind")
        data.pop("amount", None)
        data.pop("case", None)
        return data

    @staticmethod
    def _return_fields(data: dict[str, Any]) -> dict[str, Any]:
        refuse_given(
            data,
            ("amount", "case", "subject", "currency"),
            "A return with lines takes this from the purchase it gives back.",
        )
        kept = {"customer", "channel", "occurred_at", "metadata", "source", "external_id"}
        fields = {k: v for k, v in data.items() if k in kept}
        if data.get("body"):
            fields["reason"] = data["body"]
        return fields

    @staticmethod
    def _require(lines: list[dict[str, Any]], field: str, message: str) -> None:
        errors = {
            f"lines.{number}.{field}": message
            for number, line in enumerate(lines)
            if line.get(field) is None
        }
        if errors:
            raise ValidationError(errors)

    def _bought(self, lines: list[dict[str, Any]]) -> list[services.PurchaseLineInput]:
        self._require(lines, "product", "Choose the product bought.")
        return [
            services.PurchaseLineInput(
                product=line["product"],
                quantity=line.get("quantity", 1),
                unit_price=line.get("unit_price"),
            )
            for line in lines
        ]

    def _given_back(self, lines: list[dict[str, Any]]) -> list[services.ReturnLineInput]:
        self._require(lines, "returned_line", "Choose the purchase line given back.")
        return [
            services.ReturnLineInput(
                purchase_line=line["returned_line"], quantity=line.get("quantity", 1)
            )
            for line in lines
        ]


class ProductSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """An item of the catalog; deactivate (`active: false`) rather than delete."""

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "price", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def create(self, validated_data: dict[str, Any]) -> Product:
        return services.product_create(
            organization=self.organization, actor=self.actor, **validated_data
        )

    def update(self, instance: Product, validated_data: dict[str, Any]) -> Product:
        return services.product_update(
            organization=self.organization, actor=self.actor, product=instance, **validated_data
        )


class CaseSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A service case. After opening, `subject`, `description`, `priority`, `status` and
    `assignee` change; the customer stays. Status, assignee and priority changes are noted on the
    customer's timeline; a new priority moves the due time of an open case."""

    customer = TenantPrimaryKeyRelatedField(queryset=Customer.all_tenants.all())
    assignee = MemberField(required=False, allow_null=True)
    interaction = TenantPrimaryKeyRelatedField(
        queryset=Interaction.all_tenants.all(),
        required=False,
        allow_null=True,
        write_only=True,
        help_text="The interaction (e.g. a complaint) that prompted the case.",
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "customer",
            "subject",
            "description",
            "status",
            "priority",
            "assignee",
            "opened_by",
            "due_at",
            "created_at",
            "updated_at",
            "resolved_at",
            "interaction",
        ]
        read_only_fields = [
            "id",
            "number",
            "opened_by",
            "due_at",
            "created_at",
            "updated_at",
            "resolved_at",
        ]

    def create(self, validated_data: dict[str, Any]) -> Case:
        status = validated_data.pop("status", None)
        case = services.case_open(
            organization=self.organization, actor=self.actor, **validated_data
        )
        if status is not None and status != case.status:
            case = services.case_change_status(
                organization=self.organization, actor=self.actor, case=case, status=status
            )
        return case

    def update(self, instance: Case, validated_data: dict[str, Any]) -> Case:
        if validated_data.get("interaction", 0) is None:
            validated_data.pop("interaction")
        refuse_changes(
            instance,
            validated_data,
            {"status", "assignee", *services.CASE_EDITABLE_FIELDS},
            "A case stays with the customer (and the interaction) it was opened for.",
        )
        case = instance
        if "assignee" in validated_data:
            case = services.case_assign(
                organization=self.organization,
                actor=self.actor,
                case=case,
                assignee=validated_data["assignee"],
            )
        if "status" in validated_data:
            case = services.case_change_status(
                organization=self.organization,
                actor=self.actor,
                case=case,
                status=validated_data["status"],
            )
        edits = given(validated_data, services.CASE_EDITABLE_FIELDS)
        if edits:
            # After the status, so a case reopened in the same request gets a new due time.
            case = services.case_update(
                organization=self.organization, actor=self.actor, case=case, **edits
            )
        return case


class CaseAssignSerializer(serializers.Serializer):
    assignee = MemberField(allow_null=True, help_text="The member to give it to (null: nobody).")


class CaseStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case.Status.choices)


class TaskSerializer(TenantSerializerMixin, serializers.ModelSerializer):
    """A follow-up for a customer. After creation, `title`, `due_date`, `assignee` and `done`
    change; the customer and the interaction it came from stay."""

    customer = TenantPrimaryKeyRelatedField(queryset=Customer.all_tenants.all())
    assignee = MemberField(required=False, allow_null=True)
    interaction = TenantPrimaryKeyRelatedField(
        queryset=Interaction.all_tenants.all(), required=False, allow_null=True
    )
    done = serializers.BooleanField(source="is_done", required=False)

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "customer",
            "assignee",
            "due_date",
            "interaction",
            "done",
            "done_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "done_at", "created_by", "created_at"]

    def create(self, validated_data: dict[str, Any]) -> Task:
        done = validated_data.pop("is_done", False)
        task = services.task_create(
            organization=self.organization, actor=self.actor, **validated_data
        )
        return self._set_done(task, done)

    def update(self, instance: Task, validated_data: dict[str, Any]) -> Task:
        done = validated_data.pop("is_done", None)
        refuse_changes(
            instance,
            validated_data,
            set(services.TASK_EDITABLE_FIELDS),
            "A task stays with the customer (and the interaction) it was created for.",
        )
        task = instance
        edits = given(validated_data, services.TASK_EDITABLE_FIELDS)
        if edits:
            task = services.task_update(
                organization=self.organization, actor=self.actor, task=task, **edits
            )
        return task if done is None else self._set_done(task, done)

    def _set_done(self, task: Task, done: bool) -> Task:
        if done == task.is_done:
            return task
        change = services.task_complete if done else services.task_reopen
        return change(organization=self.organization, actor=self.actor, task=task)
