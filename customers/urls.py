"""Customer pages, under /<org_slug>/customers/ (TenantMiddleware pops the org_slug)."""

from django.urls import path

from customers import import_views, views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export.csv", views.customer_export, name="export"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("imports/", import_views.import_list, name="imports"),
    path("imports/new/", import_views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/preview/", import_views.import_preview, name="import_preview"),
    path("imports/<int:pk>/start/", import_views.import_start, name="import_start"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
    path("fields/", views.custom_field_list, name="fields"),
    path("fields/<int:pk>/edit/", views.custom_field_edit, name="field_edit"),
    path("fields/<int:pk>/delete/", views.custom_field_delete, name="field_delete"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_delete, name="delete"),
    path("<int:pk>/consent/", views.customer_consent, name="consent"),
    path("<int:pk>/merge/<int:other_pk>/", views.customer_merge, name="merge"),
]
