"""API routes of customers; crm/api/urls.py merges `router` and mounts `urlpatterns`."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from customers.api import bulk, views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("companies", views.CompanyViewSet, basename="company")
router.register("consents", views.ConsentEventViewSet, basename="consent")
router.register("custom-fields", views.CustomFieldDefinitionViewSet, basename="custom-field")

# Extra paths (e.g. bulk endpoints), mounted before the router's routes.
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "customers/bulk", bulk.CustomerBulkViewSet.as_view({"post": "create"}), name="customer-bulk"
    ),
]
