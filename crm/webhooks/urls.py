"""Webhook settings pages, under /<org_slug>/settings/webhooks/."""

from django.urls import path

from crm.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<int:pk>/", views.endpoint_detail, name="detail"),
    path("<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<int:pk>/active/", views.endpoint_set_active, name="set_active"),
    path("<int:pk>/secret/", views.endpoint_secret, name="secret"),
    path("<int:pk>/rotate/", views.endpoint_rotate_secret, name="rotate"),
    path("<int:pk>/test/", views.endpoint_test, name="test"),
    path("<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path(
        "<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        views.delivery_redeliver,
        name="redeliver",
    ),
]
