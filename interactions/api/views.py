"""API endpoints of interactions: touchpoints, purchase lines, products, cases and tasks."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.viewsets import TenantGenericViewSet, TenantModelViewSet, TenantReadOnlyModelViewSet
from interactions import services
from interactions.api.serializers import (
    CaseAssignSerializer,
    CaseSerializer,
    CaseStatusSerializer,
    InteractionSerializer,
    ProductSerializer,
    PurchaseLineSerializer,
    TaskSerializer,
)
from interactions.filters import (
    CaseFilterSet,
    InteractionFilterSet,
    ProductFilterSet,
    PurchaseLineFilterSet,
    TaskFilterSet,
)
from interactions.models import Case, Interaction, Product, PurchaseLine, Task

NO_DELETE = ["get", "post", "put", "patch", "head", "options"]


class InteractionViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """Touchpoints on every channel, newest first. Created through the same service as the
    pages (validation, audit); an event sent again (same source and external_id) answers 200
    with the stored interaction and writes nothing."""

    queryset = Interaction.all_tenants.all()
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilterSet
    permission_resource = "interactions"
    permission_map = {"create": "interactions.log"}
    ordering = ("-occurred_at",)
    ordering_fields = ("occurred_at", "created_at", "id")
    updated_since_field = "created_at"

    def base_queryset(self) -> Any:
        return super().base_queryset().prefetch_related("lines")

    @extend_schema(responses={200: InteractionSerializer, 201: InteractionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        code = status.HTTP_200_OK if serializer.replayed else status.HTTP_201_CREATED
        return Response(serializer.data, status=code)


class PurchaseLineViewSet(TenantReadOnlyModelViewSet):
    """Products on purchases and returns; filter by interaction, product or customer."""

    queryset = PurchaseLine.all_tenants.all()
    serializer_class = PurchaseLineSerializer
    filterset_class = PurchaseLineFilterSet
    permission_resource = "interactions"
    ordering = ("id",)
    ordering_fields = ("id",)
    updated_since_field = None


class ProductViewSet(TenantModelViewSet):
    """The product catalog; leads manage it. Deactivate products instead of deleting them."""

    queryset = Product.all_tenants.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    permission_resource = "products"
    permission_map = {
        "create": "products.manage",
        "update": "products.manage",
        "partial_update": "products.manage",
    }
    http_method_names = NO_DELETE
    ordering = ("id",)
    ordering_fields = ("id", "name", "sku", "created_at")
    updated_since_field = None


class CaseViewSet(TenantModelViewSet):
    """Service cases. PATCH edits the subject, description and priority, and (like the assign
    and status actions) the assignee and the status; every change is audited, and assignee,
    status and priority changes are noted on the customer's timeline. Cases are never deleted:
    close them."""

    queryset = Case.all_tenants.all()
    serializer_class = CaseSerializer
    filterset_class = CaseFilterSet
    permission_resource = "cases"
    http_method_names = NO_DELETE
    ordering = ("-id",)
    ordering_fields = ("id", "number", "created_at", "updated_at", "due_at")

    @extend_schema(request=CaseAssignSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: Any = None) -> Response:
        """Give the case to a member, or to nobody (`assignee: null`)."""
        case = self.get_object()
        payload = CaseAssignSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        case = services.case_assign(
            organization=self.organization,
            actor=request.user,
            case=case,
            assignee=payload.validated_data["assignee"],
        )
        return Response(self.get_serializer(case).data)

    @extend_schema(request=CaseStatusSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request: Request, pk: Any = None) -> Response:
        """Move the case to another status (resolving records when; reopening clears it)."""
        case = self.get_object()
        payload = CaseStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = services.case_change_status(
            organization=self.organization,
            actor=request.user,
            case=case,
            status=payload.validated_data["status"],
        )
        return Response(self.get_serializer(case).data)


class TaskViewSet(TenantModelViewSet):
    """Follow-up tasks. PATCH edits the title, due date and assignee; mark them done with the
    complete action (or PATCH `done`). DELETE: owners, admins and managers delete any task, other
    staff only tasks assigned to or created by them (403 otherwise)."""

    queryset = Task.all_tenants.all()
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    permission_resource = "tasks"
    ordering = ("-id",)
    ordering_fields = ("id", "created_at")
    updated_since_field = None

    def perform_destroy(self, instance: Task) -> None:
        services.task_delete(organization=self.organization, actor=self.request.user, task=instance)

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        """Mark the task done (doing it twice keeps the first time)."""
        task = services.task_complete(
            organization=self.organization, actor=request.user, task=self.get_object()
        )
        return Response(self.get_serializer(task).data)

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: Any = None) -> Response:
        """Mark the task not done."""
        task = services.task_reopen(
            organization=self.organization, actor=request.user, task=self.get_object()
        )
        return Response(self.get_serializer(task).data)
