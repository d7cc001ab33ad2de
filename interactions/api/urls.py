"""API routes of interactions; crm/api/urls.py merges `router` and mounts `urlpatterns`."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from interactions.api import bulk, views

router = SimpleRouter()
router.register("interactions", views.InteractionViewSet, basename="interaction")
router.register("purchase-lines", views.PurchaseLineViewSet, basename="purchase-line")
router.register("products", views.ProductViewSet, basename="product")
router.register("cases", views.CaseViewSet, basename="case")
router.register("tasks", views.TaskViewSet, basename="task")

# Extra paths (e.g. bulk endpoints), mounted before the router's routes.
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "interactions/bulk",
        bulk.InteractionBulkViewSet.as_view({"post": "create"}),
        name="interaction-bulk",
    ),
]
