"""Customer pages, under /<org_slug>/customers/ (TenantMiddleware pops the org_slug)."""

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("fields/", views.custom_field_list, name="fields"),
    path("fields/<int:pk>/edit/", views.custom_field_edit, name="field_edit"),
    path("fields/<int:pk>/delete/", views.custom_field_delete, name="field_delete"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_delete, name="delete"),
    path("<int:pk>/consent/", views.customer_consent, name="consent"),
]
